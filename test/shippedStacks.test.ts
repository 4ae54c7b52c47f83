import { afterEach, describe, expect, it, vi } from "vitest";
import {
  PROJECT_ROOT,
  STACK_DIR_ENV,
  knownStacks,
  loadStackSettings,
} from "../infra/config/stackFiles";
import { runProgramOffline } from "../infra/offlineRun";
import { RESOURCE_TYPES } from "../infra/resourceTypes";
import { routePattern } from "../infra/worker";
import { lineScriptName } from "../worker/src/line/contract";

/**
 * The project's own Pulumi.<stack>.yaml files: the examples it ships, which a user rewrites for
 * their domain (README.md, "Make it yours") and adds to. Every other test reads its own fixtures
 * (test/fixtures/stacks); this one reads the project's files, whatever their values and their set,
 * and asks only that each is a stack the program accepts.
 */
const shipped = knownStacks(PROJECT_ROOT).sort();

afterEach(() => vi.unstubAllEnvs());

describe("the project's own stack files (examples for a user to change)", () => {
  it("holds at least one Pulumi.<stack>.yaml beside Pulumi.yaml", () => {
    expect(shipped.length).toBeGreaterThan(0);
  });

  it.each(shipped)("Pulumi.%s.yaml passes the stack schema, no secret in plaintext", (stack) => {
    expect(() => loadStackSettings(stack, PROJECT_ROOT)).not.toThrow();
  });

  it.each(shipped)(
    "Pulumi.%s.yaml: the program declares its Worker and route offline, as npm run plan runs it",
    async (stack) => {
      const settings = loadStackSettings(stack, PROJECT_ROOT);
      // The program reads its stack file, and the others for zone ownership, from the project here.
      vi.stubEnv(STACK_DIR_ENV, PROJECT_ROOT);
      const run = await runProgramOffline(stack);
      const of = (type: string) => run.resources.filter((r) => r.type === type);
      // With the waiting line on, the coordinator's own script beside the edge Worker.
      expect(
        of(RESOURCE_TYPES.script)
          .map((r) => r.inputs.scriptName)
          .sort(),
      ).toEqual(
        [
          settings.workerName,
          ...(settings.line.enabled ? [lineScriptName(settings.workerName)] : []),
        ].sort(),
      );
      expect(of(RESOURCE_TYPES.route).map((r) => r.inputs.pattern)).toEqual([
        routePattern(settings.publicHostname),
      ]);
    },
    60_000,
  );
});

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadStackSettings } from "../infra/config/stackFiles";
import { runProgramOffline, Secret, type ProgramRun } from "../infra/offlineRun";
import { oneResource as one, RESOURCE_TYPES as T } from "../infra/resourceTypes";
import { bindingsOf, type WorkerBinding } from "../infra/test/programRun";
import { LINE_BINDINGS } from "../worker/src/line/contract";
import { localEdgeBindings, localLineBindings } from "./lib/localBindings";

/**
 * The line script `npm run dev` runs gets what the Pulumi program uploads: the same `LINE_CONFIG`
 * and the same binding of the edge to the coordinator, read from one offline run of the program
 * with the line on; only the bridges are the local ones.
 */
const LINE = { enabled: true, holdSeconds: 20, maxWaiting: 50, rejoinGraceSeconds: 10 };
const code = "export class FleetLine {}\nexport default {};\n";
const lineBundle = {
  code,
  sizeBytes: code.length,
  sha256: createHash("sha256").update(code).digest("hex"),
  path: "test-line.mjs",
};

const scriptBindings = (run: ProgramRun, name: string) =>
  Object.fromEntries(
    ((one(run, T.script, name).inputs.bindings as Secret).value as WorkerBinding[]).map(
      (binding) => [binding.name, binding],
    ),
  );

describe("the local line script's bindings", () => {
  it("are the program's LINE_CONFIG and edge binding, with the local fleet and each guard's /health", async () => {
    const run = await runProgramOffline("staging", {
      lineBundle,
      override: { "voice-edge:line": LINE },
    });
    const config = loadStackSettings("staging");
    const settings = { ...config, line: { ...config.line, ...LINE } };
    const edge = localEdgeBindings(settings, {
      bridges: {
        fleet: [
          { name: "bridge-1", url: "http://127.0.0.1:9001/api/chat" },
          { name: "bridge-2", url: "http://127.0.0.1:9002/api/chat" },
        ],
      },
      port: 8787,
      devSecret: "local-dev-secret-0123456789-abcdefghij",
    });
    const local = await localLineBindings(settings, edge);

    const deployed = scriptBindings(run, "voice-edge-line");
    expect(local.bindings[LINE_BINDINGS.settings]).toEqual(
      JSON.parse(deployed[LINE_BINDINGS.settings].json!),
    );
    expect(local.bindings[LINE_BINDINGS.settings]).toMatchObject({
      holdSeconds: 20,
      maxWaiting: 50,
    });
    expect(one(run, T.script, "voice-edge-line").inputs.scriptName).toBe(local.scriptName);

    const coordinator = bindingsOf(run).find(
      (binding) => binding.name === LINE_BINDINGS.coordinator,
    );
    expect(coordinator).toEqual({
      type: "durable_object_namespace",
      name: local.coordinator.name,
      className: local.coordinator.className,
      scriptName: local.coordinator.scriptName,
    });
    expect(one(run, T.script, "voice-edge-line").inputs.migrations).toMatchObject({
      steps: [{ newSqliteClasses: [local.coordinator.className] }],
    });
    expect(local.coordinator.useSQLite).toBe(true);

    expect(local.bindings.BRIDGES).toEqual([
      {
        name: "bridge-1",
        url: "http://127.0.0.1:9001/api/chat",
        healthUrl: "http://127.0.0.1:9001/health",
      },
      {
        name: "bridge-2",
        url: "http://127.0.0.1:9002/api/chat",
        healthUrl: "http://127.0.0.1:9002/health",
      },
    ]);
  });
});

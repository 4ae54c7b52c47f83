import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { StackConfigError } from "../infra/config/errors";
import { STACK_DIR_ENV } from "../infra/config/stackFiles";
import { freePort } from "../test/support/freePort";
import { runInProcess } from "../test/support/runInProcess";

/** A stack file with a quote never closed on line 3 (yaml notices it where the file ends). */
const BROKEN = [
  "config:",
  "  voice-edge:accountId: 00000000000000000000000000000000",
  '  voice-edge:workerName: "voice-edge-broken',
  "  voice-edge:publicHostname: voice.mycosoft.com",
  "",
].join("\n");

const LINE =
  'Invalid configuration for stack "broken" (Pulumi.broken.yaml): line 3: Missing closing "quote (in voice-edge:workerName)';

let stackDir: string;
beforeAll(() => {
  stackDir = mkdtempSync(join(tmpdir(), "voice-edge-stacks-"));
  writeFileSync(join(stackDir, "Pulumi.broken.yaml"), BROKEN);
});
afterAll(() => rmSync(stackDir, { recursive: true, force: true }));

describe("a stack file with a YAML syntax error", () => {
  it.each([
    ["plan", ["--stack", "broken"]],
    ["preflight", ["--stack", "broken"]],
    ["token", ["--stack", "broken"]],
    ["guard", ["--print-config", "--stack", "broken"]],
    ["policy-config", ["--stack", "broken"]],
    ["dev", ["--stack", "broken", "--port", "PORT"]],
  ])(
    "npm run %s names the file and the line of the mistake, in one line, exit 2",
    async (script, args) => {
      const port = String(await freePort());
      const run = await runInProcess(
        script,
        args.map((arg) => (arg === "PORT" ? port : arg)),
        { env: { [STACK_DIR_ENV]: stackDir, CLOUDFLARE_API_TOKEN: "" } },
      );
      expect(run.stderr.trim()).toBe(`${script}: ${LINE}`);
      expect(run.code).toBe(2);
    },
    60_000,
  );
});

describe("npm run dev on a stack file with a YAML syntax error", () => {
  it("ends its run before it sets a signal handler (or watches its launcher)", async () => {
    const { run } = await import("./dev");
    const before = process.listenerCount("SIGTERM");
    vi.stubEnv(STACK_DIR_ENV, stackDir);
    try {
      await expect(
        run(["--stack", "broken", "--port", String(await freePort())]),
      ).rejects.toBeInstanceOf(StackConfigError);
      expect(process.listenerCount("SIGTERM")).toBe(before);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

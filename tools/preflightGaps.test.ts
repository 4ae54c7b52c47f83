import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STACK_DIR_ENV, stackDirectory } from "../infra/config/stackFiles";
import { runInProcess } from "../test/support/runInProcess";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "voice-edge-preflight-gaps-"));
  copyFileSync(join(stackDirectory(), "Pulumi.staging.yaml"), join(dir, "Pulumi.solo.yaml"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run preflight on a stack that leaves its zone undeclared", () => {
  it("warns that no stack file owns the zone, before any request and whatever else it finds", async () => {
    const run = await runInProcess("preflight", ["--stack", "solo"], {
      env: { [STACK_DIR_ENV]: dir, CLOUDFLARE_API_TOKEN: "" },
    });
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toBe(
      "warning  stack: no stack file here owns zone mycosoft.com (voice-edge:zone.owner: true): this stack declares neither its zone settings (WebSockets, SSL/TLS Full (strict), Always Use HTTPS) nor its rate limit → set voice-edge:zone.owner: true in Pulumi.solo.yaml (or in the one stack that should own the zone); leave it if the zone is managed elsewhere",
    );
    // The placeholder IDs and the missing token are still problems of their own.
    expect(lines.slice(1).some((line) => line.startsWith("problem  ids:"))).toBe(true);
    expect(run.code).toBe(1);
  }, 60_000);
});

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runInProcess } from "../test/support/runInProcess";
import { KIT_BUNDLE_PATH } from "../worker/build";

describe("npm run build", () => {
  it("builds the Worker and the client kit with its declarations, and prints each size", async () => {
    const run = await runInProcess("build", []);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^worker bundle .*dist\/worker\.mjs: [\d.]+ KiB \(\d+ bytes\)/m);
    expect(run.stdout).toMatch(
      /^client kit bundle .*dist\/kit\/voice\.mjs: [\d.]+ KiB \(\d+ bytes\)/m,
    );
    const declarations = readFileSync(KIT_BUNDLE_PATH.replace(/\.mjs$/, ".d.ts"), "utf8");
    expect(declarations).toContain(
      "export declare function connectVoice(options: ConnectVoiceOptions): VoiceConnection;",
    );
  });
});

import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "./freePort";
import { runInProcess } from "./runInProcess";

describe("a command run in this process", () => {
  it("ends as main ends it: the usage on stdout for --help, exit 0", async () => {
    const run = await runInProcess("token", ["--help"]);
    expect(run.stdout).toMatch(/^usage: npm run --silent token -- .*\n(?: .*\n)+.*\n$/);
    expect(run).toMatchObject({ code: 0, stderr: "" });
  });

  it("puts back the environment it changed for the run, and removes the signal handlers the command set", async () => {
    const [added, removed] = ["VOICE_EDGE_TEST_ADDED", "VOICE_EDGE_TEST_REMOVED"];
    process.env[removed] = "before";
    const before = Object.fromEntries(
      ["SIGINT", "SIGTERM", "disconnect"].map((event) => [event, process.listenerCount(event)]),
    );
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
    try {
      // tools/bridge.ts sets its handlers before it listens, and fails on the busy port.
      const run = await runInProcess("bridge", ["--port", String(port)], {
        env: { [added]: "set", [removed]: undefined },
      });
      expect(run.code).toBe(1);
    } finally {
      holder.close();
    }
    expect(process.env[added]).toBeUndefined();
    expect(process.env[removed]).toBe("before");
    delete process.env[removed];
    for (const [event, count] of Object.entries(before))
      expect(process.listenerCount(event), event).toBe(count);
  });

  it("takes turns: runs started together each get their own output", async () => {
    const [help, refused] = await Promise.all([
      runInProcess("token", ["--help"]),
      runInProcess("token", ["--ttl", "8d"]),
    ]);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe("");
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^token: --ttl "8d" is not a lifetime/);
  });
});

import { spawn } from "node:child_process";
import { appendFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { PERSONAPLEX_QUERY } from "../test/support/bridge";
import { devForTheseTests } from "../test/support/devProcess";
import { expectOpen, expectRefusedSession, type OpenSession } from "../test/support/edge";
import { copyOfFixtureStacks, stackDirEnv } from "../test/support/fixtureStacks";
import { lineClient } from "../test/support/lineClient";
import { runInProcess } from "../test/support/runInProcess";
import { PROJECT_ROOT, STACK_DIR_ENV, stackFileName } from "../infra/config/stackFiles";
import type { LineMessage } from "../worker/src/line/contract";

/**
 * `npm run dev -- --bridges 2` on a stack with the line on: the line script beside the edge in
 * workerd, two stand-ins behind two real guards, pages as `ws` clients each with its own subject.
 * The stack is a copy of the fixtures' staging with `voice-edge:line: {enabled: true}` added.
 */
const stackDir = copyOfFixtureStacks("voice-edge-dev-line-");
appendFileSync(join(stackDir, stackFileName("staging")), "  voice-edge:line:\n    enabled: true\n");
afterAll(() => rmSync(stackDir, { recursive: true, force: true }));

async function devToken(subject: string): Promise<string> {
  const run = await runInProcess("token", ["--sub", subject]);
  if (run.code !== 0) throw new Error(`token exited ${run.code}: ${run.stderr}`);
  return run.stdout.trim();
}

async function guardSessions(guardOrigin: string): Promise<number> {
  const response = await fetch(`${guardOrigin}/health`);
  return ((await response.json()) as { sessions: number }).sessions;
}

/** The guards dev lists at start: each `    <name>  <url>` line under `bridges`. */
function listedGuards(output: string): string[] {
  return [...output.matchAll(/^ {4}bridge-\d+ +(http:\/\/127\.0\.0\.1:\d+)\/api\/chat/gm)].map(
    ([, origin]) => origin,
  );
}

describe("npm run dev -- --bridges 2 on a stack with the line on", () => {
  const dev = devForTheseTests((port) => ({
    args: ["--port", String(port), "--bridges", "2"],
    env: { BRIDGE_URL: "", ...stackDirEnv(stackDir) },
  }));
  /** What dev printed after it was ready: the Worker's log lines. */
  let logs = "";
  beforeAll(() => {
    dev.process.stdout!.on("data", (chunk) => (logs += chunk));
  });

  const voiceUrl = () => `ws://127.0.0.1:${dev.port}/voice/ws?${PERSONAPLEX_QUERY}`;
  const lineUrl = () => `ws://127.0.0.1:${dev.port}/voice/line`;
  const protocols = async (subject: string, ticket?: string) => [
    "voice.v1",
    `bearer.${await devToken(subject)}`,
    ...(ticket ? [`ticket.${ticket}`] : []),
  ];
  const idle = async () => {
    for (const origin of listedGuards(dev.output))
      await expect.poll(() => guardSessions(origin), { timeout: 10_000, interval: 100 }).toBe(0);
  };

  /**
   * A visitor with the bridge's 0x00. A session that just ended is seen by the coordinator at its
   * next look at the guards: until then a newcomer is told 1013 (with `line`), and tries again.
   */
  async function served(subject: string): Promise<OpenSession> {
    for (let attempt = 1; ; attempt++) {
      const session = await expectOpen(voiceUrl(), { protocols: await protocols(subject) });
      const first = await Promise.race([
        session.closed.then((close) => ({ close })),
        session.next(10_000).then((frame) => ({ frame })),
      ]);
      if ("frame" in first) {
        expect([...first.frame.data]).toEqual([0x00]);
        return session;
      }
      expect(first.close.code).toBe(1013);
      if (attempt === 50) throw new Error(`${subject} was told busy 50 times`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function serveTwo(subjects: [string, string]): Promise<OpenSession[]> {
    return [await served(subjects[0]), await served(subjects[1])];
  }

  it("builds the line bundle, says the line is on and that the kit waits in it", () => {
    expect(dev.output).toMatch(/^line bundle .*dist\/line\.mjs: /m);
    expect(dev.output).toContain(
      `  line       on (voice-edge:line): the coordinator, script voice-edge-staging-line, beside the edge; with no bridge free a visitor gets 1013 {"line":true} and waits at ws://127.0.0.1:${dev.port}/voice/line`,
    );
    expect(dev.output).toMatch(
      /^ {2}in a page: .*connectVoice\(.*\(waits in line when every bridge is busy\)$/m,
    );
    expect(dev.output).toContain(
      `npm run --silent smoke -- --url ws://127.0.0.1:${dev.port}/voice/ws --token "$(npm run --silent token)"   # every bridge busy: add --wait to wait in line`,
    );
  });

  it("serves two through the coordinator, lines up the third at position 1, and gives it the bridge that frees", async () => {
    const from = logs.length;
    const sessions = await serveTwo(["visitor-1", "visitor-2"]);
    await expect.poll(() => logs.slice(from).match(/"line":"coordinator"/g)?.length ?? 0).toBe(2);

    const busy = await expectRefusedSession(voiceUrl(), {
      protocols: await protocols("visitor-3"),
    });
    expect(busy.code).toBe(1013);
    expect(busy.reason).toMatchObject({ error: "bridge_busy", line: true });

    const line = lineClient(lineUrl(), { protocols: await protocols("visitor-3") });
    await line.opened;
    expect(await line.next((message) => message.type === "position")).toMatchObject({
      type: "position",
      position: 1,
    });
    sessions[0].ws.close(1000);
    const turn = (await line.next((message) => message.type === "turn")) as Extract<
      LineMessage,
      { type: "turn" }
    >;
    expect(turn.expiresInS).toBeGreaterThan(0);
    const third = await expectOpen(voiceUrl(), {
      protocols: await protocols("visitor-3", turn.ticket),
    });
    expect([...(await third.next(10_000)).data]).toEqual([0x00]);
    // The turn taken, the coordinator closes the line socket: its close frame arrives (the runtime
    // leaves the TCP connection open after the close handshake, so `close` may never fire here).
    await expect.poll(() => line.ws.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
    await expect.poll(() => logs.slice(from).includes('"line":"ticket"')).toBe(true);

    line.ws.terminate();
    for (const session of [sessions[1], third]) session.ws.close(1000);
    await idle();
  });

  it("smoke reports a busy fleet's line position and fails as busy", async () => {
    const sessions = await serveTwo(["holder-1", "holder-2"]);
    try {
      const smoke = await runInProcess("smoke", [
        "--url",
        `ws://127.0.0.1:${dev.port}/voice/ws`,
        "--token",
        await devToken("smoker"),
      ]);
      expect(smoke.code).toBe(1);
      expect(smoke.stdout).toContain(
        `joining the waiting line at ws://127.0.0.1:${dev.port}/voice/line`,
      );
      expect(smoke.stdout).toMatch(/^line: position 1, /m);
      expect(smoke.stderr).toMatch(
        /^smoke: FAIL every bridge is busy: in line at position 1, .*; left the line \(--wait waits for the turn\)$/m,
      );
    } finally {
      for (const session of sessions) session.ws.close(1000);
    }
    await idle();
  });

  it("smoke --wait waits for its turn, prints each step and connects with the ticket", async () => {
    const sessions = await serveTwo(["holder-3", "holder-4"]);
    const child = spawn(
      "npm",
      [
        "run",
        "--silent",
        "smoke",
        "--",
        "--url",
        `ws://127.0.0.1:${dev.port}/voice/ws`,
        "--token",
        await devToken("waiter"),
        "--wait",
      ],
      {
        cwd: PROJECT_ROOT,
        env: { ...process.env, [STACK_DIR_ENV]: stackDir },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    try {
      await expect
        .poll(() => /^line: position \d+, /m.test(output), { timeout: 30_000 })
        .toBe(true);
      sessions[0].ws.close(1000);
      expect(await exited, output).toBe(0);
      expect(output).toMatch(/^line: turn — a bridge is held for this visitor for \d+ s/m);
      expect(output).toContain("line: connected with the turn's ticket (bridge handshake 0x00)");
      expect(output).toMatch(/^ {2}wait in line for the turn +[\d.]+ ms$/m);
      expect(output).toContain("smoke: ok");
    } finally {
      child.kill("SIGTERM");
      for (const session of sessions) session.ws.close(1000);
    }
    await idle();
  });
});

describe("npm run dev on a stack with the line on, without HAProxy", () => {
  const dev = devForTheseTests((port) => ({
    args: ["--port", String(port)],
    env: { BRIDGE_URL: "", HAPROXY_PATH: "/nonexistent/haproxy", ...stackDirEnv(stackDir) },
  }));

  it("runs the edge without the line and says why: the stand-in alone has no guard's /health", () => {
    expect(dev.output).not.toContain("  line       on");
    expect(dev.output).toContain(
      "    - line on → off: the coordinator learns that a bridge freed from its guard's /health, and without HAProxy the stand-in has no guard (",
    );
  });
});

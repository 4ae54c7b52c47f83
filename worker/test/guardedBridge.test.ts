import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import { startGuardProcess, type GuardProcess } from "../../tools/lib/guardProcess";
import { PERSONAPLEX_QUERY, pageUpgrade } from "../../test/support/bridge";
import { TEST_SECRET, type TestEdge } from "../../test/support/edge";
import {
  expectOpen,
  expectRefusedSession,
  jwtEdgeConfig,
  startTestEdge,
} from "../../test/support/edge";

/**
 * The whole path a page takes: the edge in workerd → the guard (the real HAProxy, as each GPU VM
 * runs it) → the personaplex stand-in (one conversation at a time, options checked after its 101).
 */

const VOICES = ["NATF2.pt", "NATM1.pt"];
const workDir = mkdtempSync(join(tmpdir(), "voice-edge-guarded-"));
const voicesFile = join(workDir, "voices.txt");

let server: StandinBridge;
let guard: GuardProcess;
let edge: TestEdge;

beforeAll(async () => {
  server = await startStandinBridge({ mode: "personaplex", promptDelayMs: 50, voices: VOICES });
  writeFileSync(voicesFile, `${VOICES.join("\n")}\n`);
  guard = await startGuardProcess([
    "--upstream",
    server.origin,
    "--retry-after",
    "4",
    "--voices",
    voicesFile,
  ]);
  edge = await startTestEdge({
    BRIDGE_URL: `${guard.origin}/api/chat`,
    EDGE_CONFIG: jwtEdgeConfig(),
    JWT_SECRET: TEST_SECRET,
  });
}, 60_000);

afterAll(async () => {
  await edge?.dispose();
  await guard?.stop();
  await server?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

const page = (query?: string) => pageUpgrade(edge, query);

async function conversation() {
  const { url, options } = await page();
  const session = await expectOpen(url, options);
  const handshake = await session.next(10_000);
  expect([...handshake.data]).toEqual([0x00]);
  return session;
}

const health = async () => {
  const response = await fetch(`${edge.httpOrigin}/voice/health`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe("a page when the server behind the guard has just crashed or hangs", () => {
  // The product's per-try bound (10 s), not the tests' 1 s: the guard's own answer is what is read.
  let defaultEdge: TestEdge;
  beforeAll(async () => {
    defaultEdge = await startTestEdge({
      BRIDGE_URL: `${guard.origin}/api/chat`,
      EDGE_CONFIG: jwtEdgeConfig({ bridgeConnectTimeoutMs: 10_000 }),
      JWT_SECRET: TEST_SECRET,
    });
  }, 60_000);
  afterAll(() => defaultEdge?.dispose());

  const serverUp = () =>
    expect
      .poll(
        async () => {
          const response = await fetch(`${guard.origin}/health`);
          return ((await response.json()) as { up: boolean }).up;
        },
        { timeout: 15_000, interval: 100 },
      )
      .toBe(true);

  async function refusedAfter(what: string) {
    const { url, options } = await pageUpgrade(defaultEdge);
    const started = performance.now();
    const refused = await expectRefusedSession(url, options);
    console.log(
      `edge: a page's ${refused.code} for ${what} after ${Math.round(performance.now() - started)} ms`,
    );
    return refused;
  }

  it("gets 1014 bridge_unavailable, never busy, from a server that hangs (stopped)", async () => {
    await serverUp();
    server.process.kill("SIGSTOP");
    try {
      const refused = await refusedAfter("a hung server");
      expect(refused.code).toBe(1014);
      expect(refused.reason).toEqual({ error: "bridge_unavailable" });
    } finally {
      server.process.kill("SIGCONT");
    }
    await serverUp();
  }, 30_000);

  it("gets 1014 bridge_unavailable, never busy, from a server that just crashed", async () => {
    await serverUp();
    const port = server.port;
    const crashed = new Promise((resolve) => server.process.once("exit", resolve));
    server.process.kill("SIGKILL");
    await crashed;
    const refused = await refusedAfter("a just-crashed server");
    expect(refused.code).toBe(1014);
    expect(refused.reason).toEqual({ error: "bridge_unavailable" });
    server = await startStandinBridge({
      mode: "personaplex",
      promptDelayMs: 50,
      voices: VOICES,
      port,
    });
    await serverUp();
  }, 30_000);
});

describe("a page in front of a guarded single-session bridge", () => {
  it("gets the bridge's 0x00, then audio answered with audio", async () => {
    const session = await conversation();
    session.ws.send(Buffer.from([0x01, 1, 2, 3]));
    const answer = await session.next(10_000);
    expect(answer.data[0]).toBe(0x01);
    session.ws.close(1000);
    await session.closed;
  });

  it("gives a second visitor close 1013 with retryAfterS while the first talks on, and the next 0x00 once the first ends", async () => {
    const first = await conversation();
    const { url, options } = await page();
    const second = await expectRefusedSession(url, options);
    expect(second.code).toBe(1013);
    expect(second.reason).toEqual({ error: "bridge_busy", retryAfterS: 4 });
    expect((await health()).body).toMatchObject({ status: "busy" });

    first.ws.send(Buffer.from([0x01, 9]));
    expect((await first.next(10_000)).data[0]).toBe(0x01);
    first.ws.close(1000);
    await first.closed;

    await expect.poll(async () => (await health()).body.status, { timeout: 10_000 }).toBe("ok");
    const third = await conversation();
    third.ws.close(1000);
    await third.closed;
  });

  it.each([
    ["text_prompt", "?voice_prompt=NATF2.pt"],
    ["voice_prompt", "?text_prompt=hello&voice_prompt=NOBODY.pt"],
    ["seed", `?${PERSONAPLEX_QUERY}&seed=42`],
  ])("closes with 4400 naming %s before the server sees the session", async (parameter, query) => {
    const { url, options } = await page(query);
    const refused = await expectRefusedSession(url, options);
    expect(refused.code).toBe(4400);
    expect(refused.reason).toEqual({ error: "session_options_invalid", parameter });
  });

  it("keeps query strings out of the guard's session lines", () => {
    const sessionLines = guard
      .output()
      .split("\n")
      .filter((line) => line.includes("guard: session"));
    expect(sessionLines.length).toBeGreaterThan(3);
    expect(sessionLines.join("\n")).not.toMatch(/\?|NATF|NOBODY|hello|enjoy|seed=/);
  });

  it("says bridge_down with 1014 for a page when the server behind the guard is gone", async () => {
    await server.stop();
    await expect
      .poll(async () => (await health()).status, { timeout: 15_000, interval: 250 })
      .toBe(503);
    expect((await health()).body).toMatchObject({
      status: "bridge_down",
      bridges: { total: 1, up: 0, free: 0 },
    });
    // The guard answers, its server does not: the operator's log tells the two apart.
    const lastProbe = edge.logs.filter((line) => line.includes('"health_probe"')).at(-1);
    expect(JSON.parse(lastProbe!)).toMatchObject({
      bridges: [{ bridge: "bridge", reachable: false, serverDown: true }],
    });
    const { url, options } = await page();
    const refused = await expectRefusedSession(url, options);
    expect(refused.code).toBe(1014);
    expect(refused.reason).toEqual({ error: "bridge_unavailable" });
  });
});

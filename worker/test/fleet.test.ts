import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run as guardCommand } from "../../tools/guard";
import { pageUpgrade } from "../../test/support/bridge";
import {
  startGuardedFleet,
  type FleetBridge,
  type GuardedFleet,
} from "../../test/support/guardedFleet";
import {
  expectOpen,
  expectRefusedSession,
  jwtEdgeConfig,
  startTestEdge,
  TEST_SECRET,
  type OpenSession,
  type TestEdge,
} from "../../test/support/edge";

/**
 * A fleet end to end: the edge in workerd admitting each page to one of three bridges, each a
 * personaplex stand-in (one conversation at a time) behind its own real guard (HAProxy).
 */

const VOICES = ["NATF2.pt"];
const NAMES = ["gpu-1", "gpu-2", "gpu-3"];

let fleet: FleetBridge[];
let edge: TestEdge;

let guarded: GuardedFleet;

beforeAll(async () => {
  guarded = await startGuardedFleet({
    names: NAMES,
    voices: VOICES,
    guardArgs: (i) => ["--retry-after", String(3 + i)],
  });
  fleet = guarded.bridges;
  edge = await startTestEdge({
    BRIDGES: guarded.binding,
    EDGE_CONFIG: jwtEdgeConfig({ bridgeConnectTimeoutMs: 2_000 }),
    JWT_SECRET: TEST_SECRET,
  });
}, 90_000);

afterAll(async () => {
  await edge?.dispose();
  await guarded?.stop();
});

const page = (query?: string) => pageUpgrade(edge, query);

interface UpgradeLine {
  outcome: string;
  bridge?: string;
  closeCode?: number;
  tries: { bridge: string; outcome: string; failure?: string; status?: number }[];
}

/** The upgrade log lines written since `from` (an index into the edge's log). */
function upgradeLines(from: number): UpgradeLine[] {
  return edge.logs
    .slice(from)
    .filter((line) => line.includes('"event":"upgrade"'))
    .map((line) => JSON.parse(line) as UpgradeLine);
}

/** Opens a conversation; resolves with it and the bridge that served it (its log line's name). */
async function visitor(): Promise<{ session: OpenSession; bridge: string }> {
  const from = edge.logs.length;
  const { url, options } = await page();
  const session = await expectOpen(url, options);
  expect([...(await session.next(10_000)).data]).toEqual([0x00]);
  await expect.poll(() => upgradeLines(from).length).toBe(1);
  const [line] = upgradeLines(from);
  expect(line).toMatchObject({ outcome: "connected", bridge: expect.any(String) });
  return { session, bridge: line.bridge! };
}

async function leave(session: OpenSession): Promise<void> {
  session.ws.close(1000);
  await session.closed;
}

async function guardSessions(bridge: FleetBridge): Promise<number> {
  const response = await fetch(`${bridge.guard.origin}/health`);
  return ((await response.json()) as { sessions: number }).sessions;
}

/** Every bridge's guard says it holds no session: the next test starts from an idle fleet. */
async function idle(bridges: FleetBridge[]): Promise<void> {
  for (const bridge of bridges)
    await expect.poll(() => guardSessions(bridge), { timeout: 10_000 }).toBe(0);
}

const byName = (name: string) => fleet.find((bridge) => bridge.name === name)!;

describe("a fleet of single-session bridges behind one wss:// URL", () => {
  it("lands three concurrent visitors on three different bridges, each with its 0x00; a fourth gets 1013 at once with the smallest retryAfterS", async () => {
    const visitors = [await visitor(), await visitor(), await visitor()];
    expect(visitors.map((v) => v.bridge).sort()).toEqual(NAMES);
    for (const bridge of fleet) expect(await guardSessions(bridge)).toBe(1);

    const from = edge.logs.length;
    const { url, options } = await page();
    const fourth = await expectRefusedSession(url, options);
    expect(fourth.code).toBe(1013);
    // The guards say Retry-After 3, 4 and 5: the page hears the soonest.
    expect(fourth.reason).toEqual({ error: "bridge_busy", retryAfterS: 3 });
    await expect.poll(() => upgradeLines(from).length).toBe(1);
    const [line] = upgradeLines(from);
    expect(line.tries.map((t) => t.outcome)).toEqual(["busy", "busy", "busy"]);
    expect(line.tries.map((t) => t.bridge).sort()).toEqual(NAMES);

    // Each live session still talks: audio answered with audio.
    for (const { session } of visitors) {
      session.ws.send(Buffer.from([0x01, 7]));
      expect((await session.next(10_000)).data[0]).toBe(0x01);
    }

    // One visitor leaves: the next one is admitted, on the bridge that freed.
    const [leaving, ...staying] = visitors;
    await leave(leaving.session);
    await expect.poll(() => guardSessions(byName(leaving.bridge)), { timeout: 10_000 }).toBe(0);
    const next = await visitor();
    expect(next.bridge).toBe(leaving.bridge);

    await Promise.all([next, ...staying].map(({ session }) => leave(session)));
    await idle(fleet);
  });

  it("refuses session options with 4400 from the first bridge, trying no other", async () => {
    const from = edge.logs.length;
    const { url, options } = await page("?text_prompt=hello&voice_prompt=NOBODY.pt");
    const refused = await expectRefusedSession(url, options);
    expect(refused.code).toBe(4400);
    expect(refused.reason).toEqual({ error: "session_options_invalid", parameter: "voice_prompt" });
    await expect.poll(() => upgradeLines(from).length).toBe(1);
    expect(upgradeLines(from)[0].tries).toEqual([
      expect.objectContaining({ outcome: "options_refused", status: 400 }),
    ]);
  });

  it("takes a drained bridge's live session on, and gives it no new one", async () => {
    // Fill the fleet, then keep only gpu-1's session: gpu-2 and gpu-3 are free again.
    const visitors = [await visitor(), await visitor(), await visitor()];
    const onGpu1 = visitors.find((v) => v.bridge === "gpu-1")!;
    const gpu1 = byName("gpu-1");
    expect(await guardCommand(["--drain", "--port", String(gpu1.guard.port)])).toBe(0);
    await Promise.all(visitors.filter((v) => v !== onGpu1).map(({ session }) => leave(session)));
    await idle([byName("gpu-2"), byName("gpu-3")]);

    onGpu1.session.ws.send(Buffer.from([0x01, 3]));
    expect((await onGpu1.session.next(10_000)).data[0]).toBe(0x01);
    try {
      const served: string[] = [];
      for (let i = 0; i < 4; i++) {
        const next = await visitor();
        served.push(next.bridge);
        await leave(next.session);
        await idle([byName(next.bridge)]);
      }
      expect(served).not.toContain("gpu-1");
      onGpu1.session.ws.send(Buffer.from([0x01, 4]));
      expect((await onGpu1.session.next(10_000)).data[0]).toBe(0x01);
    } finally {
      expect(await guardCommand(["--ready", "--port", String(gpu1.guard.port)])).toBe(0);
    }
    await leave(onGpu1.session);
    await idle(fleet);
  });

  // Last: it stops gpu-3's guard for good.
  it("lands new sessions on the others before any 101 when a guard is gone; busy and down mixed is 1013", async () => {
    const gone = byName("gpu-3");
    await gone.guard.stop();
    const visitors = [await visitor(), await visitor()];
    expect(visitors.map((v) => v.bridge).sort()).toEqual(["gpu-1", "gpu-2"]);

    const from = edge.logs.length;
    const { url, options } = await page();
    const third = await expectRefusedSession(url, options);
    expect(third.code).toBe(1013);
    expect(third.reason).toEqual({ error: "bridge_busy", retryAfterS: 3 });
    await expect.poll(() => upgradeLines(from).length).toBe(1);
    const tries = upgradeLines(from)[0].tries;
    expect(tries).toHaveLength(3);
    expect(tries.find((t) => t.bridge === "gpu-3")).toMatchObject({ outcome: "down" });

    // gpu-3 was down lately: this isolate now tries it after the busy ones.
    const again = edge.logs.length;
    expect((await expectRefusedSession(url, options)).code).toBe(1013);
    await expect.poll(() => upgradeLines(again).length).toBe(1);
    expect(
      upgradeLines(again)[0]
        .tries.map((t) => t.bridge)
        .at(-1),
    ).toBe("gpu-3");

    await Promise.all(visitors.map(({ session }) => leave(session)));
  });
});

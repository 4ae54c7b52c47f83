import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_MODULE_NAME, BUNDLE_PATH } from "../build";
import { POINTS_BINDING, type DataPoint } from "../src/analytics/points";
import { POINT_BLOBS, POINT_DOUBLES } from "../src/analytics/schema";
import { BRIDGE_WATCH_BINDINGS } from "../src/bridgeWatch/bindings";
import { SESSIONS_PATH, type SessionRecordsAnswer } from "../src/bridgeWatch/sessionRecords";
import { STOCK_VOICES } from "../src/voices";
import { loadStackSettings } from "../../infra/config/stackFiles";
import { startLocalEdge, type LocalEdge } from "../../tools/lib/localEdge";
import { startGuardProcess } from "../../tools/lib/guardProcess";
import { PERSONAPLEX_QUERY } from "../../test/support/bridge";
import { countedSession } from "../../test/support/countedSession";
import { expectOpen, jwtEdgeConfig, TEST_SECRET } from "../../test/support/edge";
import { freePort } from "../../test/support/freePort";
import { startGuardedFleet, type GuardedFleet } from "../../test/support/guardedFleet";

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);

/**
 * The edge's own entry in front of the bundle: the scheduled handler gets a point recorder bound as
 * the analytics dataset (Miniflare's own binding keeps nothing), read back at `/__test/points`.
 */
const RECORDING_ENTRY = `import edge from "./${BUNDLE_MODULE_NAME}";
const points = [];
const recorder = { writeDataPoint(point) { points.push(point); } };
export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__test/points") return Response.json(points.splice(0));
    return edge.fetch(request, env, ctx);
  },
  scheduled(controller, env, ctx) {
    return edge.scheduled(controller, { ...env, ${POINTS_BINDING}: recorder }, ctx);
  },
};`;

/** A point's fields by name, the empty ones left out. */
function named(point: DataPoint): Record<string, string | number> {
  const fields: Record<string, string | number> = {};
  POINT_BLOBS.forEach((name, i) => point.blobs?.[i] && (fields[name] = point.blobs[i]));
  POINT_DOUBLES.forEach((name, i) => point.doubles?.[i] && (fields[name] = point.doubles[i]));
  return fields;
}

let fleet: GuardedFleet;
let downUrl: string;
const edges: LocalEdge[] = [];

beforeAll(async () => {
  [fleet, downUrl] = await Promise.all([
    startGuardedFleet({ names: ["gpu-busy", "gpu-free"], voices: STOCK_VOICES }),
    freePort().then((port) => `http://127.0.0.1:${port}/api/chat`),
  ]);
});

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.dispose()));
  await fleet?.stop();
});

async function watchedEdge(recording: boolean) {
  const logs: string[] = [];
  const edge = await startLocalEdge({
    code: readFileSync(BUNDLE_PATH, "utf8"),
    compatibilityDate: loadStackSettings("staging").compatibilityDate,
    bindings: {
      BRIDGES: [...fleet.binding, { name: "gpu-down", url: downUrl }],
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
      // Thresholds no test reaches: no notice is sent (the webhook is nowhere).
      [BRIDGE_WATCH_BINDINGS.settings]: {
        service: "voice-edge-test (gpu time)",
        failuresBeforeAlert: 30,
        busyMinutesBeforeAlert: 1440,
      },
      [BRIDGE_WATCH_BINDINGS.webhookUrl]: `http://127.0.0.1:${await freePort()}/hook`,
    },
    d1Databases: [BRIDGE_WATCH_BINDINGS.state],
    ...(recording ? { entryWrapper: RECORDING_ENTRY } : {}),
    onLogLine: (line) => logs.push(line),
  });
  edges.push(edge);
  let ticks = 0;
  return {
    edge,
    logs,
    /** Fires the cron once and resolves with the points that tick wrote, by name. */
    async tick() {
      ticks++;
      expect((await edge.fireCron(new Date(T0 + ticks * MINUTE))).outcome).toBe("ok");
      const response = await fetch(new URL("/__test/points", edge.url));
      return ((await response.json()) as DataPoint[]).map(named);
    },
  };
}

async function guardRecords(port: number): Promise<SessionRecordsAnswer> {
  return (
    await fetch(`http://127.0.0.1:${port}${SESSIONS_PATH}`)
  ).json() as Promise<SessionRecordsAnswer>;
}

/** Waits (bounded) until the guard on `port` has recorded `last` sessions. */
async function recorded(port: number, last: number): Promise<SessionRecordsAnswer> {
  await expect.poll(async () => (await guardRecords(port)).last, { timeout: 5_000 }).toBe(last);
  return guardRecords(port);
}

const minutePoints = (points: Record<string, string | number>[]) =>
  points.filter((point) => point.event === "bridge_minute");
const sessionPoints = (points: Record<string, string | number>[]) =>
  points.filter((point) => point.event === "session_end");

describe("GPU time from the bridge watch (with an analytics dataset bound)", () => {
  it("writes a bridge_minute per bridge each tick, and each session_end once, across ticks and a guard's restart", async () => {
    const watched = await watchedEdge(true);
    const [busy, free] = fleet.bridges;
    const session = await expectOpen(
      `${busy.guard.origin.replace("http", "ws")}/api/chat?${PERSONAPLEX_QUERY}`,
    );

    const first = await watched.tick();
    expect(minutePoints(first)).toEqual([
      { event: "bridge_minute", outcome: "up", bridge: "gpu-busy", busyMinutes: 1 },
      { event: "bridge_minute", outcome: "up", bridge: "gpu-free" },
      { event: "bridge_minute", outcome: "down", bridge: "gpu-down" },
    ]);
    expect(sessionPoints(first)).toEqual([]);

    session.ws.close(1000);
    await session.closed;
    const [record] = (await recorded(busy.guard.port, 1)).records;
    const second = await watched.tick();
    expect(minutePoints(second).map((point) => point.busyMinutes ?? 0)).toEqual([0, 0, 0]);
    expect(sessionPoints(second)).toEqual([
      {
        event: "session_end",
        outcome: "ended",
        bridge: "gpu-busy",
        termination: record.termination,
        sessionMs: record.durationMs,
        bytesUp: record.bytesUp,
        bytesDown: record.bytesDown,
      },
    ]);
    expect(sessionPoints(await watched.tick())).toEqual([]);

    // A restart of the guard: its process numbers sessions from 1 again, under a new boot.
    const before = await guardRecords(busy.guard.port);
    await busy.guard.stop();
    busy.guard = await startGuardProcess(["--upstream", busy.server.origin], {
      port: busy.guard.port,
    });
    const after = await guardRecords(busy.guard.port);
    expect(after.boot).not.toBe(before.boot);
    expect(sessionPoints(await watched.tick())).toEqual([]);
    for (let i = 0; i < 2; i++)
      await countedSession(busy.guard.port, `/api/chat?${PERSONAPLEX_QUERY}`, {
        frames: 1,
        frameBytes: 100 * (i + 1),
        holdMs: 50,
      });
    await countedSession(free.guard.port, `/api/chat?${PERSONAPLEX_QUERY}`, {
      frames: 1,
      frameBytes: 10,
      holdMs: 50,
    });
    const restarted = await recorded(busy.guard.port, 2);
    await recorded(free.guard.port, 1);
    const fifth = sessionPoints(await watched.tick());
    expect(fifth.map((point) => [point.bridge, point.bytesUp])).toEqual([
      ["gpu-busy", restarted.records[0].bytesUp],
      ["gpu-busy", restarted.records[1].bytesUp],
      ["gpu-free", expect.any(Number)],
    ]);
    expect(sessionPoints(await watched.tick())).toEqual([]);
    const restartLines = watched.logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.event === "bridge_watch_sessions");
    expect(restartLines).toEqual([
      { event: "bridge_watch_sessions", bridge: "gpu-busy", guardRestarted: true },
    ]);
  });

  it("without the dataset: no point, no cursor table, the watch as before", async () => {
    const watched = await watchedEdge(false);
    await watched.edge.fireCron(new Date(T0 + MINUTE));
    const db = await watched.edge.miniflare.getD1Database(BRIDGE_WATCH_BINDINGS.state);
    const tables = await db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'bridge_watch_sessions'",
      )
      .all();
    expect(tables.results).toEqual([]);
  });
});

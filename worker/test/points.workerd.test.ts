import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERSONAPLEX_QUERY } from "../../test/support/bridge";
import {
  APP_ORIGIN,
  expectOpen,
  expectRefused,
  expectRefusedSession,
  jwtEdgeConfig,
  startTestEdge,
  TEST_SECRET,
  type OpenSession,
  type TestEdge,
} from "../../test/support/edge";
import { freePort } from "../../test/support/freePort";
import { startGuardedFleet, type GuardedFleet } from "../../test/support/guardedFleet";
import { startLineEdge } from "../../test/support/lineEdge";
import { lineClient, type LineClient } from "../../test/support/lineClient";
import { hs256 } from "../../test/support/tokens";
import { pointsInLog } from "../../tools/lib/localPoints";
import { VISITOR_KEY_BINDING, visitorHash, type DataPoint } from "../src/analytics/points";
import { POINT_BLOBS, POINT_DOUBLES } from "../src/analytics/schema";
import type { LineMessage } from "../src/line/contract";

/**
 * The points the Worker and the coordinator write, through workerd: the dataset is a wrapped
 * binding of the local edge's own that prints each point on the log (Miniflare's keeps nothing).
 */

const DATASET = "voice_edge_test";
const VISITOR_KEY = "visitor-key-0123456789-abcdefghijklmnop";
const VOICES = ["NATF2.pt"];

let guarded: GuardedFleet;
let edge: TestEdge;
const tokens: string[] = [];

/** A point as named fields, read by schema.ts's positions. */
function named(point: DataPoint): Record<string, string | number> {
  expect(point.blobs).toHaveLength(POINT_BLOBS.length);
  expect(point.doubles).toHaveLength(POINT_DOUBLES.length);
  return {
    index: point.indexes[0],
    ...Object.fromEntries(POINT_BLOBS.map((name, i) => [name, point.blobs[i]])),
    ...Object.fromEntries(POINT_DOUBLES.map((name, i) => [name, point.doubles[i]])),
  };
}

/** The next `count` points the edge wrote from log line `from` on (waiting for deferred ones). */
async function pointsFrom(on: TestEdge, from: number, count = 1) {
  await expect.poll(() => pointsInLog(on.logs.slice(from)).length, { timeout: 10_000 }).toBe(count);
  const points = pointsInLog(on.logs.slice(from));
  for (const { dataset } of points) expect(dataset).toBe(DATASET);
  return points.map(({ point }) => named(point));
}

async function token(subject: string): Promise<string> {
  const value = await hs256({ sub: subject });
  tokens.push(value);
  return value;
}

async function voiceOptions(subject: string) {
  return {
    protocols: ["voice.v1", `bearer.${await token(subject)}`],
    headers: { Origin: APP_ORIGIN },
  };
}

const voiceUrl = (on: TestEdge, query = `?${PERSONAPLEX_QUERY}`) =>
  `${on.wsOrigin}/voice/ws${query}`;

beforeAll(async () => {
  guarded = await startGuardedFleet({ names: ["gpu-1"], voices: VOICES, promptDelayMs: 50 });
  edge = await startTestEdge(
    {
      BRIDGES: guarded.binding,
      EDGE_CONFIG: jwtEdgeConfig({ bridgeConnectTimeoutMs: 2_000 }),
      JWT_SECRET: TEST_SECRET,
      [VISITOR_KEY_BINDING]: VISITOR_KEY,
    },
    { points: { dataset: DATASET } },
  );
}, 90_000);

afterAll(async () => {
  await edge?.dispose();
  await guarded?.stop();
});

describe("the edge's points, one per /voice/ws request beside its log line", () => {
  let held: OpenSession | undefined;

  it("connected: the bridge, the transport, the path, one try, the 101, and the visitor's keyed hash", async () => {
    const from = edge.logs.length;
    held = await expectOpen(voiceUrl(edge), await voiceOptions("visitor-1"));
    expect([...(await held.next(10_000)).data]).toEqual([0x00]);
    const [point] = await pointsFrom(edge, from);
    expect(point).toMatchObject({
      index: "upgrade",
      event: "upgrade",
      outcome: "connected",
      reason: "",
      bridge: "gpu-1",
      colo: "",
      transport: "subprotocol",
      path: "/voice/ws",
      line: "",
      parameter: "",
      visitor: await visitorHash(VISITOR_KEY, "visitor-1"),
      status: 101,
      closeCode: 0,
      tries: 1,
      waitMs: 0,
    });
    expect(point.msTo101).toBeGreaterThanOrEqual(0);
  });

  it("1013 busy while the one bridge is held: the reason, the close code, the try", async () => {
    const from = edge.logs.length;
    const busy = await expectRefusedSession(voiceUrl(edge), await voiceOptions("visitor-2"));
    expect(busy.code).toBe(1013);
    const [point] = await pointsFrom(edge, from);
    expect(point).toMatchObject({
      outcome: "refused",
      reason: "bridge_busy",
      bridge: "",
      status: 101,
      closeCode: 1013,
      tries: 1,
      visitor: await visitorHash(VISITOR_KEY, "visitor-2"),
    });
    held?.ws.close(1000);
    await held?.closed;
  });

  it("4400: the parameter's name, never its value, and no try", async () => {
    const from = edge.logs.length;
    const query = `?text_prompt=${encodeURIComponent("my secret prompt")}&voice_prompt=..%2Fetc%2Fpasswd`;
    const refused = await expectRefusedSession(voiceUrl(edge, query), await voiceOptions("v3"));
    expect(refused.code).toBe(4400);
    const [point] = await pointsFrom(edge, from);
    expect(point).toMatchObject({
      reason: "session_options_invalid",
      parameter: "voice_prompt",
      closeCode: 4400,
      tries: 0,
    });
    const text = JSON.stringify(point);
    for (const value of ["secret", "prompt ", "passwd", "etc"]) expect(text).not.toContain(value);
  });

  it.each([
    [
      "401 without a token",
      async () => ({ headers: { Origin: APP_ORIGIN } }),
      401,
      "token_missing",
    ],
    [
      "401 with a token signed by another key",
      async () => ({
        protocols: [
          "voice.v1",
          `bearer.${await hs256({ sub: "intruder" }, { secret: "another-secret-0123456789-abcdefghij" })}`,
        ],
        headers: { Origin: APP_ORIGIN },
      }),
      401,
      "token_signature_invalid",
    ],
    [
      "403 from an origin not allowed",
      async () => ({
        protocols: ["voice.v1", `bearer.${await token("v4")}`],
        headers: { Origin: "https://elsewhere.example" },
      }),
      403,
      "origin_not_allowed",
    ],
  ] as const)(
    "%s: the status and the reason, no visitor",
    async (_what, options, status, reason) => {
      const from = edge.logs.length;
      const refusal = await expectRefused(voiceUrl(edge), await options());
      expect(refusal.status).toBe(status);
      const [point] = await pointsFrom(edge, from);
      expect(point).toMatchObject({
        outcome: "refused",
        reason: refusal.body.error,
        status,
        closeCode: 0,
        visitor: "",
        path: "/voice/ws",
      });
      expect(refusal.body.error).toBe(reason);
    },
  );

  it("the web client's path, /voice/api/chat, gets its own point", async () => {
    const from = edge.logs.length;
    await expectRefused(`${edge.wsOrigin}/voice/api/chat?${PERSONAPLEX_QUERY}`, {
      headers: { Origin: APP_ORIGIN },
    });
    const [point] = await pointsFrom(edge, from);
    expect(point).toMatchObject({ path: "/voice/api/chat", status: 401 });
  });

  it("holds no token, subject, query value or header value in any point written", () => {
    const written = JSON.stringify(pointsInLog(edge.logs));
    for (const secret of [
      ...tokens,
      ...tokens.map((t) => t.split(".")[1]),
      "visitor-1",
      "visitor-2",
      "intruder",
      ...new URLSearchParams(PERSONAPLEX_QUERY).values(),
      APP_ORIGIN,
      "elsewhere",
    ])
      expect(written).not.toContain(secret);
  });
});

describe("1014: the fleet unreachable", () => {
  it("writes the reason and the close code", async () => {
    const deadPort = await freePort();
    const unreachable = await startTestEdge(
      {
        BRIDGE_URL: `http://127.0.0.1:${deadPort}/api/chat`,
        EDGE_CONFIG: jwtEdgeConfig({ bridgeConnectTimeoutMs: 1_000 }),
        JWT_SECRET: TEST_SECRET,
      },
      { points: { dataset: DATASET } },
    );
    try {
      const from = unreachable.logs.length;
      const refused = await expectRefusedSession(voiceUrl(unreachable), await voiceOptions("v5"));
      expect(refused.code).toBe(1014);
      const [point] = await pointsFrom(unreachable, from);
      expect(point).toMatchObject({ outcome: "refused", closeCode: 1014, tries: 1, visitor: "" });
      // The code the page read, not the log's finer cause (bridge_timeout, bridge_rejected).
      expect(point.reason).toBe("bridge_unavailable");
    } finally {
      await unreachable.dispose();
    }
  });
});

describe("without the binding", () => {
  it("writes no point, and logs the same line", async () => {
    const plain = await startTestEdge({
      BRIDGES: guarded.binding,
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
    });
    try {
      await expectRefused(voiceUrl(plain), { headers: { Origin: APP_ORIGIN } });
      await expect.poll(() => plain.logs.some((l) => l.includes('"event":"upgrade"'))).toBe(true);
      expect(pointsInLog(plain.logs)).toEqual([]);
    } finally {
      await plain.dispose();
    }
  });
});

describe("the line's points: join (the edge), turn and leave (the coordinator) with the wait", () => {
  let lineEdge: TestEdge;

  beforeAll(async () => {
    lineEdge = await startLineEdge({
      edgeBindings: {
        BRIDGES: guarded.binding,
        EDGE_CONFIG: jwtEdgeConfig({ bridgeConnectTimeoutMs: 2_000 }),
        JWT_SECRET: TEST_SECRET,
      },
      lineBindings: {
        BRIDGES: guarded.binding,
        LINE_CONFIG: { holdSeconds: 5, rejoinGraceSeconds: 0, maxSessionsPerSubject: 1 },
      },
      points: { dataset: DATASET },
    });
  });

  afterAll(async () => {
    await lineEdge?.dispose();
  });

  const isTurn = (message: LineMessage) => message.type === "turn";

  async function joinLine(subject: string): Promise<LineClient> {
    const client = lineClient(`${lineEdge.wsOrigin}/voice/line`, await voiceOptions(subject));
    await client.opened;
    return client;
  }

  it("4409 for a second session of one subject; line_join, line_turn and line_leave with waitMs", async () => {
    let from = lineEdge.logs.length;
    const first = await expectOpen(voiceUrl(lineEdge), await voiceOptions("a"));
    expect([...(await first.next(10_000)).data]).toEqual([0x00]);
    const [connected] = await pointsFrom(lineEdge, from);
    expect(connected).toMatchObject({ outcome: "connected", line: "coordinator", bridge: "gpu-1" });

    from = lineEdge.logs.length;
    const again = await expectRefusedSession(voiceUrl(lineEdge), await voiceOptions("a"));
    expect(again.code).toBe(4409);
    const [limit] = await pointsFrom(lineEdge, from);
    expect(limit).toMatchObject({ outcome: "refused", reason: "session_limit", closeCode: 4409 });

    from = lineEdge.logs.length;
    const busy = await expectRefusedSession(voiceUrl(lineEdge), await voiceOptions("b"));
    expect(busy.reason).toMatchObject({ error: "bridge_busy", line: true });
    const [offered] = await pointsFrom(lineEdge, from);
    expect(offered).toMatchObject({ reason: "bridge_busy", closeCode: 1013, lineOffered: 1 });

    from = lineEdge.logs.length;
    const waiting = await joinLine("b");
    const [join] = await pointsFrom(lineEdge, from);
    expect(join).toMatchObject({
      index: "line_join",
      event: "line_join",
      outcome: "connected",
      path: "/voice/line",
      status: 101,
      transport: "subprotocol",
    });

    from = lineEdge.logs.length;
    const leaver = await joinLine("c");
    await pointsFrom(lineEdge, from);
    from = lineEdge.logs.length;
    leaver.ws.close(1000);
    await leaver.closed;
    const [left] = await pointsFrom(lineEdge, from);
    expect(left).toMatchObject({ index: "line_leave", outcome: "left", path: "/voice/line" });
    expect(left.waitMs).toBeGreaterThanOrEqual(0);

    from = lineEdge.logs.length;
    first.ws.close(1000);
    await first.closed;
    await waiting.next(isTurn);
    const [turn] = await pointsFrom(lineEdge, from);
    expect(turn).toMatchObject({
      index: "line_turn",
      outcome: "turn",
      bridge: "gpu-1",
      path: "/voice/line",
    });
    expect(turn.waitMs).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(turn.waitMs)).toBe(true);
    waiting.ws.close(1000);
    await waiting.closed;
  });
});

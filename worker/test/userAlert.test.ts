import { startWebhookReceiver } from "../../test/support/webhookReceiver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BRIDGE_WATCH_BINDINGS } from "../src/bridgeWatch/bindings";
import { jwtEdgeConfig, startTestEdge, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import {
  startAnalyticsSqlStandIn,
  type AnalyticsSqlScenario,
  type AnalyticsSqlStandIn,
  type StandInPoint,
} from "../../test/support/analyticsSqlStandIn";
import { startGuardAnswers, type GuardAnswers } from "./support/guardAnswers";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const READ_TOKEN = "analytics-read-token-4b7e1d";
const DATASET = "voice_edge_test";
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const tickTime = (tick: number) => new Date(T0 + tick * MINUTE);

/** The bodies the webhook took (a 2xx) at `path`: a refused one is not a notice sent. */
function noticesTo(path: string) {
  return receiver
    .to(path)
    .filter((post) => post.answered === 200)
    .map((post) => post.body);
}

const scenario: AnalyticsSqlScenario = {
  accountId: ACCOUNT,
  token: READ_TOKEN,
  datasets: {},
  now: tickTime(0),
};
let sql: AnalyticsSqlStandIn;
let guard: GuardAnswers;
const receiver = startWebhookReceiver();
let receiverOrigin: string;
const edges: TestEdge[] = [];

beforeAll(async () => {
  [sql, guard] = await Promise.all([
    startAnalyticsSqlStandIn(scenario),
    startGuardAnswers(),
    receiver.listening.then((port) => (receiverOrigin = `http://127.0.0.1:${port}`)),
  ]);
});

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.dispose()));
  await Promise.all([sql?.close(), guard?.stop(), receiver.close()]);
});

/** Points of one kind, `count` of them, at `minute` after T0. */
const points = (
  count: number,
  minute: number,
  fields: Omit<StandInPoint, "at" | "event"> & { event?: StandInPoint["event"] },
): StandInPoint[] =>
  Array.from({ length: count }, () => ({
    event: "upgrade" as const,
    at: tickTime(minute),
    ...fields,
  }));
const connected = (count: number, minute: number) =>
  points(count, minute, { outcome: "connected", status: 101 });
const busy = (count: number, minute: number, sampleInterval = 1) =>
  points(count, minute, {
    outcome: "refused",
    reason: "bridge_busy",
    status: 101,
    closeCode: 1013,
    sampleInterval,
  });

interface WatchedEdge {
  edge: TestEdge;
  hook: string;
  /** The dataset's points: the stand-in answers from this array as it is at each query. */
  points: StandInPoint[];
  /** Fires the cron for minute `tick`, the stand-in's NOW() being that minute. */
  tick(tick: number): Promise<void>;
  /** The alert rows in D1: undefined while the table does not exist. */
  rows(): Promise<{ name: string; alerted: number; changed_at: string }[] | undefined>;
  settledLogs(): Promise<Record<string, unknown>[]>;
}

async function watchedEdge(
  name: string,
  users: Record<string, unknown> | undefined,
  watch: Record<string, unknown> = {},
): Promise<WatchedEdge> {
  const hook = `/hooks/${name}`;
  const dataset = `${DATASET}_${name.replace(/-/g, "_")}`;
  const datasetPoints: StandInPoint[] = [];
  scenario.datasets[dataset] = datasetPoints;
  const edge = await startTestEdge(
    {
      BRIDGE_URL: `${guard.origin}/api/chat`,
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
      [BRIDGE_WATCH_BINDINGS.settings]: {
        service: `voice-edge-test (${name})`,
        ...watch,
        ...(users ? { users: { accountId: ACCOUNT, dataset, sqlApiUrl: sql.url, ...users } } : {}),
      },
      [BRIDGE_WATCH_BINDINGS.webhookUrl]: `${receiverOrigin}${hook}`,
      ...(users ? { [BRIDGE_WATCH_BINDINGS.analyticsReadToken]: READ_TOKEN } : {}),
    },
    { d1Databases: [BRIDGE_WATCH_BINDINGS.state] },
  );
  edges.push(edge);
  const db = () => edge.edge.miniflare.getD1Database(BRIDGE_WATCH_BINDINGS.state);
  return {
    edge,
    hook,
    points: datasetPoints,
    async tick(tick) {
      scenario.now = tickTime(tick);
      const result = await edge.edge.fireCron(tickTime(tick));
      expect(result.outcome).toBe("ok");
    },
    async rows() {
      const table = await (
        await db()
      )
        .prepare("SELECT name FROM sqlite_master WHERE name = 'bridge_watch_user_alerts'")
        .first();
      if (!table) return undefined;
      const { results } = await (
        await db()
      )
        .prepare("SELECT name, alerted, changed_at FROM bridge_watch_user_alerts ORDER BY name")
        .all<{ name: string; alerted: number; changed_at: string }>();
      return results;
    },
    async settledLogs() {
      const parsed = () => edge.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
      const before = parsed().filter((line) => line.event === "upgrade").length;
      // A refused upgrade logs one line after it answers: once it is in, every earlier line is too.
      await fetch(`${edge.httpOrigin}/voice/ws`);
      await expect
        .poll(() => parsed().filter((line) => line.event === "upgrade").length)
        .toBe(before + 1);
      return parsed().filter((line) => line.event !== "upgrade");
    },
  };
}

const queriesTo = (dataset: string) => sql.queries.filter((query) => query.includes(dataset));

describe("the alert on visitors turned away (the watch asks the edge's points through the SQL API)", () => {
  it("sends one notice when the share passes the threshold, nothing while it stays above, and one recovery when it falls below", async () => {
    const watched = await watchedEdge(
      "turned-away",
      { turnedAwayShare: 0.2, turnedAwayMinutes: 15, minVisitors: 10 },
      { notifyRecovery: true },
    );
    // Minute 1: 9 connected, 1 busy (10%); refusals that are the visitor's own count neither way.
    watched.points.push(
      ...connected(9, 1),
      ...busy(1, 1),
      ...points(5, 1, { outcome: "refused", reason: "token_expired", status: 401 }),
    );
    await watched.tick(2);
    expect(noticesTo(watched.hook)).toEqual([]);
    expect(await watched.rows()).toEqual([]);

    // Minute 3: 2 more busy, one standing for 2 (sampled); a bridge that timed out (1014); a join
    // the full line refused; and a busy answer that offered a place in line (a wait, not a loss).
    watched.points.push(
      ...busy(1, 3),
      ...busy(1, 3, 2),
      ...points(1, 3, {
        outcome: "refused",
        reason: "bridge_unavailable",
        status: 101,
        closeCode: 1014,
      }),
      ...points(1, 3, { event: "line_join", outcome: "refused", reason: "bridge_busy" }),
      ...points(1, 3, {
        outcome: "refused",
        reason: "bridge_busy",
        closeCode: 1013,
        // Offered a place in line: the visitor waits, not turned away.
        lineOffered: 1,
      }),
    );
    await watched.tick(4);
    expect(noticesTo(watched.hook)).toEqual([
      {
        text: "voice-edge-test (turned-away): 6 of 15 visitors (40%) were turned away (busy or unavailable) in the last 15 minutes (alert at 20%)",
        service: "voice-edge-test (turned-away)",
        status: "turned_away",
        share: 0.4,
        threshold: 0.2,
        windowMinutes: 15,
        turnedAway: 6,
        visitors: 15,
        reasons: { bridge_busy: 5, bridge_unavailable: 1 },
        at: tickTime(4).toISOString(),
      },
    ]);
    expect(await watched.rows()).toEqual([
      { name: "turned_away", alerted: 1, changed_at: tickTime(4).toISOString() },
    ]);

    // Still above on the next ticks: nothing new, nothing written.
    await watched.tick(5);
    await watched.tick(6);
    expect(noticesTo(watched.hook)).toHaveLength(1);

    // Minute 19: the busy minutes have left the 15-minute window; 12 connected since.
    watched.points.push(...connected(12, 17));
    await watched.tick(19);
    const [, recovered] = noticesTo(watched.hook);
    expect(recovered).toEqual({
      text: "voice-edge-test (turned-away): 0 of 12 visitors (0%) were turned away (busy or unavailable) in the last 15 minutes (below the alert's 20% again)",
      service: "voice-edge-test (turned-away)",
      status: "turned_away_recovered",
      share: 0,
      threshold: 0.2,
      windowMinutes: 15,
      turnedAway: 0,
      visitors: 12,
      reasons: {},
      at: tickTime(19).toISOString(),
    });
    await watched.tick(20);
    expect(noticesTo(watched.hook)).toHaveLength(2);
    expect(await watched.rows()).toEqual([
      { name: "turned_away", alerted: 0, changed_at: tickTime(19).toISOString() },
    ]);

    // One query per tick, bounded to the window, never carrying the token.
    const queries = queriesTo(`${DATASET}_turned_away`);
    expect(queries).toHaveLength(6);
    expect(queries[0]).toContain("timestamp > NOW() - INTERVAL '15' MINUTE");
    const logs = await watched.settledLogs();
    expect(logs.map((line) => [line.event, line.alert, line.state, line.notified])).toEqual([
      ["user_alert", "turned_away", "alerted", "turned_away"],
      ["user_alert", "turned_away", "clear", "turned_away_recovered"],
    ]);
    expect(JSON.stringify(logs) + JSON.stringify(noticesTo(watched.hook))).not.toContain(
      READ_TOKEN,
    );
  });

  it("ends an episode without a notice when notifyRecovery is off, and says nothing on fewer than minVisitors", async () => {
    const watched = await watchedEdge("quiet-recovery", {
      turnedAwayShare: 0.5,
      minVisitors: 4,
    });
    watched.points.push(...connected(1, 1), ...busy(2, 1));
    await watched.tick(2);
    expect(noticesTo(watched.hook)).toEqual([]);
    watched.points.push(...busy(1, 2));
    await watched.tick(3);
    expect(noticesTo(watched.hook).map((body) => body.status)).toEqual(["turned_away"]);
    watched.points.push(...connected(10, 20));
    await watched.tick(21);
    expect(noticesTo(watched.hook)).toHaveLength(1);
    expect(await watched.rows()).toEqual([
      { name: "turned_away", alerted: 0, changed_at: tickTime(21).toISOString() },
    ]);
  });
});

describe("a notice the webhook refused", () => {
  it("is not stored, and is sent on the next tick, once", async () => {
    const watched = await watchedEdge("webhook-refused", { turnedAwayShare: 0.5, minVisitors: 2 });
    watched.points.push(...busy(3, 1));
    receiver.failNext(watched.hook, 1);
    await watched.tick(2);
    expect(noticesTo(watched.hook)).toEqual([]);
    expect(await watched.rows()).toEqual([]);
    await watched.tick(3);
    await watched.tick(4);
    expect(noticesTo(watched.hook).map((body) => [body.status, body.at])).toEqual([
      ["turned_away", tickTime(3).toISOString()],
    ]);
    const logs = await watched.settledLogs();
    expect(
      logs.map((line) => [line.event, line.notification ?? line.notified, line.webhookStatus]),
    ).toEqual([
      ["user_alert_notify_failed", "turned_away", 500],
      ["user_alert", "turned_away", 200],
    ]);
  });
});

describe("the alert on long waits in the line", () => {
  it("sends one notice when the share of waits longer than waitedLongerThanS passes waitedShare", async () => {
    const watched = await watchedEdge("long-waits", {
      waitedLongerThanS: 60,
      waitedShare: 0.25,
      minVisitors: 4,
    });
    const waits = (count: number, waitMs: number, event: "line_turn" | "line_leave") =>
      points(count, 1, { event, outcome: event === "line_turn" ? "turn" : "left", waitMs });
    watched.points.push(...waits(4, 30_000, "line_turn"), ...waits(1, 60_000, "line_turn"));
    await watched.tick(2);
    expect(noticesTo(watched.hook)).toEqual([]);
    watched.points.push(...waits(1, 90_000, "line_turn"), ...waits(1, 240_000, "line_leave"));
    await watched.tick(3);
    expect(noticesTo(watched.hook)).toEqual([
      {
        text: "voice-edge-test (long-waits): 2 of 7 visitors whose wait in line ended (29%) waited longer than 60 s in the last 15 minutes (alert at 25%)",
        service: "voice-edge-test (long-waits)",
        status: "long_waits",
        share: 2 / 7,
        threshold: 0.25,
        windowMinutes: 15,
        waitedLonger: 2,
        waited: 7,
        waitedLongerThanS: 60,
        at: tickTime(3).toISOString(),
      },
    ]);
    await watched.tick(4);
    expect(noticesTo(watched.hook)).toHaveLength(1);
    expect(await watched.rows()).toEqual([
      { name: "long_waits", alerted: 1, changed_at: tickTime(3).toISOString() },
    ]);
  });
});

describe("the alerts on what users feel when the SQL API fails or they are off", () => {
  it.each<[string, string, Partial<AnalyticsSqlScenario>, string]>([
    [
      "answers 500",
      "sql-500",
      { failure: { status: 500, body: "internal" } },
      "the SQL API answered 500: internal",
    ],
    [
      "refuses the token",
      "sql-401",
      { token: "another-token" },
      'the SQL API answered 401: Authentication error (code 10000): the token needs "Account Analytics: Read" on this account',
    ],
  ])(
    "logs one line per tick, sends nothing and stores nothing when the SQL API %s, and alerts once it answers again",
    async (_case, name, failure, problem) => {
      const watched = await watchedEdge(name, { turnedAwayShare: 0.1, minVisitors: 1 });
      watched.points.push(...busy(5, 1));
      const saved = { ...scenario };
      Object.assign(scenario, failure);
      try {
        await watched.tick(2);
        await watched.tick(3);
      } finally {
        Object.assign(scenario, { failure: saved.failure, token: saved.token });
      }
      expect(noticesTo(watched.hook)).toEqual([]);
      expect(await watched.rows()).toEqual([]);
      const logs = await watched.settledLogs();
      expect(logs).toEqual([
        { event: "user_alert_query_failed", windowMinutes: 15, problem },
        { event: "user_alert_query_failed", windowMinutes: 15, problem },
      ]);
      expect(watched.edge.logs.join("\n")).not.toContain(READ_TOKEN);
      // The same edge alerts once the API answers again.
      await watched.tick(4);
      expect(noticesTo(watched.hook).map((body) => body.status)).toEqual(["turned_away"]);
    },
  );

  it("asks the SQL API nothing and creates no table when no share is set", async () => {
    const before = sql.queries.length;
    const watched = await watchedEdge("off", undefined);
    for (let tick = 1; tick <= 3; tick++) await watched.tick(tick);
    expect(sql.queries.length).toBe(before);
    expect(await watched.rows()).toBeUndefined();
    expect(await watched.settledLogs()).toEqual([]);
  });
});

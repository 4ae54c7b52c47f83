import { startWebhookReceiver } from "../../test/support/webhookReceiver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BRIDGE_WATCH_BINDINGS } from "../src/bridgeWatch/bindings";
import { jwtEdgeConfig, startTestEdge, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { healthUrl, startGuardAnswers, type GuardAnswers } from "./support/guardAnswers";

const WEBHOOK_SECRET = "webhook-secret-5f2c9a";
const ACCESS_ID = "access-id-7d1e.access";
const ACCESS_SECRET = "access-secret-93b0f4";
/** Stands for the secret part of a real webhook URL (a Slack hook's path is its credential). */
const HOOK_TOKEN = "T000-B000-hooktoken";
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);

/** The guard's /health stands for the bridge: the watch probes nothing else. */
let guard: GuardAnswers;
const receiver = startWebhookReceiver();
let receiverOrigin: string;
const edges: TestEdge[] = [];

beforeAll(async () => {
  [guard] = await Promise.all([
    startGuardAnswers(),
    receiver.listening.then((port) => (receiverOrigin = `http://127.0.0.1:${port}`)),
  ]);
});

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.dispose()));
  await Promise.all([guard?.stop(), receiver.close()]);
});

function hookPath(name: string): string {
  return `/hooks/${HOOK_TOKEN}/${name}`;
}

interface WatchedEdge {
  edge: TestEdge;
  hook: string;
  /** Fires the cron once; tick n is scheduled n minutes after T0. */
  tick(): Promise<number>;
  /** A bridge's row in D1 (undefined while nothing was written); `bridge` is BRIDGE_URL's one. */
  row(bridge?: string): Promise<{ failures: number; down: number; changed_at: string } | undefined>;
  /** The capacity row in D1 (undefined while nothing was written). */
  capacityRow(): Promise<{ busy_minutes: number; alerted: number; changed_at: string } | undefined>;
  /** The edge's log lines other than `upgrade`, once every line logged so far has arrived. */
  settledLogs(): Promise<Record<string, unknown>[]>;
}

/** How many notifications the watched edge's webhook has received after each of `ticks` cron ticks. */
async function postsAfterEachTick(watched: WatchedEdge, ticks: number): Promise<number[]> {
  const posts: number[] = [];
  for (let i = 0; i < ticks; i++) {
    await watched.tick();
    posts.push(receiver.to(watched.hook).length);
  }
  return posts;
}

/** A fleet for `BRIDGES`: each bridge's health is `/health` on its own guard stand-in. */
const fleetOf = (bridges: Record<string, GuardAnswers>) =>
  Object.entries(bridges).map(([name, answers]) => ({ name, url: `${answers.origin}/api/chat` }));

async function watchedEdge(
  name: string,
  watch: Record<string, unknown>,
  edgeSettings: Record<string, unknown> = {},
  bridges?: { name: string; url: string }[],
): Promise<WatchedEdge> {
  const hook = hookPath(name);
  const edge = await startTestEdge(
    {
      ...(bridges ? { BRIDGES: bridges } : { BRIDGE_URL: `${guard.origin}/api/chat` }),
      EDGE_CONFIG: jwtEdgeConfig(edgeSettings),
      JWT_SECRET: TEST_SECRET,
      BRIDGE_ACCESS_CLIENT_ID: ACCESS_ID,
      BRIDGE_ACCESS_CLIENT_SECRET: ACCESS_SECRET,
      [BRIDGE_WATCH_BINDINGS.settings]: { service: `voice-edge-test (${name})`, ...watch },
      [BRIDGE_WATCH_BINDINGS.webhookUrl]: `${receiverOrigin}${hook}`,
      [BRIDGE_WATCH_BINDINGS.webhookSecret]: WEBHOOK_SECRET,
    },
    { d1Databases: [BRIDGE_WATCH_BINDINGS.state] },
  );
  edges.push(edge);
  let ticks = 0;
  return {
    edge,
    hook,
    async tick() {
      ticks++;
      const result = await edge.edge.fireCron(new Date(T0 + ticks * MINUTE));
      expect(result.outcome).toBe("ok");
      return ticks;
    },
    async row(bridge = "bridge") {
      const db = await edge.edge.miniflare.getD1Database(BRIDGE_WATCH_BINDINGS.state);
      return (
        (await db
          .prepare("SELECT failures, down, changed_at FROM bridge_watch_bridges WHERE name = ?1")
          .bind(bridge)
          .first()) ?? undefined
      );
    },
    async capacityRow() {
      const db = await edge.edge.miniflare.getD1Database(BRIDGE_WATCH_BINDINGS.state);
      return (
        (await db
          .prepare("SELECT busy_minutes, alerted, changed_at FROM bridge_watch_capacity")
          .first()) ?? undefined
      );
    },
    settledLogs: () => settledLogs(edge),
  };
}

async function settledLogs(edge: TestEdge): Promise<Record<string, unknown>[]> {
  const parsed = () => edge.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
  const upgradesBefore = parsed().filter((line) => line.event === "upgrade").length;
  // A refused upgrade logs one line after it answers: once it is in, every earlier line is too.
  await fetch(`${edge.httpOrigin}/voice/ws`);
  await expect
    .poll(() => parsed().filter((line) => line.event === "upgrade").length)
    .toBe(upgradesBefore + 1);
  return parsed().filter((line) => line.event !== "upgrade");
}

const tickTime = (tick: number) => new Date(T0 + tick * MINUTE).toISOString();

/** Nothing a notification or log line carries may reveal where the webhook or bridge is, or any credential. */
function expectNoSecrets(text: string) {
  for (const secret of [
    WEBHOOK_SECRET,
    ACCESS_ID,
    ACCESS_SECRET,
    HOOK_TOKEN,
    TEST_SECRET,
    "127.0.0.1",
    "http://",
    "https://",
  ])
    expect(text).not.toContain(secret);
}

describe("the bridge watch (a Cron Trigger) notifies the webhook when the bridge goes down", () => {
  let quiet: WatchedEdge;
  let loud: WatchedEdge;

  beforeAll(async () => {
    [quiet, loud] = await Promise.all([
      watchedEdge("quiet", { failuresBeforeAlert: 3, notifyRecovery: false }),
      watchedEdge("loud", { failuresBeforeAlert: 3, notifyRecovery: true }),
    ]);
  });

  it("sends nothing, writes no state and logs nothing while the bridge is healthy", async () => {
    for (let i = 0; i < 5; i++) await quiet.tick();
    expect(receiver.to(quiet.hook)).toEqual([]);
    expect(await quiet.row()).toBeUndefined();
    expect(await quiet.capacityRow()).toBeUndefined();
    expect(await quiet.settledLogs()).toEqual([]);
  });

  it("sends exactly one down notification at the third failed probe, and nothing while it stays down", async () => {
    await guard.stop();
    expect(await postsAfterEachTick(quiet, 8)).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);

    const [post] = receiver.to(quiet.hook);
    expect(post.headers["cf-webhook-auth"]).toBe(WEBHOOK_SECRET);
    expect(post.headers["content-type"]).toBe("application/json");
    expect(post.body).toEqual({
      text: "voice-edge-test (quiet): the voice bridge is down — 3 consecutive failed probes through the tunnel (last: unreachable)",
      service: "voice-edge-test (quiet)",
      bridge: "bridge",
      status: "down",
      failures: 3,
      probe: { latencyMs: expect.any(Number) },
      at: tickTime(8),
    });
    // The state was last written at tick 8 of the edge's life (5 healthy + 3 failing), not after.
    expect(await quiet.row()).toEqual({ failures: 3, down: 1, changed_at: tickTime(8) });

    const logs = await quiet.settledLogs();
    // Every bridge down says nothing about capacity: no capacity line, no capacity row.
    expect(await quiet.capacityRow()).toBeUndefined();
    expect(logs).toEqual([
      {
        event: "bridge_watch",
        bridge: "bridge",
        state: "failing",
        failures: 1,
        probe: { latencyMs: expect.any(Number) },
      },
      {
        event: "bridge_watch",
        bridge: "bridge",
        state: "failing",
        failures: 2,
        probe: { latencyMs: expect.any(Number) },
      },
      {
        event: "bridge_watch",
        bridge: "bridge",
        state: "down",
        failures: 3,
        probe: { latencyMs: expect.any(Number) },
        notified: "down",
        webhookStatus: 200,
      },
    ]);
    expectNoSecrets(JSON.stringify(post.body) + quiet.edge.logs.join("\n"));
  });

  it("notifies the way back up only when notifyRecovery is set, once", async () => {
    for (let i = 0; i < 3; i++) await loud.tick();
    expect(receiver.to(loud.hook).map((post) => post.body.status)).toEqual(["down"]);

    guard = await startGuardAnswers(guard.port);
    await Promise.all([quiet.tick(), loud.tick()]);
    expect(receiver.to(quiet.hook)).toHaveLength(1);
    expect(await quiet.row()).toMatchObject({ failures: 0, down: 0 });
    const recovered = receiver.to(loud.hook).slice(1);
    expect(recovered.map((post) => post.body)).toEqual([
      {
        text: expect.stringMatching(
          /^voice-edge-test \(loud\): the voice bridge is back up — the probe through the tunnel answered HTTP 200 in \d+ ms$/,
        ),
        service: "voice-edge-test (loud)",
        bridge: "bridge",
        status: "recovered",
        failures: 0,
        probe: { status: 200, latencyMs: expect.any(Number) },
        at: tickTime(4),
      },
    ]);

    for (let i = 0; i < 3; i++) await Promise.all([quiet.tick(), loud.tick()]);
    expect(receiver.to(quiet.hook)).toHaveLength(1);
    expect(receiver.to(loud.hook)).toHaveLength(2);
    expect((await quiet.settledLogs()).at(-1)).toEqual({
      event: "bridge_watch",
      bridge: "bridge",
      state: "healthy",
      failures: 0,
      probe: { status: 200, latencyMs: expect.any(Number) },
    });
    expect((await loud.settledLogs()).at(-1)).toMatchObject({
      event: "bridge_watch",
      state: "healthy",
      notified: "recovered",
    });
  });

  it("retries a down notification the webhook refused on the next tick, and sends it once in the end", async () => {
    const flaky = await watchedEdge(
      "flaky",
      { failuresBeforeAlert: 2 },
      { bridgeHealthUrl: healthUrl(guard.origin, 502, "") },
    );
    receiver.failNext(flaky.hook, 1);
    const answers: number[][] = [];
    for (let i = 0; i < 5; i++) {
      await flaky.tick();
      answers.push(receiver.to(flaky.hook).map((post) => post.answered));
    }
    expect(answers).toEqual([[], [500], [500, 200], [500, 200], [500, 200]]);
    const delivered = receiver.to(flaky.hook)[1];
    expect(delivered.body).toMatchObject({
      status: "down",
      failures: 2,
      probe: { status: 502 },
      at: tickTime(3),
    });
    expect(delivered.body.text).toContain("(last: HTTP 502)");
    expect(await flaky.row()).toEqual({ failures: 2, down: 1, changed_at: tickTime(3) });
    const logs = await flaky.settledLogs();
    expect(
      logs.map((line) => [
        line.event,
        line.bridge,
        line.state ?? line.notification,
        line.webhookStatus,
      ]),
    ).toEqual([
      ["bridge_watch", "bridge", "failing", undefined],
      ["bridge_watch_notify_failed", "bridge", "down", 500],
      ["bridge_watch", "bridge", "down", 200],
    ]);
    expectNoSecrets(flaky.edge.logs.join("\n"));
  });
});

describe("the bridge watch over a fleet: state, notices and log lines per bridge", () => {
  let gpu1: GuardAnswers;
  let gpu2: GuardAnswers;
  const FREE = { up: true, sessions: 0, capacity: 1 };
  const BUSY = { up: true, sessions: 1, capacity: 1 };
  const DRAINING = { up: true, sessions: 0, capacity: 1, draining: true };
  const bridges = () => fleetOf({ "gpu-1": gpu1, "gpu-2": gpu2 });
  const health = (one: [number, unknown], two: [number, unknown]) =>
    Promise.all([gpu1.setHealth(...one), gpu2.setHealth(...two)]);

  beforeAll(async () => {
    [gpu1, gpu2] = await Promise.all([startGuardAnswers(), startGuardAnswers()]);
  });
  afterAll(async () => {
    await Promise.all([gpu1?.stop(), gpu2?.stop()]);
  });

  it("notifies once, naming the bridge that went down, and names it when it is back; the other stays quiet", async () => {
    await health([200, FREE], [200, FREE]);
    const fleet = await watchedEdge(
      "fleet-down",
      { failuresBeforeAlert: 3, notifyRecovery: true },
      {},
      bridges(),
    );
    await fleet.tick();
    await gpu2.setHealth(502, "");
    expect(await postsAfterEachTick(fleet, 5)).toEqual([0, 0, 1, 1, 1]);
    expect(receiver.to(fleet.hook)[0].body).toEqual({
      text: "voice-edge-test (fleet-down): bridge gpu-2 is down — 3 consecutive failed probes through the tunnel (last: HTTP 502)",
      service: "voice-edge-test (fleet-down)",
      bridge: "gpu-2",
      status: "down",
      failures: 3,
      probe: { status: 502, latencyMs: expect.any(Number) },
      at: tickTime(4),
    });
    expect(await fleet.row("gpu-2")).toEqual({ failures: 3, down: 1, changed_at: tickTime(4) });
    // Only rows that changed are written; gpu-1 is free, so capacity has nothing to count.
    expect(await fleet.row("gpu-1")).toBeUndefined();
    expect(await fleet.capacityRow()).toBeUndefined();

    await gpu2.setHealth(200, FREE);
    await fleet.tick();
    await fleet.tick();
    expect(
      receiver
        .to(fleet.hook)
        .slice(1)
        .map((post) => post.body),
    ).toEqual([
      {
        text: expect.stringMatching(
          /^voice-edge-test \(fleet-down\): bridge gpu-2 is back up — the probe through the tunnel answered HTTP 200 in \d+ ms$/,
        ),
        service: "voice-edge-test (fleet-down)",
        bridge: "gpu-2",
        status: "recovered",
        failures: 0,
        probe: { status: 200, latencyMs: expect.any(Number) },
        at: tickTime(7),
      },
    ]);
    const logs = await fleet.settledLogs();
    expect(logs.map((line) => [line.event, line.bridge, line.state, line.notified])).toEqual([
      ["bridge_watch", "gpu-2", "failing", undefined],
      ["bridge_watch", "gpu-2", "failing", undefined],
      ["bridge_watch", "gpu-2", "down", "down"],
      ["bridge_watch", "gpu-2", "healthy", "recovered"],
    ]);
    expectNoSecrets(
      receiver
        .to(fleet.hook)
        .map((post) => JSON.stringify(post.body))
        .join("\n") + fleet.edge.logs.join("\n"),
    );
  });

  it("sends one capacity notice once every bridge in service has been busy for busyMinutesBeforeAlert ticks, not before, and one when a bridge is free again (a drained bridge is neither)", async () => {
    await health([200, BUSY], [200, DRAINING]);
    const fleet = await watchedEdge(
      "fleet-full",
      { busyMinutesBeforeAlert: 3, notifyRecovery: true },
      {},
      bridges(),
    );
    expect(await postsAfterEachTick(fleet, 5)).toEqual([0, 0, 1, 1, 1]);
    expect(receiver.to(fleet.hook)[0].body).toEqual({
      text: "voice-edge-test (fleet-full): every bridge in service has been busy for 3 minutes: add a GPU (2 bridges: 2 up, 0 free, 1 drained)",
      service: "voice-edge-test (fleet-full)",
      status: "capacity",
      busyMinutes: 3,
      bridges: { total: 2, up: 2, free: 0, drained: 1 },
      at: tickTime(3),
    });
    expect(await fleet.capacityRow()).toEqual({
      busy_minutes: 3,
      alerted: 1,
      changed_at: tickTime(3),
    });
    expect(await fleet.row("gpu-1")).toBeUndefined();

    await gpu1.setHealth(200, FREE);
    await fleet.tick();
    await fleet.tick();
    expect(
      receiver
        .to(fleet.hook)
        .slice(1)
        .map((post) => post.body),
    ).toEqual([
      {
        text: "voice-edge-test (fleet-full): a bridge is free again (2 bridges: 2 up, 1 free, 1 drained)",
        service: "voice-edge-test (fleet-full)",
        status: "capacity_recovered",
        busyMinutes: 0,
        bridges: { total: 2, up: 2, free: 1, drained: 1 },
        at: tickTime(6),
      },
    ]);
    expect(await fleet.capacityRow()).toEqual({
      busy_minutes: 0,
      alerted: 0,
      changed_at: tickTime(6),
    });
    const logs = await fleet.settledLogs();
    expect(logs.map((line) => [line.event, line.state, line.busyMinutes, line.notified])).toEqual([
      ["bridge_watch_capacity", "busy", 1, undefined],
      ["bridge_watch_capacity", "busy", 2, undefined],
      ["bridge_watch_capacity", "full", 3, "capacity"],
      ["bridge_watch_capacity", "free", 0, "capacity_recovered"],
    ]);
    expect(logs[2]).toEqual({
      event: "bridge_watch_capacity",
      state: "full",
      busyMinutes: 3,
      bridges: { total: 2, up: 2, free: 0, drained: 1 },
      notified: "capacity",
      webhookStatus: 200,
    });
  });

  it("sends no capacity notice while every bridge up is drained (maintenance); a count under way ends, and one in service and busy counts again", async () => {
    await health([200, BUSY], [200, DRAINING]);
    const fleet = await watchedEdge(
      "fleet-drained",
      { busyMinutesBeforeAlert: 3, notifyRecovery: true },
      {},
      bridges(),
    );
    await fleet.tick();
    await gpu1.setHealth(200, DRAINING);
    for (let i = 0; i < 5; i++) await fleet.tick();
    expect(receiver.to(fleet.hook)).toEqual([]);
    expect(await fleet.capacityRow()).toEqual({
      busy_minutes: 0,
      alerted: 0,
      changed_at: tickTime(2),
    });
    await gpu1.setHealth(200, BUSY);
    await fleet.tick();
    const logs = await fleet.settledLogs();
    expect(logs.map((line) => [line.event, line.state, line.busyMinutes, line.bridges])).toEqual([
      ["bridge_watch_capacity", "busy", 1, { total: 2, up: 2, free: 0, drained: 1 }],
      ["bridge_watch_capacity", "all_drained", 0, { total: 2, up: 2, free: 0, drained: 2 }],
      ["bridge_watch_capacity", "busy", 1, { total: 2, up: 2, free: 0, drained: 1 }],
    ]);
  });

  it("sends no capacity notice, writes and logs nothing while one bridge is free", async () => {
    await health([200, BUSY], [200, FREE]);
    const fleet = await watchedEdge("fleet-one-free", { busyMinutesBeforeAlert: 2 }, {}, bridges());
    for (let i = 0; i < 5; i++) await fleet.tick();
    expect(receiver.to(fleet.hook)).toEqual([]);
    expect(await fleet.capacityRow()).toBeUndefined();
    expect(await fleet.settledLogs()).toEqual([]);
  });

  it("retries a refused down notice and a refused capacity notice on the next tick, once each in the end (a down bridge and the rest busy is no free bridge)", async () => {
    await health([502, ""], [200, BUSY]);
    const fleet = await watchedEdge(
      "fleet-flaky",
      { failuresBeforeAlert: 1, busyMinutesBeforeAlert: 1 },
      {},
      bridges(),
    );
    receiver.failNext(fleet.hook, 2);
    const answers: number[][] = [];
    for (let i = 0; i < 3; i++) {
      await fleet.tick();
      answers.push(receiver.to(fleet.hook).map((post) => post.answered));
    }
    expect(answers).toEqual([
      [500, 500],
      [500, 500, 200, 200],
      [500, 500, 200, 200],
    ]);
    const delivered = receiver.to(fleet.hook).slice(2);
    expect(delivered.map((post) => post.body)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ bridge: "gpu-1", status: "down", at: tickTime(2) }),
        expect.objectContaining({
          status: "capacity",
          busyMinutes: 1,
          bridges: { total: 2, up: 1, free: 0, drained: 0 },
          at: tickTime(2),
        }),
      ]),
    );
    expect(await fleet.row("gpu-1")).toEqual({ failures: 1, down: 1, changed_at: tickTime(2) });
    expect(await fleet.capacityRow()).toEqual({
      busy_minutes: 1,
      alerted: 1,
      changed_at: tickTime(2),
    });
    const logs = await fleet.settledLogs();
    const sorted = (lines: Record<string, unknown>[]) =>
      lines.map((line) => JSON.stringify(line)).sort();
    expect(sorted(logs.slice(0, 2))).toEqual(
      sorted([
        {
          event: "bridge_watch_notify_failed",
          bridge: "gpu-1",
          failures: 1,
          notification: "down",
          webhookStatus: 500,
        },
        {
          event: "bridge_watch_notify_failed",
          busyMinutes: 1,
          notification: "capacity",
          webhookStatus: 500,
        },
      ]),
    );
    expect(logs.slice(2).map((line) => [line.event, line.bridge, line.notified])).toEqual([
      ["bridge_watch", "gpu-1", "down"],
      ["bridge_watch_capacity", undefined, "capacity"],
    ]);
    expectNoSecrets(fleet.edge.logs.join("\n"));
  });

  it("ignores the rows of bridges no longer in the fleet", async () => {
    await health([200, FREE], [200, FREE]);
    const fleet = await watchedEdge(
      "fleet-removed",
      { failuresBeforeAlert: 1, notifyRecovery: true },
      {},
      bridges(),
    );
    await fleet.tick();
    const db = await fleet.edge.edge.miniflare.getD1Database(BRIDGE_WATCH_BINDINGS.state);
    await db
      .prepare(
        "INSERT INTO bridge_watch_bridges (name, failures, down, changed_at) VALUES (?1, 1, 1, ?2)",
      )
      .bind("gpu-9", tickTime(1))
      .run();
    for (let i = 0; i < 3; i++) await fleet.tick();
    expect(receiver.to(fleet.hook)).toEqual([]);
    expect(await fleet.row("gpu-9")).toEqual({ failures: 1, down: 1, changed_at: tickTime(1) });
    expect(await fleet.settledLogs()).toEqual([]);
  });
});

describe("the bridge watch reads the guard's health", () => {
  it("counts a busy or draining guard as up: no notice, no bridge state, no bridge log line; only a busy one moves the capacity count", async () => {
    const busy = await watchedEdge(
      "busy",
      { failuresBeforeAlert: 1 },
      { bridgeHealthUrl: healthUrl(guard.origin, 200, { up: true, sessions: 1, capacity: 1 }) },
    );
    const draining = await watchedEdge(
      "draining",
      { failuresBeforeAlert: 1 },
      {
        bridgeHealthUrl: healthUrl(guard.origin, 200, {
          up: true,
          sessions: 0,
          capacity: 1,
          draining: true,
        }),
      },
    );
    for (let i = 0; i < 3; i++) await Promise.all([busy.tick(), draining.tick()]);
    expect([...receiver.to(busy.hook), ...receiver.to(draining.hook)]).toEqual([]);
    expect(await busy.row()).toBeUndefined();
    // A fleet of one that is busy has no free bridge: 3 of the default 10 minutes counted.
    expect(await busy.capacityRow()).toEqual({
      busy_minutes: 3,
      alerted: 0,
      changed_at: tickTime(3),
    });
    // A fleet of one that is drained is in maintenance: no capacity count at all.
    expect(await draining.row()).toBeUndefined();
    expect(await draining.capacityRow()).toBeUndefined();
    expect(await draining.settledLogs()).toEqual([]);
  });

  it("counts a drained guard whose server is down as maintenance: over 6 ticks no notice, no state, no log line; an undrained one gets its down notice", async () => {
    const downHealth = (draining: boolean) =>
      healthUrl(guard.origin, 503, { up: false, sessions: 0, capacity: 1, draining });
    const restarting = await watchedEdge(
      "drained-restart",
      {},
      { bridgeHealthUrl: downHealth(true) },
    );
    const down = await watchedEdge("undrained-down", {}, { bridgeHealthUrl: downHealth(false) });
    for (let i = 0; i < 6; i++) await Promise.all([restarting.tick(), down.tick()]);
    expect(receiver.to(restarting.hook)).toEqual([]);
    expect(await restarting.row()).toBeUndefined();
    expect(await restarting.capacityRow()).toBeUndefined();
    expect(await restarting.settledLogs()).toEqual([]);
    expect(receiver.to(down.hook).map((post) => post.body.status)).toEqual(["down"]);
  });

  it("counts a guard that answers up: false as down, and says so", async () => {
    const serverDown = await watchedEdge(
      "server-down",
      { failuresBeforeAlert: 1 },
      { bridgeHealthUrl: healthUrl(guard.origin, 503, { up: false, sessions: 0, capacity: 1 }) },
    );
    await serverDown.tick();
    const [post] = receiver.to(serverDown.hook);
    expect(post.body).toMatchObject({
      status: "down",
      probe: { status: 503, serverDown: true },
    });
    expect(post.body.text).toContain("(last: HTTP 503, the guard says its server is down)");
  });
});

describe("a misconfigured bridge watch", () => {
  const good = () => ({
    BRIDGE_URL: `${guard.origin}/api/chat`,
    EDGE_CONFIG: jwtEdgeConfig({ bridgeHealthUrl: healthUrl(guard.origin, 502, "") }),
    JWT_SECRET: TEST_SECRET,
    [BRIDGE_WATCH_BINDINGS.settings]: {
      service: "voice-edge-test (misconfigured)",
      failuresBeforeAlert: 1,
    },
    [BRIDGE_WATCH_BINDINGS.webhookUrl]: `${receiverOrigin}${hookPath("misconfigured")}`,
  });

  it.each<[string, string, (bindings: Record<string, unknown>) => void, boolean]>([
    [
      "the webhook URL is plain http to a public host",
      BRIDGE_WATCH_BINDINGS.webhookUrl,
      (b) => (b[BRIDGE_WATCH_BINDINGS.webhookUrl] = `http://hooks.example/${HOOK_TOKEN}`),
      true,
    ],
    [
      "the settings name no service",
      BRIDGE_WATCH_BINDINGS.settings,
      (b) => (b[BRIDGE_WATCH_BINDINGS.settings] = { failuresBeforeAlert: 1 }),
      true,
    ],
    ["the D1 binding is missing", BRIDGE_WATCH_BINDINGS.state, () => undefined, false],
  ])(
    "logs config_invalid naming the binding, sends nothing and does not crash when %s",
    async (_case, binding, breakIt, withD1) => {
      const bindings = good();
      breakIt(bindings);
      const edge = await startTestEdge(
        bindings,
        withD1 ? { d1Databases: [BRIDGE_WATCH_BINDINGS.state] } : {},
      );
      edges.push(edge);
      const before = receiver.posts.length;
      for (let minute = 1; minute <= 2; minute++)
        expect((await edge.edge.fireCron(new Date(T0 + minute * MINUTE))).outcome).toBe("ok");
      expect(receiver.posts.length).toBe(before);
      const logs = await settledLogs(edge);
      expect(logs).toHaveLength(2);
      expect(logs[0]).toEqual({
        event: "config_invalid",
        handler: "scheduled",
        problems: [{ binding, path: expect.any(String), message: expect.any(String) }],
      });
      for (const revealing of [HOOK_TOKEN, "hooks.example", guard.origin])
        expect(JSON.stringify(logs)).not.toContain(revealing);
    },
  );
});

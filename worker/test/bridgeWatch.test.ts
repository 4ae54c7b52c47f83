import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
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

interface Post {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> & { probe?: Record<string, unknown> };
  answered: number;
}

/** Records every POST; `failNext` makes the next POSTs to a path get a 500. */
function startReceiver() {
  const posts: Post[] = [];
  const failures = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => {
      const path = req.url ?? "/";
      const failing = failures.get(path) ?? 0;
      failures.set(path, Math.max(0, failing - 1));
      const answered = failing > 0 ? 500 : 200;
      posts.push({ path, headers: req.headers, body: JSON.parse(text), answered });
      res.writeHead(answered).end();
    });
  });
  return {
    posts,
    server,
    failNext: (path: string, count: number) => failures.set(path, count),
    to: (path: string) => posts.filter((post) => post.path === path),
    listening: new Promise<number>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
    ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The guard's /health stands for the bridge: the watch probes nothing else. */
let guard: GuardAnswers;
const receiver = startReceiver();
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
  /** The watch's row in D1 (undefined while nothing was written). */
  row(): Promise<{ failures: number; down: number; changed_at: string } | undefined>;
  /** The edge's log lines other than `upgrade`, once every line logged so far has arrived. */
  settledLogs(): Promise<Record<string, unknown>[]>;
}

async function watchedEdge(
  name: string,
  watch: Record<string, unknown>,
  edgeSettings: Record<string, unknown> = {},
): Promise<WatchedEdge> {
  const hook = hookPath(name);
  const edge = await startTestEdge(
    {
      BRIDGE_URL: `${guard.origin}/api/chat`,
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
    async row() {
      const db = await edge.edge.miniflare.getD1Database(BRIDGE_WATCH_BINDINGS.state);
      return (
        (await db.prepare("SELECT failures, down, changed_at FROM bridge_watch").first()) ??
        undefined
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
    expect(await quiet.settledLogs()).toEqual([]);
  });

  it("sends exactly one down notification at the third failed probe, and nothing while it stays down", async () => {
    await guard.stop();
    const postsAfterTick: number[] = [];
    for (let i = 0; i < 8; i++) {
      await quiet.tick();
      postsAfterTick.push(receiver.to(quiet.hook).length);
    }
    expect(postsAfterTick).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);

    const [post] = receiver.to(quiet.hook);
    expect(post.headers["cf-webhook-auth"]).toBe(WEBHOOK_SECRET);
    expect(post.headers["content-type"]).toBe("application/json");
    expect(post.body).toEqual({
      text: "voice-edge-test (quiet): the voice bridge is down — 3 consecutive failed probes through the tunnel (last: unreachable)",
      service: "voice-edge-test (quiet)",
      status: "down",
      failures: 3,
      probe: { latencyMs: expect.any(Number) },
      at: tickTime(8),
    });
    // The state was last written at tick 8 of the edge's life (5 healthy + 3 failing), not after.
    expect(await quiet.row()).toEqual({ failures: 3, down: 1, changed_at: tickTime(8) });

    const logs = await quiet.settledLogs();
    expect(logs).toEqual([
      {
        event: "bridge_watch",
        state: "failing",
        failures: 1,
        probe: { latencyMs: expect.any(Number) },
      },
      {
        event: "bridge_watch",
        state: "failing",
        failures: 2,
        probe: { latencyMs: expect.any(Number) },
      },
      {
        event: "bridge_watch",
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
      logs.map((line) => [line.event, line.state ?? line.notification, line.webhookStatus]),
    ).toEqual([
      ["bridge_watch", "failing", undefined],
      ["bridge_watch_notify_failed", "down", 500],
      ["bridge_watch", "down", 200],
    ]);
    expectNoSecrets(flaky.edge.logs.join("\n"));
  });
});

describe("the bridge watch reads the guard's health", () => {
  it("counts a busy or draining guard as up: no notice, no state, no log line", async () => {
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
    expect(await draining.settledLogs()).toEqual([]);
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

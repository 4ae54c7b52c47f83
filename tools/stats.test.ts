import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startAnalyticsSqlStandIn,
  type AnalyticsSqlStandIn,
  type StandInPoint,
} from "../test/support/analyticsSqlStandIn";
import { launchChromium } from "../test/support/chromium";
import { copyOfFixtureStacks, stackDirEnv } from "../test/support/fixtureStacks";
import { runInProcess } from "../test/support/runInProcess";
import { PROJECT_ROOT, STACK_DIR_ENV } from "../infra/config/stackFiles";
import { STATS_QUERIES, statsQueries } from "../worker/src/analytics/queries";
import { ANALYTICS_TOKEN_ENV, type StatsReport } from "./stats";

const ACCOUNT = "00000000000000000000000000000000";
const TOKEN = "analytics-read";
const DATASET = "voice_edge_staging";
const HOUR_MS = 3_600_000;

const now = new Date();
const thisHour = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
const h1 = thisHour - 3 * HOUR_MS;
const h2 = thisHour - 2 * HOUR_MS;
const at = (hour: number, minute: number) => new Date(hour + minute * 60_000);
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

/** Two hours of a small fleet, and one point a day old that a 24 h window must not count. */
const POINTS: StandInPoint[] = [
  // h1, gpu-a: 4 sessions (one point stands for 2), a busy GPU 3 minutes of 4, two sessions of 5 and 7 min.
  { event: "upgrade", at: at(h1, 1), outcome: "connected", bridge: "gpu-a", msTo101: 100 },
  {
    event: "upgrade",
    at: at(h1, 2),
    outcome: "connected",
    bridge: "gpu-a",
    msTo101: 200,
    sampleInterval: 2,
  },
  { event: "upgrade", at: at(h1, 3), outcome: "connected", bridge: "gpu-a", msTo101: 400 },
  ...[1, 1, 1, 0].map((busy, i): StandInPoint => ({
    event: "bridge_minute",
    at: at(h1, 10 + i),
    bridge: "gpu-a",
    busyMinutes: busy,
  })),
  { event: "session_end", at: at(h1, 20), bridge: "gpu-a", sessionMs: 300_000 },
  { event: "session_end", at: at(h1, 30), bridge: "gpu-a", sessionMs: 420_000 },
  // h1, no bridge: 3 busy refusals of which 2 took a place in line, an expired token, waits of 30 s and 90 s, one gave up.
  ...[4, 5, 6].map((minute): StandInPoint => ({
    event: "upgrade",
    at: at(h1, minute),
    outcome: "refused",
    reason: "bridge_busy",
    closeCode: 1013,
    // The first two were offered a place (1013 with line: true), the third met a full line.
    lineOffered: minute < 6 ? 1 : 0,
  })),
  { event: "upgrade", at: at(h1, 7), outcome: "refused", reason: "token_expired", status: 401 },
  { event: "line_join", at: at(h1, 8), outcome: "connected", position: 1 },
  { event: "line_join", at: at(h1, 9), outcome: "connected", position: 2 },
  { event: "line_turn", at: at(h1, 40), outcome: "turn", waitMs: 30_000 },
  { event: "line_turn", at: at(h1, 41), outcome: "turn", waitMs: 90_000 },
  { event: "line_leave", at: at(h1, 42), outcome: "left", waitMs: 45_000 },
  // h2, gpu-b: one session, one bridge_unavailable refusal (a 1014), busy 1 minute of 2.
  { event: "upgrade", at: at(h2, 1), outcome: "connected", bridge: "gpu-b", msTo101: 50 },
  {
    event: "upgrade",
    at: at(h2, 2),
    outcome: "refused",
    reason: "bridge_unavailable",
    bridge: "gpu-b",
    closeCode: 1014,
  },
  // A visitor at its own bound: a refusal by reason, never turned away.
  {
    event: "upgrade",
    at: at(h2, 2),
    outcome: "refused",
    reason: "session_limit",
    bridge: "gpu-b",
    closeCode: 4409,
  },
  { event: "bridge_minute", at: at(h2, 3), bridge: "gpu-b", busyMinutes: 1 },
  { event: "bridge_minute", at: at(h2, 4), bridge: "gpu-b", busyMinutes: 0 },
  // Outside the window.
  {
    event: "upgrade",
    at: new Date(now.getTime() - 30 * HOUR_MS),
    outcome: "connected",
    bridge: "gpu-a",
  },
];

let standIn: AnalyticsSqlStandIn;
let stackDir: string;
let noDatasetDir: string;
let outDir: string;
const datasets: Record<string, StandInPoint[]> = {};
const scenario = {
  accountId: ACCOUNT,
  token: TOKEN,
  now,
  datasets,
  notEnabled: false,
  failure: undefined as { status: number; body: string } | undefined,
};

beforeAll(async () => {
  standIn = await startAnalyticsSqlStandIn(scenario);
  stackDir = copyOfFixtureStacks("stats-stacks-");
  appendFileSync(
    join(stackDir, "Pulumi.staging.yaml"),
    `  voice-edge:analytics:\n    dataset: ${DATASET}\n`,
  );
  noDatasetDir = copyOfFixtureStacks("stats-no-dataset-");
  outDir = mkdtempSync(join(tmpdir(), "stats-out-"));
});

afterAll(async () => {
  await standIn.close();
  for (const dir of [stackDir, noDatasetDir, outDir]) rmSync(dir, { recursive: true, force: true });
});

function stats(args: string[], env: Record<string, string | undefined> = {}) {
  return runInProcess("stats", ["--stack", "staging", ...args], {
    env: {
      ...stackDirEnv(stackDir),
      [ANALYTICS_TOKEN_ENV]: TOKEN,
      CLOUDFLARE_BASE_URL: standIn.url,
      ...env,
    },
  });
}

function reset(points: StandInPoint[] = POINTS) {
  datasets[DATASET] = points;
  scenario.notEnabled = false;
  scenario.failure = undefined;
  standIn.queries.length = 0;
}

describe("npm run stats against the SQL API stand-in", () => {
  it("computes every number per hour and bridge from the points (--json)", async () => {
    reset();
    const result = await stats(["--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as StatsReport;
    expect(report).toMatchObject({ stack: "staging", dataset: DATASET, since: "24h" });
    expect(report.hours.map((row) => [row.hour, row.bridge])).toEqual([
      [iso(h1), ""],
      [iso(h1), "gpu-a"],
      [iso(h2), "gpu-b"],
    ]);
    const [line, gpuA, gpuB] = report.hours;
    expect(line).toMatchObject({
      sessions: 0,
      refusals: { bridge_busy: 3, token_expired: 1 },
      waited: 2,
      turns: 2,
      leftLine: 1,
      // 3 busy refusals, 2 of them offered a place in line (and they took it).
      turnedAway: 1,
      waitMs: { mean: 60_000, p95: 90_000 },
      busyShare: null,
    });
    expect(gpuA).toMatchObject({
      sessions: 4,
      turnedAway: 0,
      msTo101: { p50: 200, p95: 400 },
      watchedMinutes: 4,
      busyMinutes: 3,
      busyShare: 0.75,
      sessionEnds: 2,
      meanSessionMs: 360_000,
    });
    expect(gpuB).toMatchObject({
      sessions: 1,
      turnedAway: 1,
      refusals: { bridge_unavailable: 1, session_limit: 1 },
      msTo101: { p50: 50, p95: 50 },
      busyShare: 0.5,
      meanSessionMs: null,
    });
    expect(report.totals).toEqual({
      sessions: 5,
      turnedAway: 2,
      waited: 2,
      leftLine: 1,
      refusals: { bridge_busy: 3, token_expired: 1, bridge_unavailable: 1, session_limit: 1 },
      msTo101: { p50: 200, p95: 400 },
      meanWaitMs: 60_000,
      busyShare: 4 / 6,
      meanSessionMs: 360_000,
    });
    // The peak hour is h1: 4 sessions, 1 turned away, 1 gave up waiting; sessions of 6 min.
    expect(report.sizing).toMatchObject({
      peakHour: iso(h1),
      visitors: 6,
      meanSessionMinutes: 6,
      erlangs: expect.closeTo(0.6, 10),
      bridges: 1,
      withLine: { targetMeanWaitMinutes: 1, gpus: 2 },
      withoutLine: { targetTurnedAway: 0.05, gpus: 3 },
    });
    expect(standIn.queries).toEqual(
      STATS_QUERIES.map((name) => statsQueries(DATASET, { amount: 24, unit: "HOUR" })[name]),
    );
  });

  it("prints a table per hour and bridge, the totals, the refusals and the sizing; progress on stderr", async () => {
    reset();
    const result = await stats([]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.trimEnd().split("\n")).toEqual(
      STATS_QUERIES.map((_, i) =>
        expect.stringMatching(new RegExp(`^stats: querying ${i + 1} of 6: `)),
      ),
    );
    const lines = result.stdout.split("\n");
    const hour = (ms: number) => iso(ms).replace("T", " ").slice(0, 16);
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^${hour(h1)}  gpu-a\\s+4\\s+0\\s+0\\s+-\\s+-\\s+200 ms\\s+400 ms\\s+75 %\\s+6 min$`,
        ),
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^${hour(h1)}  -\\s+0\\s+1\\s+2\\s+1 min\\s+1.5 min\\s+-\\s+-\\s+-\\s+-$`),
      ),
    );
    expect(result.stdout).toContain(
      "over the window: 5 sessions, 2 turned away, 2 waited in line (mean 1 min), 1 left the line; time to the 101 p50 200 ms, p95 400 ms; GPU busy 67 %; sessions of 6 min on average",
    );
    expect(result.stdout).toContain(
      "refusals by reason: bridge_busy 3, token_expired 1, bridge_unavailable 1, session_limit 1",
    );
    expect(result.stdout).toContain(
      "  with the line (Erlang C): 1 GPU: 9 min mean wait; 2: 0.59 → 2 GPUs for a mean wait ≤ 1 min",
    );
  });

  it("counts a visitor once: a busy refusal that offered a place is not turned away, the join the full line then refused is", async () => {
    const hour = thisHour - HOUR_MS;
    reset([
      {
        event: "upgrade",
        at: at(hour, 1),
        outcome: "refused",
        reason: "bridge_busy",
        closeCode: 1013,
        lineOffered: 1,
      },
      { event: "line_join", at: at(hour, 2), outcome: "refused", reason: "bridge_busy" },
      // Told busy with no place (the line full at the upgrade): turned away there.
      {
        event: "upgrade",
        at: at(hour, 3),
        outcome: "refused",
        reason: "bridge_busy",
        closeCode: 1013,
        lineOffered: 0,
      },
      // Offered a place and took it: waiting, not turned away.
      {
        event: "upgrade",
        at: at(hour, 4),
        outcome: "refused",
        reason: "bridge_busy",
        closeCode: 1013,
        lineOffered: 1,
      },
      { event: "line_join", at: at(hour, 5), outcome: "connected" },
    ]);
    const result = await stats(["--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.totals).toMatchObject({ turnedAway: 2, waited: 1 });
  });

  it("answers the issue's peak hour (41 sessions of 6.2 min) with Erlang C and B, saying when the line is unbounded", async () => {
    const hour = thisHour - HOUR_MS;
    reset([
      {
        event: "upgrade",
        at: at(hour, 5),
        outcome: "connected",
        bridge: "gpu-a",
        sampleInterval: 41,
      },
      {
        event: "session_end",
        at: at(hour, 9),
        bridge: "gpu-a",
        sessionMs: 372_000,
        sampleInterval: 41,
      },
    ]);
    const result = await stats([]);
    expect(result.code, result.stderr).toBe(0);
    const hourText = iso(hour).replace("T", " ").slice(0, 16);
    expect(result.stdout).toContain(
      [
        `at the peak hour (${hourText} UTC: 41 visitors, sessions of 6.2 min on average, 4.2 Erlang; the stack has 1 bridge)`,
        "  with the line (Erlang C): 4 GPUs: unbounded (the line grows without end); 5: 5.3 min mean wait; 6: 1.2; 7: 0.38 → 7 GPUs for a mean wait ≤ 1 min",
        "  without a line (Erlang B): 4 GPUs: 33 % turned away; 5: 22 %; 6: 13 %; 7: 7.5 %; 8: 3.8 % → 8 GPUs for ≤ 5 % turned away",
      ].join("\n"),
    );
    const tighter = await stats(["--target-wait", "0.1", "--target-turned-away", "0.01", "--json"]);
    const report = JSON.parse(tighter.stdout) as StatsReport;
    expect(report.sizing?.withLine.gpus).toBe(9);
    expect(report.sizing?.withoutLine.gpus).toBe(10);
    // A loose target needs fewer GPUs than the load (4.2 Erlang): the rows still end at the answer.
    const loose = await stats(["--target-turned-away", "0.6"]);
    expect(loose.stdout).toContain(
      "  without a line (Erlang B): 3 GPUs: 47 % turned away → 3 GPUs for ≤ 60 % turned away",
    );
  });

  it("says there are no points in the window (exit 0)", async () => {
    reset([{ event: "upgrade", at: new Date(now.getTime() - 48 * HOUR_MS), outcome: "connected" }]);
    const result = await stats([]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^stats: no points in dataset ${DATASET} in the last 24h \\(since `),
    );
    const json = JSON.parse((await stats(["--json"])).stdout) as StatsReport;
    expect(json.hours).toEqual([]);
    expect(json.sizing).toBeNull();
    expect(json.sizingNote).toBe("no visitor asked for a session in the window");
    // Two days back, the point is in.
    const wider = JSON.parse((await stats(["--json", "--since", "3d"])).stdout) as StatsReport;
    expect(wider.totals.sessions).toBe(1);
  });

  it("reads a dataset no point has created yet as empty, saying so (exit 0)", async () => {
    reset();
    delete datasets[DATASET];
    const result = await stats([]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `stats: dataset ${DATASET} does not exist yet: the edge's first point creates it`,
    );
    expect(result.stdout).toMatch(
      new RegExp(`^stats: no points in dataset ${DATASET} in the last 24h`),
    );
    const json = JSON.parse((await stats(["--json"])).stdout) as StatsReport;
    expect(json.hours).toEqual([]);
  });

  it.each([
    [
      "a wrong token",
      { token: "wrong" },
      'stats: the SQL API answered 401: Authentication error (code 10000): the token needs "Account Analytics: Read" on this account',
    ],
    [
      "an account without Analytics Engine",
      { notEnabled: true },
      "stats: the SQL API answered 403: no_access_to_analytics_engine (code 10089): Workers Analytics Engine is not enabled on this account (enable it once, in the Cloudflare dashboard)",
    ],
    [
      "SQL the API refuses",
      { failure: { status: 422, body: "Input was invalid: unknown column 'blob21'" } },
      "stats: the SQL API answered 422: Input was invalid: unknown column 'blob21'",
    ],
  ])(
    "ends at %s with one line naming the status and the API's message (exit 1)",
    async (_, change, line) => {
      reset();
      const { token, ...rest } = change as {
        token?: string;
        notEnabled?: boolean;
        failure?: { status: number; body: string };
      };
      Object.assign(scenario, rest);
      const result = await stats([], token ? { [ANALYTICS_TOKEN_ENV]: token } : {});
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr.trimEnd().split("\n")).toEqual([
        "stats: querying 1 of 6: upgrades per hour, bridge, outcome and reason…",
        line,
      ]);
    },
  );

  it("names the token's variable and permission when it is missing (exit 2), before any query", async () => {
    reset();
    const result = await stats([], { [ANALYTICS_TOKEN_ENV]: undefined });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `stats: ${ANALYTICS_TOKEN_ENV} is not set: export a Cloudflare API token with "Account Analytics: Read" (dashboard → My Profile → API Tokens; never the stack's deploy token)\n`,
    );
    expect(standIn.queries).toEqual([]);
  });

  it("names the key and the file when the stack has no dataset (exit 2)", async () => {
    reset();
    const result = await stats([], { [STACK_DIR_ENV]: noDatasetDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "stats: stack staging has no Analytics Engine dataset: set voice-edge:analytics.dataset in Pulumi.staging.yaml (and pulumi up, so the edge writes points)\n",
    );
  });

  it.each(["24", "0h", "1w", "91d", "2161h"])(
    "refuses --since %s in one line and the usage (exit 2)",
    async (since) => {
      reset();
      const result = await stats(["--since", since]);
      expect(result.code).toBe(2);
      expect(result.stderr.split("\n")[0]).toBe(
        `stats: --since "${since}" must be a whole number of minutes, hours or days (30m, 24h, 7d), from 1m to 90d (Analytics Engine keeps points 3 months)`,
      );
      expect(result.stderr.split("\n")[1]).toMatch(/^usage: npm run stats -- /);
      expect(standIn.queries).toEqual([]);
    },
  );

  it("sends the window it was given: 30m, 90d", async () => {
    reset();
    await stats(["--since", "30m"]);
    expect(standIn.queries[0]).toContain("timestamp > NOW() - INTERVAL '30' MINUTE");
    reset();
    await stats(["--since", "90d"]);
    expect(standIn.queries[0]).toContain("timestamp > NOW() - INTERVAL '90' DAY");
  });

  it("refuses an --svg path in a missing folder in one line (exit 2), before any query", async () => {
    reset();
    const result = await stats(["--svg", join(outDir, "missing", "chart.svg")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `stats: --svg ${join(outDir, "missing", "chart.svg")}: the folder ${join(outDir, "missing")} does not exist\n`,
    );
    expect(standIn.queries).toEqual([]);
  });

  it("writes a well-formed SVG with the sessions and the busy share per hour", async () => {
    reset();
    const path = join(outDir, "chart.svg");
    const result = await stats(["--svg", path]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`stats: chart written to ${path}`);
    const svg = readFileSync(path, "utf8");
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const parsed = await page.evaluate((text) => {
        const doc = new DOMParser().parseFromString(text, "image/svg+xml");
        const error = doc.querySelector("parsererror");
        return {
          error: error?.textContent ?? null,
          root: doc.documentElement.localName,
          bars: [...doc.querySelectorAll("#sessions rect")].map((rect) => [
            rect.getAttribute("data-hour"),
            Number(rect.getAttribute("data-sessions")),
          ]),
          busy: doc.querySelector("#busy-share")?.getAttribute("points")?.split(" ").length ?? 0,
        };
      }, svg);
      expect(parsed.error).toBeNull();
      expect(parsed.root).toBe("svg");
      expect(parsed.bars).toEqual([
        [iso(h1), 4],
        [iso(h2), 1],
      ]);
      expect(parsed.busy).toBe(2);
    } finally {
      await browser.close();
    }
  });
});

describe("docs/operators-numbers.md", () => {
  it("prints the SQL stats sends, as queries.ts builds it", () => {
    const text = readFileSync(join(PROJECT_ROOT, "docs", "operators-numbers.md"), "utf8");
    const start = text.indexOf("## `npm run stats`");
    const doc = text.slice(start, text.indexOf("\n## ", start + 1));
    const queries = statsQueries("voice_edge_prod", { amount: 24, unit: "HOUR" });
    for (const name of STATS_QUERIES) expect(doc).toContain(`\`\`\`sql\n${queries[name]}\n\`\`\``);
    expect(doc.match(/```sql\n/g)).toHaveLength(STATS_QUERIES.length);
  });
});

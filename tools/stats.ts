/**
 * `npm run stats -- --stack <name>`: the operator's numbers from the edge's Analytics Engine
 * dataset through the SQL API — per hour and per bridge, sessions, visitors turned away, waits in
 * the line, refusals by reason, time to the 101, GPU busy share and session length — and how many
 * GPUs the busiest hour asks for (Erlang C with the line, Erlang B without). `--json` for scripts,
 * `--svg <path>` for a chart. docs/operators-numbers.md says what each number means.
 */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PROJECT, type StackSettings } from "../infra/config/schema";
import { bridgesOf } from "../infra/config/bridges";
import { knownStacks, loadStackSettings, stackFileName } from "../infra/config/stackFiles";
import {
  STATS_QUERIES,
  STATS_QUERY_TITLES,
  statsQueries,
  type StatsQueryName,
  type StatsWindow,
} from "../worker/src/analytics/queries";
import {
  SQL_API_PERMISSION,
  describeSqlFailure,
  numberOf,
  querySql,
  textOf,
  type SqlAnswer,
  type SqlFailure,
} from "../worker/src/analytics/sqlApi";
import { isTurnedAway } from "../worker/src/analytics/schema";
import { erlangB, gpusForMeanWait, gpusForTurnedAway, meanWait, offeredLoad } from "./lib/erlang";
import { CommandFailure, UsageError, defineCommand, isEntryPoint, main } from "./lib/cli";

/** The environment variable holding the read token: never the stack's deploy token. */
export const ANALYTICS_TOKEN_ENV = "CLOUDFLARE_ANALYTICS_TOKEN";
/** The stack key naming the dataset (infra/config/analytics.ts). */
export const DATASET_KEY = `${PROJECT}:analytics.dataset`;
/** Analytics Engine keeps points 3 months: a longer window would read less than it says. */
export const MAX_SINCE_DAYS = 90;

const command = defineCommand({
  name: "stats",
  options: {
    stack: {
      type: "string",
      value: "<name>",
      required: true,
      description: `the stack whose dataset to read (${knownStacks().join(", ")})`,
    },
    since: {
      type: "string",
      value: "<30m|24h|7d>",
      default: "24h",
      description: `how far back to look, in minutes, hours or days (at most ${MAX_SINCE_DAYS}d)`,
    },
    json: { type: "boolean", description: "print the numbers as JSON (docs/operators-numbers.md)" },
    svg: {
      type: "string",
      value: "<path>",
      description: "write a chart of sessions and GPU busy share per hour to this file",
    },
    "target-wait": {
      type: "string",
      value: "<minutes>",
      default: "1",
      description: "the sizing's target mean wait in the line (Erlang C)",
    },
    "target-turned-away": {
      type: "string",
      value: "<share>",
      default: "0.05",
      description: "the sizing's target share turned away without a line (Erlang B)",
    },
  },
  notes: [
    `environment: ${ANALYTICS_TOKEN_ENV} (required: a token with "${SQL_API_PERMISSION}"), CLOUDFLARE_BASE_URL (optional API base URL)`,
    "exit: 0 numbers printed (or no points in the window), 1 the SQL API failed, 2 a usage or configuration mistake",
  ],
});

export interface Since extends StatsWindow {
  text: string;
  ms: number;
}

const SINCE_UNITS = {
  m: ["MINUTE", 60_000],
  h: ["HOUR", 3_600_000],
  d: ["DAY", 86_400_000],
} as const;

/** `30m`, `24h`, `7d`: a whole number of minutes, hours or days, at most MAX_SINCE_DAYS. */
export function parseSince(text: string): Since {
  const match = /^(\d+)([mhd])$/.exec(text.trim());
  const bad = () =>
    new UsageError(
      `--since "${text}" must be a whole number of minutes, hours or days (30m, 24h, 7d), from 1m to ${MAX_SINCE_DAYS}d (Analytics Engine keeps points 3 months)`,
    );
  if (!match) throw bad();
  const amount = Number(match[1]);
  const [unit, unitMs] = SINCE_UNITS[match[2] as keyof typeof SINCE_UNITS];
  const ms = amount * unitMs;
  if (amount < 1 || ms > MAX_SINCE_DAYS * 86_400_000) throw bad();
  return { text: text.trim(), amount, unit, ms };
}

function positiveNumber(option: string, text: string, max = Infinity): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > max)
    throw new UsageError(
      `--${option} "${text}" must be a number above 0${max < Infinity ? ` and at most ${max}` : ""}`,
    );
  return value;
}

/** The stack's settings and its dataset (`voice-edge:analytics.dataset`, validated with the rest). */
export function statsSettings(stack: string): { settings: StackSettings; dataset?: string } {
  const settings = loadStackSettings(stack);
  return { settings, dataset: settings.analytics?.dataset };
}

// ---- the numbers ----

/** One hour of one bridge ("" when no bridge is named: refusals before a bridge, the line). */
export interface HourRow {
  hour: string;
  bridge: string;
  sessions: number;
  turnedAway: number;
  refusals: Record<string, number>;
  waited: number;
  turns: number;
  leftLine: number;
  waitMs: { mean: number | null; p95: number | null };
  msTo101: { p50: number | null; p95: number | null };
  watchedMinutes: number;
  busyMinutes: number;
  busyShare: number | null;
  sessionEnds: number;
  meanSessionMs: number | null;
}

export interface Sizing {
  peakHour: string;
  visitors: number;
  meanSessionMinutes: number;
  erlangs: number;
  bridges: number;
  withLine: {
    targetMeanWaitMinutes: number;
    gpus: number;
    rows: { gpus: number; meanWaitMinutes: number | null }[];
  };
  withoutLine: {
    targetTurnedAway: number;
    gpus: number;
    rows: { gpus: number; turnedAway: number }[];
  };
}

export interface StatsReport {
  stack: string;
  dataset: string;
  since: string;
  from: string;
  to: string;
  hours: HourRow[];
  totals: {
    sessions: number;
    turnedAway: number;
    waited: number;
    leftLine: number;
    refusals: Record<string, number>;
    msTo101: { p50: number | null; p95: number | null };
    meanWaitMs: number | null;
    busyShare: number | null;
    meanSessionMs: number | null;
  };
  /** null when the window has no visitors or no session lengths; `sizingNote` says why. */
  sizing: Sizing | null;
  sizingNote?: string;
}

/** "2026-05-01 14:00:00" (the SQL API's DateTime, UTC) as ISO. */
function isoHour(value: string): string {
  const text = value.includes("T") ? value : `${value.replace(" ", "T")}Z`;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? value : date.toISOString().replace(".000Z", "Z");
}

const count = (value: Parameters<typeof numberOf>[0]) => numberOf(value) ?? 0;
const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

export function buildReport(
  answers: Record<StatsQueryName, SqlAnswer>,
  context: {
    stack: string;
    dataset: string;
    since: Since;
    now: Date;
    bridges: number;
    targetMeanWaitMinutes: number;
    targetTurnedAway: number;
  },
): StatsReport {
  const rows = new Map<string, HourRow & { waitTotalMs: number; sessionTotalMs: number }>();
  const rowOf = (record: Record<string, unknown>) => {
    const hour = isoHour(textOf(record.hour as string));
    const bridge = textOf(record.bridge as string);
    const key = `${hour}\u0000${bridge}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        hour,
        bridge,
        sessions: 0,
        turnedAway: 0,
        refusals: {},
        waited: 0,
        turns: 0,
        leftLine: 0,
        waitMs: { mean: null, p95: null },
        msTo101: { p50: null, p95: null },
        watchedMinutes: 0,
        busyMinutes: 0,
        busyShare: null,
        sessionEnds: 0,
        meanSessionMs: null,
        waitTotalMs: 0,
        sessionTotalMs: 0,
      };
      rows.set(key, row);
    }
    return row;
  };
  for (const record of answers.upgrades.data) {
    const row = rowOf(record);
    const requests = count(record.requests);
    const outcome = textOf(record.outcome);
    if (outcome === "connected") row.sessions += requests;
    else {
      const reason = textOf(record.reason) || "(none)";
      row.refusals[reason] = (row.refusals[reason] ?? 0) + requests;
      const lineOffered = numberOf(record.line_offered) ?? 0;
      if (isTurnedAway({ event: "upgrade", outcome, reason, lineOffered }))
        row.turnedAway += requests;
    }
  }
  for (const record of answers.timeTo101.data) {
    const row = rowOf(record);
    row.msTo101 = { p50: numberOf(record.p50_ms), p95: numberOf(record.p95_ms) };
  }
  for (const record of answers.line.data) {
    const row = rowOf(record);
    const visitors = count(record.visitors);
    const event = textOf(record.event);
    const refused = textOf(record.outcome) === "refused";
    if (event === "line_join") {
      const reason = textOf(record.reason);
      if (!refused) row.waited += visitors;
      else if (isTurnedAway({ event, outcome: "refused", reason, lineOffered: 0 }))
        row.turnedAway += visitors;
    } else if (event === "line_turn") {
      row.turns += visitors;
      row.waitTotalMs += count(record.wait_ms_total);
      row.waitMs.p95 = numberOf(record.wait_p95_ms);
    } else if (event === "line_leave") row.leftLine += visitors;
  }
  for (const record of answers.busy.data) {
    const row = rowOf(record);
    row.watchedMinutes += count(record.minutes);
    row.busyMinutes += count(record.busy_minutes);
  }
  for (const record of answers.sessionEnds.data) {
    const row = rowOf(record);
    row.sessionEnds += count(record.sessions);
    row.sessionTotalMs += count(record.session_ms_total);
  }

  const hours = [...rows.values()]
    .sort((a, b) => a.hour.localeCompare(b.hour) || a.bridge.localeCompare(b.bridge))
    .map(({ waitTotalMs, sessionTotalMs, ...row }) => ({
      ...row,
      waitMs: { mean: ratio(waitTotalMs, row.turns), p95: row.waitMs.p95 },
      busyShare: ratio(row.busyMinutes, row.watchedMinutes),
      meanSessionMs: ratio(sessionTotalMs, row.sessionEnds),
    }));
  const sum = (pick: (row: HourRow) => number) =>
    hours.reduce((total, row) => total + pick(row), 0);
  const refusals: Record<string, number> = {};
  for (const row of hours)
    for (const [reason, n] of Object.entries(row.refusals))
      refusals[reason] = (refusals[reason] ?? 0) + n;
  const windowRow = answers.timeTo101Window.data[0] ?? {};
  const sessionEnds = sum((row) => row.sessionEnds);
  const sessionTotalMs = sum((row) => (row.meanSessionMs ?? 0) * row.sessionEnds);
  const turns = sum((row) => row.turns);
  const totals = {
    sessions: sum((row) => row.sessions),
    turnedAway: sum((row) => row.turnedAway),
    waited: sum((row) => row.waited),
    leftLine: sum((row) => row.leftLine),
    refusals: Object.fromEntries(Object.entries(refusals).sort(([, a], [, b]) => b - a)),
    msTo101: {
      p50: count(windowRow.sessions) > 0 ? numberOf(windowRow.p50_ms) : null,
      p95: count(windowRow.sessions) > 0 ? numberOf(windowRow.p95_ms) : null,
    },
    meanWaitMs: ratio(
      sum((row) => (row.waitMs.mean ?? 0) * row.turns),
      turns,
    ),
    busyShare: ratio(
      sum((row) => row.busyMinutes),
      sum((row) => row.watchedMinutes),
    ),
    meanSessionMs: ratio(sessionTotalMs, sessionEnds),
  };
  const { sizing, note } = sizingOf(hours, totals.meanSessionMs, context);
  return {
    stack: context.stack,
    dataset: context.dataset,
    since: context.since.text,
    from: new Date(context.now.getTime() - context.since.ms).toISOString(),
    to: context.now.toISOString(),
    hours,
    totals,
    sizing,
    ...(note ? { sizingNote: note } : {}),
  };
}

/** At most this many GPU counts in a sizing line: the last ones before the answer. */
const SIZING_ROWS = 6;

function sizingOf(
  hours: HourRow[],
  windowMeanSessionMs: number | null,
  context: { bridges: number; targetMeanWaitMinutes: number; targetTurnedAway: number },
): { sizing: Sizing | null; note?: string } {
  const perHour = new Map<string, { visitors: number; ends: number; totalMs: number }>();
  for (const row of hours) {
    const hour = perHour.get(row.hour) ?? { visitors: 0, ends: 0, totalMs: 0 };
    // Visitors who asked for a GPU: served, turned away, or gave up waiting in line.
    hour.visitors += row.sessions + row.turnedAway + row.leftLine;
    hour.ends += row.sessionEnds;
    hour.totalMs += (row.meanSessionMs ?? 0) * row.sessionEnds;
    perHour.set(row.hour, hour);
  }
  let peak: [string, { visitors: number; ends: number; totalMs: number }] | undefined;
  for (const entry of perHour) if (!peak || entry[1].visitors > peak[1].visitors) peak = entry;
  if (!peak || peak[1].visitors === 0)
    return { sizing: null, note: "no visitor asked for a session in the window" };
  const [peakHour, { visitors, ends, totalMs }] = peak;
  const meanMs = ends > 0 ? totalMs / ends : windowMeanSessionMs;
  if (meanMs === null || meanMs <= 0)
    return {
      sizing: null,
      note: "no session lengths in the window (session_end points come from the bridge watch): no sizing answer",
    };
  const h = meanMs / 60_000;
  const load = offeredLoad(visitors / 60, h);
  const withLineGpus = gpusForMeanWait(load, h, context.targetMeanWaitMinutes);
  const withoutLineGpus = gpusForTurnedAway(load, context.targetTurnedAway);
  const span = (needed: number) => {
    // Ends at the answer, which may be below the load (Erlang B with a loose target).
    const from = Math.max(1, Math.min(needed, Math.floor(load)), needed - SIZING_ROWS + 1);
    return Array.from({ length: needed - from + 1 }, (_, i) => from + i);
  };
  return {
    sizing: {
      peakHour,
      visitors,
      meanSessionMinutes: h,
      erlangs: load,
      bridges: context.bridges,
      withLine: {
        targetMeanWaitMinutes: context.targetMeanWaitMinutes,
        gpus: withLineGpus,
        rows: span(withLineGpus).map((gpus) => {
          const wait = meanWait(gpus, load, h);
          return { gpus, meanWaitMinutes: wait.bounded ? wait.value : null };
        }),
      },
      withoutLine: {
        targetTurnedAway: context.targetTurnedAway,
        gpus: withoutLineGpus,
        rows: span(withoutLineGpus).map((gpus) => ({ gpus, turnedAway: erlangB(gpus, load) })),
      },
    },
  };
}

// ---- text ----

/** Two significant digits, as a person says a number: 5.3, 1.2, 0.38, 12. */
export function twoDigits(value: number): string {
  return String(Number(value.toPrecision(2)));
}

function duration(ms: number | null): string {
  if (ms === null) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${twoDigits(ms / 1000)} s`;
  return `${twoDigits(ms / 60_000)} min`;
}

function percent(share: number | null): string {
  return share === null ? "-" : `${twoDigits(share * 100)} %`;
}

function hourText(iso: string): string {
  return iso.replace("T", " ").slice(0, 16);
}

const gpuWord = (gpus: number) => (gpus === 1 ? " GPU" : " GPUs");

/** The sizing answer as the two lines `stats` prints. */
export function sizingText(sizing: Sizing): string[] {
  const { withLine, withoutLine } = sizing;
  const waits = withLine.rows.map(({ gpus, meanWaitMinutes }, i) => {
    const value =
      meanWaitMinutes === null
        ? "unbounded (the line grows without end)"
        : `${twoDigits(meanWaitMinutes)}${i === 0 || withLine.rows[i - 1].meanWaitMinutes === null ? " min mean wait" : ""}`;
    return `${gpus}${i === 0 ? gpuWord(gpus) : ""}: ${value}`;
  });
  const refused = withoutLine.rows.map(
    ({ gpus, turnedAway }, i) =>
      `${gpus}${i === 0 ? gpuWord(gpus) : ""}: ${twoDigits(turnedAway * 100)} %${i === 0 ? " turned away" : ""}`,
  );
  return [
    `at the peak hour (${hourText(sizing.peakHour)} UTC: ${sizing.visitors} visitors, sessions of ${twoDigits(sizing.meanSessionMinutes)} min on average, ${twoDigits(sizing.erlangs)} Erlang; the stack has ${sizing.bridges} bridge${sizing.bridges === 1 ? "" : "s"})`,
    `  with the line (Erlang C): ${waits.join("; ")} → ${withLine.gpus} GPUs for a mean wait ≤ ${twoDigits(withLine.targetMeanWaitMinutes)} min`,
    `  without a line (Erlang B): ${refused.join("; ")} → ${withoutLine.gpus} GPUs for ≤ ${twoDigits(withoutLine.targetTurnedAway * 100)} % turned away`,
  ];
}

const COLUMNS = [
  "hour (UTC)",
  "bridge",
  "sessions",
  "turned away",
  "waited",
  "wait mean",
  "wait p95",
  "to 101 p50",
  "to 101 p95",
  "GPU busy",
  "session mean",
];

export function reportText(report: StatsReport): string {
  const cells = report.hours.map((row) => [
    hourText(row.hour),
    row.bridge || "-",
    String(row.sessions),
    String(row.turnedAway),
    String(row.waited),
    duration(row.waitMs.mean),
    duration(row.waitMs.p95),
    duration(row.msTo101.p50),
    duration(row.msTo101.p95),
    percent(row.busyShare),
    duration(row.meanSessionMs),
  ]);
  const widths = COLUMNS.map((title, i) =>
    Math.max(title.length, ...cells.map((row) => row[i].length)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  const { totals } = report;
  const reasons = Object.entries(totals.refusals);
  return [
    `stats: stack ${report.stack}, dataset ${report.dataset}, the last ${report.since} (${hourText(report.from)} → ${hourText(report.to)} UTC)`,
    "",
    line(COLUMNS),
    ...cells.map(line),
    "",
    `over the window: ${totals.sessions} sessions, ${totals.turnedAway} turned away, ${totals.waited} waited in line (mean ${duration(totals.meanWaitMs)}), ${totals.leftLine} left the line; time to the 101 p50 ${duration(totals.msTo101.p50)}, p95 ${duration(totals.msTo101.p95)}; GPU busy ${percent(totals.busyShare)}; sessions of ${duration(totals.meanSessionMs)} on average`,
    `refusals by reason: ${reasons.length === 0 ? "none" : reasons.map(([reason, n]) => `${reason} ${n}`).join(", ")}`,
    "",
    ...(report.sizing ? sizingText(report.sizing) : [`sizing: ${report.sizingNote}`]),
  ].join("\n");
}

// ---- the chart ----

const escapeXml = (text: string) =>
  text.replace(
    /[<>&"']/g,
    (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot", "'": "apos" }[c]};`,
  );

/** Sessions per hour as bars (left axis) and the fleet's GPU busy share as a line (right axis, 0–100 %). */
export function chartSvg(report: StatsReport): string {
  const byHour = new Map<string, { sessions: number; busy: number; watched: number }>();
  for (const row of report.hours) {
    const hour = byHour.get(row.hour) ?? { sessions: 0, busy: 0, watched: 0 };
    hour.sessions += row.sessions;
    hour.busy += row.busyMinutes;
    hour.watched += row.watchedMinutes;
    byHour.set(row.hour, hour);
  }
  const known = [...byHour.keys()].sort();
  const first = new Date(known[0]).getTime();
  const last = new Date(known[known.length - 1]).getTime();
  const slots = Array.from({ length: Math.round((last - first) / 3_600_000) + 1 }, (_, i) =>
    new Date(first + i * 3_600_000).toISOString().replace(".000Z", "Z"),
  );
  const width = 900;
  const height = 320;
  const left = 50;
  const right = 50;
  const top = 40;
  const bottom = 40;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const slot = plotWidth / slots.length;
  const maxSessions = Math.max(1, ...slots.map((hour) => byHour.get(hour)?.sessions ?? 0));
  const bars = slots
    .map((hour, i) => {
      const sessions = byHour.get(hour)?.sessions ?? 0;
      const barHeight = (sessions / maxSessions) * plotHeight;
      return `<rect x="${(left + i * slot + slot * 0.1).toFixed(1)}" y="${(top + plotHeight - barHeight).toFixed(1)}" width="${(slot * 0.8).toFixed(1)}" height="${barHeight.toFixed(1)}" data-hour="${hour}" data-sessions="${sessions}"><title>${escapeXml(hourText(hour))} UTC: ${sessions} sessions</title></rect>`;
    })
    .join("\n    ");
  const points = slots.flatMap((hour, i) => {
    const hourData = byHour.get(hour);
    if (!hourData || hourData.watched === 0) return [];
    const share = hourData.busy / hourData.watched;
    return [
      `${(left + (i + 0.5) * slot).toFixed(1)},${(top + plotHeight - share * plotHeight).toFixed(1)}`,
    ];
  });
  const title = `Sessions and GPU busy share per hour — stack ${report.stack}, the last ${report.since}`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `  <title>${escapeXml(title)}</title>`,
    `  <text x="${left}" y="20" font-size="14">${escapeXml(title)}</text>`,
    `  <line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#888"/>`,
    `  <text x="${left - 6}" y="${top + 4}" text-anchor="end">${maxSessions}</text>`,
    `  <text x="${left - 6}" y="${top + plotHeight}" text-anchor="end">0</text>`,
    `  <text x="${left + plotWidth + 6}" y="${top + 4}">100 %</text>`,
    `  <text x="${left + plotWidth + 6}" y="${top + plotHeight}">0 %</text>`,
    `  <text x="${left}" y="${height - 12}">${escapeXml(hourText(slots[0]))} UTC</text>`,
    `  <text x="${left + plotWidth}" y="${height - 12}" text-anchor="end">${escapeXml(hourText(slots[slots.length - 1]))} UTC</text>`,
    `  <g id="sessions" fill="#4a7fb5">`,
    `    <title>sessions per hour</title>`,
    `    ${bars}`,
    `  </g>`,
    `  <polyline id="busy-share" fill="none" stroke="#d9822b" stroke-width="2" points="${points.join(" ")}"><title>GPU busy share per hour</title></polyline>`,
    `  <g font-size="12"><rect x="${left + plotWidth - 250}" y="8" width="10" height="10" fill="#4a7fb5"/><text x="${left + plotWidth - 235}" y="17">sessions</text><rect x="${left + plotWidth - 160}" y="12" width="14" height="2" fill="#d9822b"/><text x="${left + plotWidth - 140}" y="17">GPU busy share</text></g>`,
    `</svg>`,
    "",
  ].join("\n");
}

// ---- the command ----

export async function run(argv: string[]): Promise<number> {
  const args = command.parse(argv);
  const since = parseSince(args.since);
  const targetMeanWaitMinutes = positiveNumber("target-wait", args["target-wait"]);
  const targetTurnedAway = positiveNumber("target-turned-away", args["target-turned-away"], 1);
  const { stack } = args;
  if (!knownStacks().includes(stack))
    throw new UsageError(
      `unknown stack "${stack}": the stacks here are ${knownStacks().join(", ")}`,
    );
  const svgPath = args.svg === undefined ? undefined : resolve(args.svg);
  if (svgPath !== undefined) {
    const folder = dirname(svgPath);
    if (!existsSync(folder) || !statSync(folder).isDirectory())
      throw new CommandFailure(`--svg ${args.svg}: the folder ${folder} does not exist`, 2);
  }
  const { settings, dataset } = statsSettings(stack);
  if (!dataset)
    throw new CommandFailure(
      `stack ${stack} has no Analytics Engine dataset: set ${DATASET_KEY} in ${stackFileName(stack)} (and pulumi up, so the edge writes points)`,
      2,
    );
  const token = process.env[ANALYTICS_TOKEN_ENV];
  if (!token)
    throw new CommandFailure(
      `${ANALYTICS_TOKEN_ENV} is not set: export a Cloudflare API token with "${SQL_API_PERMISSION}" (dashboard → My Profile → API Tokens; never the stack's deploy token)`,
      2,
    );

  const target = {
    accountId: settings.accountId,
    token,
    baseUrl: process.env.CLOUDFLARE_BASE_URL || undefined,
  };
  const sql = statsQueries(dataset, since);
  const answers = {} as Record<StatsQueryName, SqlAnswer>;
  for (const [i, name] of STATS_QUERIES.entries()) {
    console.error(
      `stats: querying ${i + 1} of ${STATS_QUERIES.length}: ${STATS_QUERY_TITLES[name]}…`,
    );
    const result = await querySql(target, sql[name]);
    if (!result.ok && datasetNotCreated(result.failure)) {
      console.error(
        `stats: dataset ${dataset} does not exist yet: the edge's first point creates it (is ${DATASET_KEY} deployed with pulumi up?)`,
      );
      for (const rest of STATS_QUERIES) answers[rest] ??= { meta: [], data: [], rows: 0 };
      break;
    }
    if (!result.ok) throw new CommandFailure(describeSqlFailure(result.failure), 1);
    answers[name] = result.answer;
  }
  const now = new Date();
  const report = buildReport(answers, {
    stack,
    dataset,
    since,
    now,
    bridges: bridgesOf(settings).length,
    targetMeanWaitMinutes,
    targetTurnedAway,
  });
  const empty = report.hours.length === 0;
  if (args.json) console.log(JSON.stringify(report, null, 2));
  else if (empty)
    console.log(
      `stats: no points in dataset ${dataset} in the last ${since.text} (since ${hourText(report.from)} UTC)`,
    );
  else console.log(reportText(report));
  if (svgPath !== undefined) {
    if (empty) console.error(`stats: no points: no chart written to ${args.svg}`);
    else {
      writeFileSync(svgPath, chartSvg(report));
      console.error(`stats: chart written to ${args.svg}`);
    }
  }
  return 0;
}

/** The engine's answer for a dataset no point has created yet (a 422 naming an unknown table). */
function datasetNotCreated(failure: SqlFailure): boolean {
  return failure.kind === "status" && /unknown table/i.test(failure.message);
}

if (isEntryPoint(import.meta.url)) void main(command, run);

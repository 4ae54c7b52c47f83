/**
 * The waiting line's tables: admission through the coordinator against today's admission (warm,
 * and with its memory cold) with k of N bridges busy, the head of the line's wait after a session
 * ends, a thousand waiting pages, and the fallback when the coordinator throws or hangs. Pure
 * functions over the samples `line.ts` collects; every order statistic from `test/support/stats.ts`.
 */
import { median, percentile, sortedAscending } from "../test/support/stats";
import { differenceAndNoise, expectedBusyTries, roundMedians, slopeOf } from "./fleetReport";

/** One upgrade that was served: ms from `new WebSocket` to its 101 and to the bridge's 0x00, and its log line's tries. */
export interface LineSample {
  round: number;
  to101: number;
  to00: number;
  /** Bridges tried, the one that served included. */
  tries: number;
  /** ms the edge waited for the coordinator (the log line's `lineMs`); through the coordinator only. */
  lineMs?: number;
}

/** The three ways in, with k bridges busy. */
export interface AdmissionCell {
  /** The edge with the `LINE` binding: the coordinator names the bridge. */
  coordinator: LineSample[];
  /** Today's admission in one isolate that sees every upgrade: its memory orders the tries. */
  todayWarm: LineSample[];
  /** Today's admission in isolates whose memory of busy bridges has lapsed: a random order. */
  todayCold: LineSample[];
}

/** One visitor at the head of the line while a session ends, ms from the page's close of that session. */
export interface TurnSample {
  /** To the head's `turn` message. */
  toTurn: number;
  /** To the first frame (0x00) of the head's session, opened with its ticket. */
  to00: number;
  /** The ticket's upgrade was served by the bridge reserved for it, in one try. */
  oneTry: boolean;
}

export interface CrowdFigures {
  visitors: number;
  /** The workerd process (edge and coordinator), bytes: before anyone joined, and with everyone waiting. */
  rssBefore: number;
  rssWaiting: number;
  /** RSS as the line grew (0 waiting first). */
  rssSteps: { waiting: number; rss: number }[];
  /** ms from the first join to the last page's first position. */
  joinAllMs: number;
  /** Per head that left: ms from its close until every other page had its new position. */
  moveUp: number[];
}

/** One upgrade through an edge whose coordinator fails, or through today's admission beside it. */
export interface FallbackSample {
  to101: number;
  tries: number;
  /** The log line's `lineFallback` (absent on today's path). */
  why?: string;
}

export interface LineFigures {
  bridges: number;
  /** The edge's bound on one call to the coordinator (`COORDINATOR_TIMEOUT_MS`). */
  coordinatorTimeoutMs: number;
  /** The stand-ins' delay before their 0x00 (PersonaPlex's system prompts). */
  promptDelayMs: number;
  /** Index k: k of `bridges` held busy, k = 0 … bridges − 1. */
  admission: AdmissionCell[];
  turns: TurnSample[];
  crowd?: CrowdFigures;
  fallback: { today: FallbackSample[]; throwing: FallbackSample[]; hanging: FallbackSample[] };
}

/** The coordinator's cost at k = 0 over today's admission may be at most this. */
export const COORDINATOR_COST_MS = 2;
/** An upgrade whose coordinator fails may cost its bounded call and at most this much more. */
export const FALLBACK_SLACK_MS = 25;
/** A session's end reaches the head of the line's 0x00 within this (judged on the p95). */
export const TURN_P95_MS = 1_000;
/** Turns measured at least. */
export const TURN_SAMPLES_MIN = 20;
/** Every waiting page has its new position this long after the head leaves (judged on the slowest). */
export const MOVE_UP_MS = 1_000;

export interface AdmissionRow {
  k: number;
  path: string;
  n: number;
  to101: { median: number; p95: number };
  to00: { median: number; p95: number };
  tries: { mean: number; min: number; max: number };
  /** What a uniformly random order alone averages: 1 + k / (N − k + 1) tries. */
  randomTries?: number;
  lineMs?: number;
  target: string;
  met?: boolean;
}

export interface LineRow {
  what: string;
  value: number;
  unit: "ms" | "MiB" | "KiB";
  /** Shown instead of the value. */
  display?: string;
  p95?: number;
  n?: number;
  target: string;
  /** undefined: no target (a floor or a detail). */
  met?: boolean;
}

const p95Of = (values: readonly number[]) => percentile(sortedAscending(values), 95);
const mean = (values: readonly number[]) =>
  values.length ? values.reduce((s, v) => s + v, 0) / values.length : Number.NaN;
const ms = (value: number) => `${value.toFixed(2)} ms`;
const signed = (value: number, digits = 2) => `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;

/** Tries per upgrade of a sample: their mean, least and most. */
export function triesOf(samples: readonly { tries: number }[]): {
  mean: number;
  min: number;
  max: number;
} {
  const tries = samples.map((s) => s.tries);
  return {
    mean: mean(tries),
    min: tries.length ? Math.min(...tries) : Number.NaN,
    max: tries.length ? Math.max(...tries) : Number.NaN,
  };
}

/** Every upgrade of the sample took exactly one try (and there was at least one). */
export const oneTryEach = (samples: readonly { tries: number }[]): boolean =>
  samples.length > 0 && samples.every((s) => s.tries === 1);

const PATHS = [
  ["coordinator", "through the coordinator"],
  ["todayWarm", "today, one warm isolate"],
  ["todayCold", "today, memory cold"],
] as const;

/** One row per k and way in: times, tries against a random order's, and the one-try target. */
export function admissionRows(f: LineFigures): AdmissionRow[] {
  return f.admission.flatMap((cell, k) =>
    PATHS.map(([key, path]) => {
      const samples = cell[key];
      const to101 = samples.map((s) => s.to101);
      const to00 = samples.map((s) => s.to00);
      const row: AdmissionRow = {
        k,
        path,
        n: samples.length,
        to101: { median: median(to101), p95: p95Of(to101) },
        to00: { median: median(to00), p95: p95Of(to00) },
        tries: triesOf(samples),
        randomTries: 1 + expectedBusyTries(f.bridges, k),
        target: "",
      };
      if (key === "coordinator") {
        row.lineMs = median(samples.flatMap((s) => (s.lineMs === undefined ? [] : [s.lineMs])));
        row.target = "one try each";
        row.met = oneTryEach(samples);
      }
      return row;
    }),
  );
}

/** Seconds-scale figures: the coordinator's cost, what it saves, the turn, the crowd, the fallback. */
export function lineRows(f: LineFigures): LineRow[] {
  const rows: LineRow[] = [];
  const none = f.admission[0];
  if (none) {
    for (const [label, value] of [
      ["101", (s: LineSample) => s.to101],
      ["0x00", (s: LineSample) => s.to00],
    ] as const) {
      const { delta, noise } = differenceAndNoise(
        roundMedians(none.coordinator, value),
        roundMedians(none.todayWarm, value),
      );
      rows.push({
        what: `0 of ${f.bridges} busy: the coordinator's cost to the ${label} (median over rounds, coordinator − today)`,
        value: delta,
        unit: "ms",
        n: none.coordinator.length,
        target: `≤ ${COORDINATOR_COST_MS} ms (rounds' noise ±${ms(noise)})`,
        met: delta <= COORDINATOR_COST_MS,
      });
    }
  }
  f.admission.forEach((cell, k) => {
    if (k === 0) return;
    const saved =
      median(cell.todayCold.map((s) => s.to101)) - median(cell.coordinator.map((s) => s.to101));
    rows.push({
      what: `${k} of ${f.bridges} busy: today with its memory cold − the coordinator, to the 101 (medians)`,
      value: saved,
      unit: "ms",
      n: cell.todayCold.length,
      target: `the busy tries the coordinator saves: ${triesOf(cell.todayCold).mean.toFixed(2)} → ${triesOf(cell.coordinator).mean.toFixed(2)} per upgrade`,
    });
  });

  const fromEnd = f.turns.map((t) => t.to00 - f.promptDelayMs);
  const turnP95 = p95Of(fromEnd);
  rows.push(
    {
      what: `a session's end → the head of the line's 0x00, less the prompt delay (${f.promptDelayMs} ms)`,
      value: median(fromEnd),
      p95: turnP95,
      n: fromEnd.length,
      unit: "ms",
      target: `p95 ≤ ${TURN_P95_MS} ms over ≥ ${TURN_SAMPLES_MIN} samples; max ${ms(Math.max(...fromEnd))}`,
      met: turnP95 <= TURN_P95_MS && fromEnd.length >= TURN_SAMPLES_MIN,
    },
    {
      what: "↳ of which the session's end → the head's `turn` message",
      value: median(f.turns.map((t) => t.toTurn)),
      p95: p95Of(f.turns.map((t) => t.toTurn)),
      n: f.turns.length,
      unit: "ms",
      target: "the coordinator's next look at the guards",
    },
    {
      what: "↳ and the `turn` message → the 0x00 (the ticket's upgrade)",
      value: median(f.turns.map((t) => t.to00 - t.toTurn - f.promptDelayMs)),
      p95: p95Of(f.turns.map((t) => t.to00 - t.toTurn - f.promptDelayMs)),
      n: f.turns.length,
      unit: "ms",
      target: `one try each: ${f.turns.filter((t) => t.oneTry).length} of ${f.turns.length}`,
      met: f.turns.length > 0 && f.turns.every((t) => t.oneTry),
    },
  );

  const crowd = f.crowd;
  if (crowd) {
    const MiB = 1024 * 1024;
    const grown = crowd.rssWaiting - crowd.rssBefore;
    const slope = slopeOf(crowd.rssSteps.map((s) => ({ x: s.waiting, y: s.rss })));
    rows.push(
      {
        what: `${crowd.visitors} pages waiting: workerd's RSS (edge and coordinator), before → waiting`,
        value: crowd.rssWaiting / MiB,
        display: `${(crowd.rssBefore / MiB).toFixed(1)} → ${(crowd.rssWaiting / MiB).toFixed(1)} MiB`,
        unit: "MiB",
        target: `${signed(grown / MiB, 1)} MiB; ${crowd.visitors} joined one after another in ${(crowd.joinAllMs / 1000).toFixed(1)} s`,
      },
      {
        what: `${crowd.visitors} pages waiting: RSS per waiting page (growth ÷ pages)`,
        value: grown / 1024 / crowd.visitors,
        unit: "KiB",
        target: `slope over the line's growth: ${(slope / 1024).toFixed(1)} KiB per page (${crowd.rssSteps.length} readings)`,
      },
      {
        what: `${crowd.visitors} pages waiting: the head leaves → every page has its new position`,
        value: median(crowd.moveUp),
        p95: Math.max(...crowd.moveUp),
        n: crowd.moveUp.length,
        unit: "ms",
        target: `≤ ${MOVE_UP_MS} ms each time (the p95 column is the slowest)`,
        met: crowd.moveUp.length > 0 && Math.max(...crowd.moveUp) <= MOVE_UP_MS,
      },
    );
  }

  const today = median(f.fallback.today.map((s) => s.to101));
  const allowed = f.coordinatorTimeoutMs + FALLBACK_SLACK_MS;
  rows.push({
    what: "fallback: today's admission beside it, to the 101",
    value: today,
    p95: p95Of(f.fallback.today.map((s) => s.to101)),
    n: f.fallback.today.length,
    unit: "ms",
    target: `the floor; tries per upgrade ${triesOf(f.fallback.today).mean.toFixed(2)}`,
  });
  for (const [label, samples] of [
    ["throws", f.fallback.throwing],
    ["hangs", f.fallback.hanging],
  ] as const) {
    const extra = median(samples.map((s) => s.to101)) - today;
    const whys = [...new Set(samples.map((s) => s.why ?? "none"))].join(", ");
    rows.push({
      what: `fallback: the coordinator ${label}, to the 101 over today's (medians)`,
      value: extra,
      p95: p95Of(samples.map((s) => s.to101)) - today,
      n: samples.length,
      unit: "ms",
      target: `≤ one bounded call more: ${f.coordinatorTimeoutMs} + ${FALLBACK_SLACK_MS} ms; tries per upgrade ${triesOf(samples).mean.toFixed(2)}; logged as ${whys}`,
      met: samples.length > 0 && extra <= allowed,
    });
  }
  return rows;
}

const cell = (value: number | undefined, digits: number) =>
  value === undefined || Number.isNaN(value) ? "—" : value.toFixed(digits);
const verdictOf = (met: boolean | undefined) =>
  met === undefined ? "" : met ? "pass" : "**over**";

/** The admission rows as Markdown. */
export function admissionTable(rows: readonly AdmissionRow[]): string {
  return [
    "| k busy | path | to the 101: median (p95) | to the 0x00: median (p95) | n | tries per upgrade: mean (min–max) | a random order alone | waiting for the coordinator (lineMs median) | target | verdict |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.k} | ${r.path} | ${cell(r.to101.median, 2)} (${cell(r.to101.p95, 2)}) ms | ${cell(r.to00.median, 2)} (${cell(r.to00.p95, 2)}) ms | ${r.n} | ${cell(r.tries.mean, 2)} (${cell(r.tries.min, 0)}–${cell(r.tries.max, 0)}) | ${cell(r.randomTries, 2)} | ${r.lineMs === undefined ? "" : `${cell(r.lineMs, 0)} ms`} | ${r.target} | ${verdictOf(r.met)} |`,
    ),
  ].join("\n");
}

/** The other rows as Markdown. */
export function lineTable(rows: readonly LineRow[]): string {
  return [
    "| figure | median | p95 | n | target | verdict |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) => {
      const digits = r.unit === "ms" ? 2 : 1;
      const value = r.display ?? `${cell(r.value, digits)} ${r.unit}`;
      const p95 = r.p95 === undefined ? "" : `${cell(r.p95, digits)} ${r.unit}`;
      return `| ${r.what} | ${value} | ${p95} | ${r.n ?? ""} | ${r.target} | ${verdictOf(r.met)} |`;
    }),
  ].join("\n");
}

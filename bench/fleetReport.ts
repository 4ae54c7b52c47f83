/**
 * The fleet table's arithmetic: what k busy bridges, a refusing one and a hanging one cost an
 * upgrade, against the single-bridge path measured in the same run. Pure functions over the
 * samples `fleet.ts` collects; every order statistic from `test/support/stats.ts`.
 */
import { median, percentile, sortedAscending } from "../test/support/stats";

/** One upgrade the edge admitted: ms from `new WebSocket` to its 101 and to the bridge's 0x00. */
export interface Admitted {
  round: number;
  to101: number;
  to00: number;
  /** Tries the log line lists as `busy` before the one that served. */
  busyTries: number;
}

/** One upgrade no bridge took: ms from `new WebSocket` to the close 1013, and the tries it made. */
export interface Refused {
  round: number;
  toClose: number;
  tries: number;
}

export interface FleetFigures {
  bridges: number;
  /** `bridgeConnectTimeoutMs` of every edge in the fleet bench. */
  perTryBoundMs: number;
  single: Admitted[];
  /** Index k: the upgrades with k bridges held busy, k = 0 … bridges − 1. */
  fleet: Admitted[][];
  allBusy: Refused[];
  /** Fresh isolates with one BRIDGES entry on a closed port: each upgrade, and whether it tried that entry. */
  refusing: { to101: number; triedRefusing: boolean }[];
  /**
   * Fresh isolates with one BRIDGES entry that accepts and never answers: each upgrade, `paid` for the
   * one that tried it, `before` / `after` for the others of its isolate.
   */
  hanging: { to101: number; phase: "before" | "paid" | "after" }[];
  /** Per hanging isolate, one upgrade with every other bridge held busy: whether the hanging entry came last, its try's ms. */
  hangingLast: { last: boolean; tryMs: number }[];
  /** Sequential round trips of one frame, µs: each round's p50, single path and fleet with none busy. */
  frames: { single: number[]; fleet: number[] };
}

/** The least-squares slope of y on x; NaN when x does not vary. */
export function slopeOf(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/**
 * Per count of x (e.g. busy tries skipped): how many samples, their median y, and the median's
 * rise over the count-0 median per step of x (NaN for count 0 or without count-0 samples).
 */
export function costByCount(
  points: readonly { x: number; y: number }[],
): { count: number; n: number; median: number; perStep: number }[] {
  const groups = new Map<number, number[]>();
  for (const p of points) groups.set(p.x, [...(groups.get(p.x) ?? []), p.y]);
  const base = groups.has(0) ? median(groups.get(0)!) : Number.NaN;
  return [...groups.keys()]
    .sort((a, b) => a - b)
    .map((count) => {
      const m = median(groups.get(count)!);
      return {
        count,
        n: groups.get(count)!.length,
        median: m,
        perStep: count === 0 ? Number.NaN : (m - base) / count,
      };
    });
}

/**
 * Two paths measured in the same rounds, by their per-round medians: the difference of the medians
 * over rounds, and the noise — the wider of the two paths' round-to-round ranges.
 */
export function differenceAndNoise(
  path: readonly number[],
  base: readonly number[],
): { delta: number; noise: number; within: boolean } {
  const range = (values: readonly number[]) => {
    const sorted = sortedAscending(values);
    return sorted.length ? sorted[sorted.length - 1] - sorted[0] : Number.NaN;
  };
  const delta = median(path) - median(base);
  const noise = Math.max(range(path), range(base));
  return { delta, noise, within: Math.abs(delta) <= noise };
}

/** The median of each round's values, in round order. */
export function roundMedians<T extends { round: number }>(
  samples: readonly T[],
  value: (sample: T) => number,
): number[] {
  const rounds = [...new Set(samples.map((s) => s.round))].sort((a, b) => a - b);
  return rounds.map((round) => median(samples.filter((s) => s.round === round).map(value)));
}

/**
 * Busy tries before the first free bridge when the order is uniformly random, k of n busy: each busy
 * bridge comes before all n − k free ones with probability 1 / (n − k + 1).
 */
export function expectedBusyTries(n: number, k: number): number {
  return k >= n ? n : k / (n - k + 1);
}

export interface FleetRow {
  what: string;
  median: number;
  p95?: number;
  n: number;
  meanBusyTries?: number;
  /** What a uniformly random order alone would give (the isolate's memory reorders). */
  randomBusyTries?: number;
  unit: "ms" | "µs";
  /** Shown instead of the median (a count, not a time). */
  display?: string;
  target: string;
  /** undefined: no target (a floor or a detail). */
  met?: boolean;
}

const p95Of = (values: readonly number[]) => percentile(sortedAscending(values), 95);
const mean = (values: readonly number[]) =>
  values.length ? values.reduce((s, v) => s + v, 0) / values.length : Number.NaN;
const ms = (value: number) => `${value.toFixed(2)} ms`;

/** A busy bridge skipped may add at most this much to the upgrade. */
export const BUSY_SKIP_MS = 2;
/** A refusing bridge's try may add at most this much. */
export const REFUSED_TRY_MS = 5;
/** With every bridge busy the page has its 1013 within this long (judged on the p95). */
export const ALL_BUSY_CLOSE_MS = 50;
/** A hanging bridge's try costs the per-try bound and at most this much more. */
export const HANG_SLACK_MS = 25;
/** An upgrade after the hanging bridge is marked down pays at most this much over the fleet with none busy. */
export const AFTER_HANG_MS = 1;

/** The fleet table's rows, each against its target. */
export function fleetRows(f: FleetFigures): FleetRow[] {
  const rows: FleetRow[] = [];
  const singleTo101 = f.single.map((s) => s.to101);
  const singleTo00 = f.single.map((s) => s.to00);
  const single101 = median(singleTo101);
  const single00 = median(singleTo00);
  rows.push(
    {
      what: "single bridge (BRIDGE_URL): to the 101",
      median: single101,
      p95: p95Of(singleTo101),
      n: f.single.length,
      unit: "ms",
      target: "the floor",
    },
    {
      what: "single bridge (BRIDGE_URL): to the 0x00",
      median: single00,
      p95: p95Of(singleTo00),
      n: f.single.length,
      unit: "ms",
      target: "the floor",
    },
  );
  const none = f.fleet[0] ?? [];
  f.fleet.forEach((samples, k) => {
    const busy = mean(samples.map((s) => s.busyTries));
    for (const [label, value] of [
      ["101", (s: Admitted) => s.to101],
      ["0x00", (s: Admitted) => s.to00],
    ] as const) {
      const values = samples.map(value);
      const row: FleetRow = {
        what: `${k} of ${f.bridges} busy: to the ${label}`,
        median: median(values),
        p95: p95Of(values),
        n: samples.length,
        meanBusyTries: busy,
        randomBusyTries: expectedBusyTries(f.bridges, k),
        unit: "ms",
        target: "",
      };
      if (k === 0) {
        const { delta, noise, within } = differenceAndNoise(
          roundMedians(samples, value),
          roundMedians(f.single, value),
        );
        row.target = `within noise of the single bridge: ${delta >= 0 ? "+" : ""}${ms(delta)}, noise ±${ms(noise)}`;
        row.met = within;
      } else {
        // What the skips add is judged against the fleet with none busy; that row against the floor.
        const allowed = median(none.map(value)) + BUSY_SKIP_MS * busy;
        row.target = `≤ none busy + ${BUSY_SKIP_MS} ms × busy tries = ${ms(allowed)}`;
        row.met = row.median <= allowed;
      }
      rows.push(row);
    }
  });
  const served = f.fleet.flat();
  for (const [label, value] of [
    ["101", (s: Admitted) => s.to101],
    ["0x00", (s: Admitted) => s.to00],
  ] as const) {
    const points = served.map((s) => ({ x: s.busyTries, y: value(s) }));
    const slope = slopeOf(points);
    const byCount = costByCount(points)
      .filter((c) => c.count > 0)
      .map((c) => `${c.count}: +${c.perStep.toFixed(2)} (n ${c.n})`)
      .join(", ");
    rows.push({
      what: `cost per busy bridge skipped (slope of the time to the ${label} on busy tries)`,
      median: slope,
      n: points.length,
      unit: "ms",
      target: `≤ ${BUSY_SKIP_MS} ms; by medians per skipped count: ${byCount || "—"}`,
      met: slope <= BUSY_SKIP_MS,
    });
  }
  const closes = f.allBusy.map((s) => s.toClose);
  rows.push({
    what: `${f.bridges} of ${f.bridges} busy: upgrade to the page's 1013`,
    median: median(closes),
    p95: p95Of(closes),
    n: closes.length,
    meanBusyTries: mean(f.allBusy.map((s) => s.tries)),
    unit: "ms",
    target: `p95 ≤ ${ALL_BUSY_CLOSE_MS} ms`,
    met: p95Of(closes) <= ALL_BUSY_CLOSE_MS,
  });
  const refusedTried = f.refusing.filter((s) => s.triedRefusing).map((s) => s.to101);
  const refusedNot = f.refusing.filter((s) => !s.triedRefusing).map((s) => s.to101);
  const refusedCost = median(refusedTried) - median(refusedNot);
  rows.push({
    what: "refusing bridge: cost of its try (median with it − median without, to the 101)",
    median: refusedCost,
    n: refusedTried.length,
    unit: "ms",
    target: `≤ ${REFUSED_TRY_MS} ms (${refusedNot.length} upgrades without it: ${ms(median(refusedNot))})`,
    met: refusedCost <= REFUSED_TRY_MS,
  });
  const paid = f.hanging.filter((s) => s.phase === "paid").map((s) => s.to101);
  const others = f.hanging.filter((s) => s.phase !== "paid").map((s) => s.to101);
  const after = f.hanging.filter((s) => s.phase === "after").map((s) => s.to101);
  const hangCost = median(paid) - median(others);
  rows.push({
    what: "hanging bridge: cost to the upgrade that tried it (median − the others' median)",
    median: hangCost,
    p95: p95Of(paid) - median(others),
    n: paid.length,
    unit: "ms",
    target: `the per-try bound once: ${f.perTryBoundMs}–${f.perTryBoundMs + HANG_SLACK_MS} ms`,
    met: hangCost >= f.perTryBoundMs && hangCost <= f.perTryBoundMs + HANG_SLACK_MS,
  });
  const fleet0 = median(f.fleet[0]?.map((s) => s.to101) ?? []);
  const afterExtra = median(after) - fleet0;
  rows.push({
    what: "hanging bridge: later upgrades, to the 101, over the fleet with none busy",
    median: afterExtra,
    n: after.length,
    unit: "ms",
    target: `≤ ${AFTER_HANG_MS} ms (${ms(median(after))} against ${ms(fleet0)})`,
    met: afterExtra <= AFTER_HANG_MS,
  });
  const last = f.hangingLast.filter((h) => h.last).length;
  rows.push({
    what: "hanging bridge: tried last when every other is busy (isolates)",
    median: last,
    display: `${last} of ${f.hangingLast.length}`,
    n: f.hangingLast.length,
    unit: "ms",
    target: `all of them; its try then took ${ms(median(f.hangingLast.map((h) => h.tryMs)))} (log line)`,
    met: f.hangingLast.length > 0 && last === f.hangingLast.length,
  });
  const frames = differenceAndNoise(f.frames.fleet, f.frames.single);
  rows.push(
    {
      what: "frames: RTT p50, single bridge",
      median: median(f.frames.single),
      n: f.frames.single.length,
      unit: "µs",
      target: "the floor",
    },
    {
      what: "frames: RTT p50, fleet with none busy",
      median: median(f.frames.fleet),
      n: f.frames.fleet.length,
      unit: "µs",
      target: `within noise of the single bridge: ${frames.delta >= 0 ? "+" : ""}${frames.delta.toFixed(0)} µs, noise ±${frames.noise.toFixed(0)} µs`,
      met: frames.within,
    },
  );
  return rows;
}

const cell = (value: number | undefined, digits: number) =>
  value === undefined || Number.isNaN(value) ? "—" : value.toFixed(digits);

/** The rows as Markdown: one figure a row, its target, pass or over. */
export function fleetTable(rows: readonly FleetRow[]): string {
  return [
    "| figure | median | p95 | n | mean busy tries (random order alone) | target | verdict |",
    "|---|---|---|---|---|---|---|",
    ...rows.map((r) => {
      const digits = r.unit === "µs" ? 0 : 2;
      const unit = ` ${r.unit}`;
      const verdict = r.met === undefined ? "" : r.met ? "pass" : "**over**";
      return `| ${r.what} | ${r.display ?? `${cell(r.median, digits)}${unit}`} | ${r.p95 === undefined ? "" : `${cell(r.p95, digits)}${unit}`} | ${r.n} | ${r.meanBusyTries === undefined ? "" : `${cell(r.meanBusyTries, 2)}${r.randomBusyTries === undefined ? "" : ` (${cell(r.randomBusyTries, 2)})`}`} | ${r.target} | ${verdict} |`;
    }),
  ].join("\n");
}

/** `markdown` with the section under `heading` (up to the next `## ` heading) replaced by `section`, or `section` appended. */
export function withSection(markdown: string, heading: string, section: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  const body = `${section.trim()}\n`;
  if (start === -1) return `${markdown.trimEnd()}\n\n${body}`;
  const next = markdown.indexOf("\n## ", start + heading.length + 2);
  const rest = next === -1 ? "" : `\n${markdown.slice(next + 1)}`;
  return `${markdown.slice(0, start + 1)}${body}${rest}`;
}

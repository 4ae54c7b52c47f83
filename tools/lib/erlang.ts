/**
 * Sizing a fleet of GPUs that each serve one conversation at a time, by Erlang's formulas: how
 * many visitors are turned away when there is no line (Erlang B, M/M/N/N), and how long they wait
 * when there is one (Erlang C, M/M/N with an unlimited first-come-first-served line).
 *
 * Every function takes the offered load A in Erlang (arrivals per unit of time × mean session
 * length in the same unit: `offeredLoad`) and the number of GPUs N. Times (mean session length,
 * waits) come back in whatever unit the mean session length was given in. docs/sizing.md says what
 * the model assumes and prints `sizingTable`'s answer for a few loads.
 */

/** More GPUs than any "GPUs needed" answer looks at: it bounds the search, which is O(N). */
export const MAX_GPUS = 100_000;

/** The offered load A in Erlang: the GPUs busy on average if nobody were turned away or waited. */
export function offeredLoad(arrivalRate: number, meanSessionLength: number): number {
  return (
    nonNegative("arrivalRate", arrivalRate) * nonNegative("meanSessionLength", meanSessionLength)
  );
}

/** Erlang B: the share of visitors turned away when all N GPUs are busy and there is no line. */
export function erlangB(gpus: number, load: number): number {
  positiveInteger("gpus", gpus);
  nonNegative("load", load);
  let blocking = 1;
  for (let n = 1; n <= gpus; n++) blocking = nextErlangB(blocking, n, load);
  return blocking;
}

/**
 * Erlang C: the share of visitors who wait at all (find all N GPUs busy) when there is a line.
 * 1 when load ≥ gpus: the GPUs cannot keep up, the line grows without end and everyone waits.
 */
export function erlangC(gpus: number, load: number): number {
  return erlangCFromB(gpus, load, erlangB(gpus, load));
}

/** The line's mean wait over all visitors (those served at once count as 0). */
export type MeanWait =
  | { bounded: true; value: number }
  /** load ≥ gpus: the line grows without end, so no mean wait exists. */
  | { bounded: false };

/** W = C · h / (N − A) for A < N, h the mean session length; unbounded otherwise. */
export function meanWait(gpus: number, load: number, meanSessionLength: number): MeanWait {
  const c = erlangC(gpus, load);
  positive("meanSessionLength", meanSessionLength);
  return waitFromC(gpus, load, meanSessionLength, c);
}

/**
 * P(wait > t) = C · exp(−(N − A) · t / h) over all visitors, for A < N; 1 when load ≥ gpus (the
 * line grows without end). `t` in the unit of `meanSessionLength`.
 */
export function probabilityWaitExceeds(
  gpus: number,
  load: number,
  meanSessionLength: number,
  t: number,
): number {
  const c = erlangC(gpus, load);
  positive("meanSessionLength", meanSessionLength);
  nonNegative("t", t);
  return exceedsFromC(gpus, load, meanSessionLength, t, c);
}

/** Fewest GPUs that turn away at most `maxTurnedAway` of visitors without a line (Erlang B). */
export function gpusForTurnedAway(load: number, maxTurnedAway: number): number {
  nonNegative("load", load);
  probabilityTarget("maxTurnedAway", maxTurnedAway);
  return fewestGpus(load, (_gpus, blocking) => blocking <= maxTurnedAway);
}

/** Fewest GPUs whose line has a mean wait of at most `maxMeanWait` (Erlang C); it must be > 0. */
export function gpusForMeanWait(
  load: number,
  meanSessionLength: number,
  maxMeanWait: number,
): number {
  nonNegative("load", load);
  positive("meanSessionLength", meanSessionLength);
  positive("maxMeanWait", maxMeanWait);
  return fewestGpus(load, (gpus, blocking) => {
    const wait = waitFromC(gpus, load, meanSessionLength, erlangCFromB(gpus, load, blocking));
    return wait.bounded && wait.value <= maxMeanWait;
  });
}

/** Fewest GPUs with P(wait > t) ≤ `maxProbability` and a line that does not grow without end. */
export function gpusForWaitExceeding(
  load: number,
  meanSessionLength: number,
  t: number,
  maxProbability: number,
): number {
  nonNegative("load", load);
  positive("meanSessionLength", meanSessionLength);
  nonNegative("t", t);
  probabilityTarget("maxProbability", maxProbability);
  return fewestGpus(
    load,
    (gpus, blocking) =>
      load < gpus &&
      exceedsFromC(gpus, load, meanSessionLength, t, erlangCFromB(gpus, load, blocking)) <=
        maxProbability,
  );
}

/** What docs/sizing.md tabulates: loads in Erlang, for sessions of one mean length. */
export interface SizingTableSpec {
  loads: readonly number[];
  meanSessionMinutes: number;
  /** The t of the "waits longer than t" column. */
  waitMinutes: number;
  targets: { turnedAway: number; meanWaitMinutes: number };
}

/**
 * Two markdown tables, formatted as Prettier formats them: for each load, N GPUs from ⌊A⌋ to one
 * more than the larger "GPUs needed" answer, with and without a line; then the GPUs needed per load.
 */
export function sizingTable(spec: SizingTableSpec): string {
  const { loads, meanSessionMinutes: h, waitMinutes: t, targets } = spec;
  positive("meanSessionMinutes", h);
  nonNegative("waitMinutes", t);
  const needed = loads.map((load) => ({
    load,
    turnedAway: gpusForTurnedAway(load, targets.turnedAway),
    meanWait: gpusForMeanWait(load, h, targets.meanWaitMinutes),
  }));
  const rows = needed.flatMap(({ load, turnedAway, meanWait: forWait }) => {
    const gpus = range(Math.max(1, Math.floor(load)), Math.max(turnedAway, forWait) + 1);
    return gpus.map((n) => [
      erlangs(load),
      sessionsPerHour(load, h),
      String(n),
      percent(erlangB(n, load)),
      percent(erlangC(n, load)),
      minutes(meanWait(n, load, h)),
      percent(probabilityWaitExceeds(n, load, h, t)),
    ]);
  });
  const perLoad = markdownTable(
    [
      "A (Erlang)",
      `sessions an hour (${minutesText(h)} each)`,
      "GPUs",
      "turned away, no line (B)",
      "wait at all, with a line (C)",
      "mean wait",
      `wait > ${minutesText(t)}`,
    ],
    rows,
  );
  const gpusNeeded = markdownTable(
    [
      "A (Erlang)",
      `sessions an hour (${minutesText(h)} each)`,
      `GPUs for turned away ≤ ${targets.turnedAway * 100} %, no line`,
      `GPUs for mean wait ≤ ${minutesText(targets.meanWaitMinutes)}, with a line`,
    ],
    needed.map(({ load, turnedAway, meanWait: forWait }) => [
      erlangs(load),
      sessionsPerHour(load, h),
      `${turnedAway} (${percent(erlangB(turnedAway, load))})`,
      `${forWait} (${minutes(meanWait(forWait, load, h))})`,
    ]),
  );
  return `${perLoad}\n${gpusNeeded}`;
}

function nextErlangB(previous: number, gpus: number, load: number): number {
  return (load * previous) / (gpus + load * previous);
}

function erlangCFromB(gpus: number, load: number, blocking: number): number {
  if (load >= gpus) return 1;
  return (gpus * blocking) / (gpus - load * (1 - blocking));
}

function waitFromC(gpus: number, load: number, meanSessionLength: number, c: number): MeanWait {
  if (load >= gpus) return { bounded: false };
  return { bounded: true, value: (c * meanSessionLength) / (gpus - load) };
}

function exceedsFromC(
  gpus: number,
  load: number,
  meanSessionLength: number,
  t: number,
  c: number,
): number {
  if (load >= gpus) return 1;
  return c * Math.exp((-(gpus - load) * t) / meanSessionLength);
}

/** The first N (from 1) whose Erlang B value passes `enough`, carrying B(N, A) by the recurrence. */
function fewestGpus(load: number, enough: (gpus: number, blocking: number) => boolean): number {
  let blocking = 1;
  for (let gpus = 1; gpus <= MAX_GPUS; gpus++) {
    blocking = nextErlangB(blocking, gpus, load);
    if (enough(gpus, blocking)) return gpus;
  }
  throw new RangeError(`load ${load} needs more than ${MAX_GPUS} GPUs for that target`);
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  }
  return value;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
  }
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a whole number ≥ 1, got ${value}`);
  }
  return value;
}

function probabilityTarget(name: string, value: number): number {
  if (!(value > 0 && value <= 1)) {
    throw new RangeError(`${name} must be a fraction in (0, 1], got ${value}`);
  }
  return value;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function erlangs(load: number): string {
  return String(load);
}

function sessionsPerHour(load: number, meanSessionMinutes: number): string {
  return String(Math.round((load * 60) / meanSessionMinutes));
}

function percent(share: number): string {
  if (share > 0 && share < 0.0005) return "< 0.1 %";
  return `${(share * 100).toFixed(share >= 0.1 ? 0 : 1)} %`;
}

function minutesText(value: number): string {
  return `${value} min`;
}

function minutes(wait: MeanWait): string {
  if (!wait.bounded) return "unbounded";
  const seconds = Math.round(wait.value * 60);
  if (seconds === 0) return wait.value > 0 ? "< 1 s" : "0 s";
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** A table as Prettier writes it: every column right-aligned and padded to its widest cell. */
function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) =>
    Math.max(3, title.length, ...rows.map((row) => row[i].length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padStart(widths[i])).join(" | ")} |`;
  const separator = `| ${widths.map((width) => `${"-".repeat(width - 1)}:`).join(" | ")} |`;
  return [line(header), separator, ...rows.map(line)].join("\n") + "\n";
}

/**
 * The order statistics of the bench and the soak suite, one definition each. Percentiles are
 * nearest-rank: the p-th percentile of n values is the ⌈p·n⌉-th smallest (p50 of 1, 2, 3, 4 is 2),
 * always a value of the sample. The median is the classic one: the middle value, or the mean of the
 * two middle values (median of 1, 2, 3, 4 is 2.5); it is what differences of paired samples are
 * summarized by, where the nearest-rank p50 would lean to the lower half.
 */

/** Ascending numeric order, as a new array. */
export function sortedAscending(values: ArrayLike<number>): number[] {
  return Array.from(values).sort((a, b) => a - b);
}

/** The nearest-rank `p`-th percentile (0 < p ≤ 100) of `sorted` (ascending); NaN when it is empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile: p must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return Number.NaN;
  // p·n/100 in that order, less a hair: 99.9 / 100 * 1000 is 999.0000000000001 in doubles, and its rank 999.
  return sorted[Math.max(0, Math.ceil((p * sorted.length) / 100 - 1e-9) - 1)];
}

/** The median of `values` (any order); NaN when there are none. */
export function median(values: ArrayLike<number>): number {
  const sorted = sortedAscending(values);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A figure over repeated runs: their median, and how far it ranged. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spreadOf(values: ArrayLike<number>): Spread {
  const sorted = sortedAscending(values);
  return { median: median(sorted), min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN };
}

/** Order statistics of a sample, in the sample's unit (all 0 for an empty sample). */
export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentiles and the maximum; sorts a Float64Array in place, copies an array. */
export function summarize(values: Float64Array | number[]): Summary {
  const sorted = values instanceof Float64Array ? values.sort() : Float64Array.from(values).sort();
  if (sorted.length === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[sorted.length - 1],
  };
}

/** Order statistics of a sample, in the sample's unit. */
export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentiles; sorts `values` in place. */
export function summarize(values: Float64Array | number[]): Summary {
  const sorted = values instanceof Float64Array ? values.sort() : Float64Array.from(values).sort();
  const rank = (p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]);
  return { count: sorted.length, p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), p999: rank(0.999), max: sorted.length === 0 ? 0 : sorted[sorted.length - 1] };
}

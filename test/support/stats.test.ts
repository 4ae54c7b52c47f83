import { describe, expect, it } from "vitest";
import { median, percentile, sortedAscending, spreadOf, summarize } from "./stats";

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("the order statistics", () => {
  it.each([
    // sample, p, nearest rank: the ⌈p·n/100⌉-th smallest
    [[7], 50, 7],
    [[7], 100, 7],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 75, 3],
    [[1, 2, 3, 4], 76, 4],
    [[1, 2, 3, 4], 1, 1],
    [oneTo(10), 90, 9],
    [oneTo(10), 91, 10],
    [oneTo(100), 99, 99],
    [oneTo(300), 99, 297],
    [oneTo(1000), 99.9, 999],
    [oneTo(2000), 99.9, 1998],
    [oneTo(10000), 99.9, 9990],
  ])("takes the nearest rank: percentile of %j at %d is %d", (sample, p, expected) => {
    expect(percentile(sample, p)).toBe(expected);
  });

  it("has no percentile of an empty sample, and refuses a p outside (0, 100]", () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 0)).toThrow("p must be in (0, 100], got 0");
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it.each([
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[-1, 5], 2],
    [[10], 10],
  ])(
    "takes the middle value, or the mean of the two middle ones: median of %j is %d",
    (sample, expected) => {
      expect(median(sample)).toBe(expected);
    },
  );

  it("sorts numerically, not as text, and leaves its input alone", () => {
    const values = [10, 9, 100, 1];
    expect(sortedAscending(values)).toEqual([1, 9, 10, 100]);
    expect(values).toEqual([10, 9, 100, 1]);
    expect(median([10, 9, 100])).toBe(10);
  });

  it("spreads a figure over runs into its median and range", () => {
    expect(spreadOf([5, 1, 3, 9])).toEqual({ median: 4, min: 1, max: 9 });
    expect(spreadOf([])).toEqual({ median: Number.NaN, min: Number.NaN, max: Number.NaN });
  });

  it("summarizes a sample with the same nearest-rank percentiles", () => {
    expect(summarize(oneTo(1000).reverse())).toEqual({
      count: 1000,
      p50: 500,
      p90: 900,
      p99: 990,
      p999: 999,
      max: 1000,
    });
    expect(summarize(new Float64Array([3, 1, 2]))).toEqual({
      count: 3,
      p50: 2,
      p90: 3,
      p99: 3,
      p999: 3,
      max: 3,
    });
    expect(summarize([])).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });
});

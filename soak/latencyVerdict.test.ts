import { describe, expect, it } from "vitest";
import { summarize, type Summary } from "../test/support/stats";
import { latencyVerdict } from "./latencyVerdict";

const BOUND_MS = 20;
/** A sample of 1,000 echoes whose p99 (nearest rank: the 990th) is `p99` ms, the rest at `p50`. */
const sample = (p50: number, p99: number): Summary =>
  summarize([...Array<number>(989).fill(p50), ...Array<number>(11).fill(p99)]);

describe("the soak's latency verdict: what the edge adds over the direct stream of the same run", () => {
  it.each([
    ["an idle machine, the edge close to the direct stream", sample(0.85, 7.19), sample(0.6, 6.64)],
    ["a loaded machine where both are slow, the direct one slower", sample(3, 67), sample(3, 86)],
    ["a loaded machine where both are slow, the edge by the bound", sample(3, 106), sample(3, 86)],
  ])("passes %s", (_name, edge, direct) => {
    const verdict = latencyVerdict(edge, direct, BOUND_MS);
    expect(verdict).toMatchObject({ boundMs: BOUND_MS, pass: true });
    expect(verdict.addedP99Ms).toBeCloseTo(edge.p99 - direct.p99, 9);
  });

  it.each([
    ["an idle machine where the edge adds more than the bound", sample(1, 40), sample(0.6, 6.64)],
    ["a loaded machine where the edge adds more than the bound", sample(3, 107), sample(3, 86)],
  ])("fails %s", (_name, edge, direct) => {
    expect(latencyVerdict(edge, direct, BOUND_MS)).toMatchObject({
      addedP99Ms: edge.p99 - direct.p99,
      pass: false,
    });
  });

  it("judges nothing against an absolute figure: a p99 over 50 ms passes when the direct stream's is as slow", () => {
    expect(latencyVerdict(sample(3, 67), sample(3, 86), BOUND_MS)).toEqual({
      addedP99Ms: -19,
      boundMs: BOUND_MS,
      pass: true,
    });
  });

  it("fails a run with no echo on either side: there is nothing to compare", () => {
    const none = summarize([]);
    expect(latencyVerdict(none, sample(1, 5), BOUND_MS).pass).toBe(false);
    expect(latencyVerdict(sample(1, 5), none, BOUND_MS).pass).toBe(false);
  });
});

import type { Summary } from "../test/support/stats";

/** The soak's latency check: what the edge adds to the tail of the same stream sent straight to the bridge. */
export interface LatencyVerdict {
  /** The edge's send-to-echo p99 minus the direct stream's, in the same run (negative when the direct one was slower). */
  addedP99Ms: number;
  boundMs: number;
  pass: boolean;
}

/**
 * Judges the edge's share of the latency, not its absolute figure: a loaded machine slows the
 * direct stream as much as the edge's, and only what the edge adds over the reference measured in
 * the same run is the edge's doing (as the bench compares with the runtime's floor). A run with no
 * echo on either side has nothing to compare and fails.
 */
export function latencyVerdict(edge: Summary, direct: Summary, boundMs: number): LatencyVerdict {
  const addedP99Ms = edge.p99 - direct.p99;
  const measured = edge.count > 0 && direct.count > 0;
  return { addedP99Ms, boundMs, pass: measured && addedP99Ms <= boundMs };
}

/**
 * The GPU time points, as pure functions (testable in Node): a `bridge_minute` per bridge and tick,
 * a `session_end` per session a guard recorded ending.
 */
import { buildPoint, type DataPoint } from "../analytics/points";
import type { SessionRecord } from "./sessionRecords";
import { probeVerdict } from "./state";

/** Points one tick writes at most (Analytics Engine's documented limit per invocation, the lower of its two figures). */
export const POINTS_PER_TICK = 25;

/** One minute of one bridge: busy (1) when its guard answered up with a session live, else 0. */
export function bridgeMinutePoint(
  bridge: string,
  probe: { reachable: boolean; draining?: true; sessions?: number },
): DataPoint {
  const busy = probe.reachable && (probe.sessions ?? 0) >= 1;
  return buildPoint("bridge_minute", {
    outcome: probeVerdict(probe),
    bridge,
    busyMinutes: busy ? 1 : 0,
  });
}

/** One session the guard saw end. */
export function sessionEndPoint(bridge: string, record: SessionRecord): DataPoint {
  return buildPoint("session_end", {
    outcome: "ended",
    bridge,
    termination: record.termination,
    sessionMs: record.durationMs,
    bytesUp: record.bytesUp,
    bytesDown: record.bytesDown,
  });
}

/**
 * How many records each bridge may write this tick: `budget` shared one at a time in the bridges'
 * order, so a backlog on one bridge never starves the others.
 */
export function shareBudget(wanted: readonly number[], budget: number): number[] {
  const shares = wanted.map(() => 0);
  let left = budget;
  while (left > 0) {
    let gave = false;
    for (let i = 0; i < wanted.length && left > 0; i++) {
      if (shares[i] < wanted[i]) {
        shares[i]++;
        left--;
        gave = true;
      }
    }
    if (!gave) break;
  }
  return shares;
}

/**
 * The GPU time points, as pure functions (testable in Node): a `bridge_minute` per bridge and tick,
 * a `session_end` per session a guard recorded ending.
 */
import type { DataPoint } from "../analytics/binding";
import {
  POINT_BLOBS,
  POINT_DOUBLES,
  type PointBlob,
  type PointDouble,
  type PointEvent,
} from "../analytics/schema";
import type { SessionRecord } from "./sessionRecords";
import { probeVerdict } from "./state";

/** Points one tick writes at most (Analytics Engine's documented limit per invocation, the lower of its two figures). */
export const POINTS_PER_TICK = 25;

/**
 * A bridge_minute's `outcome`: what the probe saw. `up`: the guard answered and its server is up
 * (busy or free, drained or not); `down`: no answer, or the guard says its server is down;
 * `maintenance`: its server is down while its operator drains it.
 */
export const BRIDGE_MINUTE_OUTCOMES = ["up", "down", "maintenance"] as const;
export type BridgeMinuteOutcome = (typeof BRIDGE_MINUTE_OUTCOMES)[number];

/** A session_end's `outcome`: always this (the termination blob says how it ended). */
export const SESSION_END_OUTCOME = "ended";

/** A point from named fields: blobs and doubles at their schema positions, the event its first blob and its index. */
export function pointOf(
  event: PointEvent,
  blobs: Partial<Record<Exclude<PointBlob, "event">, string>>,
  doubles: Partial<Record<PointDouble, number>>,
): DataPoint {
  const named: Partial<Record<PointBlob, string>> = { ...blobs, event };
  return {
    indexes: [event],
    blobs: POINT_BLOBS.map((name) => named[name] ?? ""),
    doubles: POINT_DOUBLES.map((name) => doubles[name] ?? 0),
  };
}

/** One minute of one bridge: busy (1) when its guard answered up with a session live, else 0. */
export function bridgeMinutePoint(
  bridge: string,
  probe: { reachable: boolean; draining?: true; sessions?: number },
): DataPoint {
  const outcome: BridgeMinuteOutcome = probeVerdict(probe);
  const busy = probe.reachable && (probe.sessions ?? 0) >= 1;
  return pointOf("bridge_minute", { outcome, bridge }, { busyMinutes: busy ? 1 : 0 });
}

/** One session the guard saw end. */
export function sessionEndPoint(bridge: string, record: SessionRecord): DataPoint {
  return pointOf(
    "session_end",
    { outcome: SESSION_END_OUTCOME, bridge, termination: record.termination },
    { sessionMs: record.durationMs, bytesUp: record.bytesUp, bytesDown: record.bytesDown },
  );
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

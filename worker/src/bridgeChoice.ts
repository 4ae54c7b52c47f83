/**
 * Which bridge an upgrade tries first, and what the page hears when none takes it: pure functions,
 * free of Worker types, tested in Node.
 */
import type { SessionRefusal } from "./errors";

/**
 * A bridge that answered busy or took a session within this long is tried after the fresh ones by
 * the next upgrade this isolate admits: a single-session bridge that just said busy (or just got a
 * visitor) is most likely still busy, and asking costs a round trip.
 */
export const RECENTLY_BUSY_MS = 5_000;

/**
 * A bridge that failed (refused, timed out, answered 502/504/530) within this long is tried after
 * every other: a hanging one costs its whole per-try bound, once in this long per isolate.
 */
export const RECENTLY_DOWN_MS = 30_000;

/** What an isolate remembers of a bridge: when it last said busy (or took a session), or failed. */
export interface BridgeMark {
  at: number;
  kind: "busy" | "down";
}

/** 0: not marked lately; 1: busy lately; 2: down lately. */
function rankOf(mark: BridgeMark | undefined, now: number): number {
  if (mark === undefined) return 0;
  if (mark.kind === "busy") return now - mark.at < RECENTLY_BUSY_MS ? 1 : 0;
  return now - mark.at < RECENTLY_DOWN_MS ? 2 : 0;
}

/**
 * The order one upgrade tries the bridges in: shuffled, so that many edges spread over a fleet;
 * then the ones busy lately after the rest, and the ones down lately after those, each group the
 * longest ago first.
 */
export function tryOrder<B extends { name: string }>(
  bridges: readonly B[],
  memory: ReadonlyMap<string, BridgeMark>,
  now: number,
  random: () => number = Math.random,
): B[] {
  const shuffled = [...bridges];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const keyed = shuffled.map((bridge) => {
    const mark = memory.get(bridge.name);
    const rank = rankOf(mark, now);
    return { bridge, rank, at: rank === 0 ? 0 : (mark?.at ?? 0) };
  });
  // Array.prototype.sort is stable: the shuffle decides among equals.
  keyed.sort((a, b) => a.rank - b.rank || a.at - b.at);
  return keyed.map(({ bridge }) => bridge);
}

/**
 * What the page gets when no bridge took the session: busy if any bridge said busy (the smallest
 * `retryAfterS` any of them gave), else the last bridge's failure.
 */
export function refusalOfTries(refusals: readonly SessionRefusal[]): SessionRefusal {
  let soonest: SessionRefusal | undefined;
  for (const refusal of refusals) {
    if (refusal.reason.error !== "bridge_busy") continue;
    if (
      soonest === undefined ||
      (soonest.reason.error === "bridge_busy" &&
        refusal.reason.retryAfterS < soonest.reason.retryAfterS)
    )
      soonest = refusal;
  }
  return soonest ?? refusals[refusals.length - 1];
}

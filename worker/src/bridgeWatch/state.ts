import type { BridgeWatchSettings } from "./bindings";

/** What the watch remembers between ticks: consecutive failed probes, and whether "down" was sent. */
export interface WatchState {
  failures: number;
  down: boolean;
}

export type WatchNotification = "down" | "recovered";

export interface WatchStep {
  next: WatchState;
  /** Whether `next` differs from the state given: storage is written only then. */
  changed: boolean;
  notification?: WatchNotification;
}

export const INITIAL_WATCH_STATE: WatchState = Object.freeze({ failures: 0, down: false });

const unchanged = (state: WatchState): WatchStep => ({ next: state, changed: false });

/**
 * One tick of the watch. "down" is sent once, when the failures reach the threshold; while down
 * the count stops (nothing to write); the first good probe ends the outage.
 */
export function watchStep(
  state: WatchState,
  probeOk: boolean,
  settings: Pick<BridgeWatchSettings, "failuresBeforeAlert" | "notifyRecovery">,
): WatchStep {
  if (probeOk) {
    if (!state.down && state.failures === 0) return unchanged(state);
    const notification = state.down && settings.notifyRecovery ? "recovered" : undefined;
    return { next: INITIAL_WATCH_STATE, changed: true, ...(notification ? { notification } : {}) };
  }
  if (state.down) return unchanged(state);
  const failures = state.failures + 1;
  if (failures < settings.failuresBeforeAlert)
    return { next: { failures, down: false }, changed: true };
  return { next: { failures, down: true }, changed: true, notification: "down" };
}

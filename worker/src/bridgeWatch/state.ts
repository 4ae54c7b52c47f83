import type { BridgeWatchSettings } from "./bindings";

/** What the watch remembers of one bridge between ticks: consecutive failed probes, and whether "down" was sent. */
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
 * One tick of one bridge's watch. "down" is sent once, when the failures reach the threshold; while down
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

/** The fleet as one tick's probes saw it. */
export interface FleetCounts {
  total: number;
  /** Reachable bridges, busy or not. */
  up: number;
  /** Reachable bridges admitting a new session. */
  free: number;
}

/** Consecutive ticks with no free bridge (counted up to the threshold), and whether "capacity" was sent. */
export interface CapacityState {
  busyMinutes: number;
  alerted: boolean;
}

export type CapacityNotification = "capacity" | "capacity_recovered";

export interface CapacityStep {
  next: CapacityState;
  changed: boolean;
  notification?: CapacityNotification;
}

export const INITIAL_CAPACITY_STATE: CapacityState = Object.freeze({
  busyMinutes: 0,
  alerted: false,
});

/**
 * One tick of the capacity watch: "no free bridge" is at least one bridge up and none free (a down
 * bridge is not busy; its own notice covers it). A tick with every bridge down says nothing about
 * capacity: it ends a count under way, and keeps an alert sent. Otherwise as `watchStep`: one
 * "capacity" at the threshold, nothing while it lasts, the first free bridge ends it.
 */
export function capacityStep(
  state: CapacityState,
  fleet: FleetCounts,
  settings: Pick<BridgeWatchSettings, "busyMinutesBeforeAlert" | "notifyRecovery">,
): CapacityStep {
  if (fleet.up === 0) {
    if (state.alerted || state.busyMinutes === 0) return { next: state, changed: false };
    return { next: INITIAL_CAPACITY_STATE, changed: true };
  }
  const step = watchStep({ failures: state.busyMinutes, down: state.alerted }, fleet.free > 0, {
    failuresBeforeAlert: settings.busyMinutesBeforeAlert,
    notifyRecovery: settings.notifyRecovery,
  });
  const notification =
    step.notification === "down"
      ? "capacity"
      : step.notification === "recovered"
        ? "capacity_recovered"
        : undefined;
  return {
    next: step.changed ? { busyMinutes: step.next.failures, alerted: step.next.down } : state,
    changed: step.changed,
    ...(notification ? { notification } : {}),
  };
}

/** Up and free as `probeBridge` reports them: reachable, and reachable and not busy. */
export function fleetCounts(
  probes: readonly { reachable: boolean; busy?: boolean }[],
): FleetCounts {
  return {
    total: probes.length,
    up: probes.filter((probe) => probe.reachable).length,
    free: probes.filter((probe) => probe.reachable && !probe.busy).length,
  };
}

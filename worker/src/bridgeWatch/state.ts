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
 * What one probe tells a bridge's watch: it answers up (busy or drained alike), it is down, or its
 * guard says its server is down while its operator drains it (a restart in a runbook).
 */
export type ProbeVerdict = "up" | "down" | "maintenance";

/** Maintenance takes the guard's word: a bridge that does not answer at all is down, drained or not. */
export function probeVerdict(probe: { reachable: boolean; draining?: true }): ProbeVerdict {
  if (probe.reachable) return "up";
  return probe.draining ? "maintenance" : "down";
}

/**
 * One tick of one bridge's watch. "down" is sent once, when the failures reach the threshold; while down
 * the count stops (nothing to write); the first good probe ends the outage. Maintenance is no
 * failure and ends a count under way; a "down" already sent holds until the bridge answers up,
 * which sends its recovery as for any outage.
 */
export function watchStep(
  state: WatchState,
  verdict: ProbeVerdict,
  settings: Pick<BridgeWatchSettings, "failuresBeforeAlert" | "notifyRecovery">,
): WatchStep {
  if (verdict === "maintenance")
    return state.down || state.failures === 0
      ? unchanged(state)
      : { next: INITIAL_WATCH_STATE, changed: true };
  if (verdict === "up") {
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
  /** Reachable bridges, busy, drained or not. */
  up: number;
  /** Reachable bridges admitting a new session. */
  free: number;
  /** Reachable bridges their operator drained: out of service, so neither free nor busy. */
  drained: number;
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
 * One tick of the capacity watch: "no free bridge" is at least one bridge in service (up and not
 * drained) and none free. A down bridge is not busy (its own notice covers it), nor is a drained
 * one (maintenance). A tick with no bridge in service (every bridge down or drained) says nothing
 * about capacity: it ends a count under way, and keeps an alert sent. Otherwise as `watchStep`: one
 * "capacity" at the threshold, nothing while it lasts, the first free bridge ends it.
 */
export function capacityStep(
  state: CapacityState,
  fleet: FleetCounts,
  settings: Pick<BridgeWatchSettings, "busyMinutesBeforeAlert" | "notifyRecovery">,
): CapacityStep {
  if (inService(fleet) === 0) {
    if (state.alerted || state.busyMinutes === 0) return { next: state, changed: false };
    return { next: INITIAL_CAPACITY_STATE, changed: true };
  }
  const verdict = fleet.free > 0 ? "up" : "down";
  const step = watchStep({ failures: state.busyMinutes, down: state.alerted }, verdict, {
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

/** Bridges up and not drained: the ones whose being busy is a capacity problem. */
export const inService = (fleet: FleetCounts): number => fleet.up - fleet.drained;

/**
 * Up, free and drained as `probeBridge` reports them: reachable; reachable and not busy (a drained
 * guard says busy); reachable and draining. A drained bridge whose server is down counts as down.
 */
export function fleetCounts(
  probes: readonly { reachable: boolean; busy?: boolean; draining?: true }[],
): FleetCounts {
  const up = probes.filter((probe) => probe.reachable);
  return {
    total: probes.length,
    up: up.length,
    free: up.filter((probe) => !probe.busy && !probe.draining).length,
    drained: up.filter((probe) => probe.draining).length,
  };
}

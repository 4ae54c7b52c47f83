import { describe, expect, it } from "vitest";
import {
  capacityStep,
  fleetCounts,
  INITIAL_CAPACITY_STATE,
  INITIAL_WATCH_STATE,
  inService,
  probeVerdict,
  watchStep,
  type CapacityNotification,
  type FleetCounts,
  type ProbeVerdict,
  type WatchNotification,
  type WatchState,
} from "../src/bridgeWatch/state";

const settings = { failuresBeforeAlert: 3, notifyRecovery: false };

/** Runs one verdict a tick from `start`; returns the notifications sent and how many ticks wrote storage. */
function run(
  probes: ProbeVerdict[],
  options: Partial<typeof settings> = {},
  start: WatchState = INITIAL_WATCH_STATE,
) {
  let state = start;
  const notifications: WatchNotification[] = [];
  let writes = 0;
  for (const verdict of probes) {
    const step = watchStep(state, verdict, { ...settings, ...options });
    if (step.notification) notifications.push(step.notification);
    if (step.changed) writes++;
    state = step.next;
  }
  return { state, notifications, writes };
}

const times = (n: number, verdict: ProbeVerdict) => Array<ProbeVerdict>(n).fill(verdict);
const at = (failures: number, down: boolean) => ({ failures, down });

describe("the bridge watch's state machine", () => {
  it.each<[string, WatchState, ProbeVerdict, object]>([
    ["healthy, probe ok", at(0, false), "up", { next: at(0, false), changed: false }],
    ["healthy, probe fails", at(0, false), "down", { next: at(1, false), changed: true }],
    [
      "one short of the threshold, probe fails",
      at(2, false),
      "down",
      { next: at(3, true), changed: true, notification: "down" },
    ],
    ["failing, probe ok again", at(2, false), "up", { next: at(0, false), changed: true }],
    ["down, probe fails", at(3, true), "down", { next: at(3, true), changed: false }],
    ["down, probe ok", at(3, true), "up", { next: at(0, false), changed: true }],
    ["healthy, maintenance", at(0, false), "maintenance", { next: at(0, false), changed: false }],
    ["failing, maintenance", at(2, false), "maintenance", { next: at(0, false), changed: true }],
    ["down, maintenance", at(3, true), "maintenance", { next: at(3, true), changed: false }],
  ])("%s", (_name, state, verdict, expected) => {
    expect(watchStep(state, verdict, settings)).toEqual(expected);
  });

  it("sends exactly one down notification over 10 failing ticks, and writes only until it is down", () => {
    expect(run(times(10, "down"))).toEqual({
      state: { failures: 3, down: true },
      notifications: ["down"],
      writes: 3,
    });
  });

  it("sends none and writes nothing while healthy", () => {
    expect(run(times(10, "up"))).toEqual({
      state: INITIAL_WATCH_STATE,
      notifications: [],
      writes: 0,
    });
  });

  it("sends none when failures stay under the threshold between good probes", () => {
    expect(run(["down", "down", "up", "down", "down", "up"]).notifications).toEqual([]);
  });

  it.each([
    [false, ["down"]],
    [true, ["down", "recovered"]],
  ])("notifies recovery only when configured (notifyRecovery %s)", (notifyRecovery, expected) => {
    expect(run([...times(4, "down"), ...times(3, "up")], { notifyRecovery }).notifications).toEqual(
      expected,
    );
  });

  it("alerts on the first failure when failuresBeforeAlert is 1", () => {
    expect(run(["down"], { failuresBeforeAlert: 1 }).notifications).toEqual(["down"]);
  });

  it("sends no down notice and writes nothing over 60 ticks of a drained bridge that is down; an undrained one sends one", () => {
    expect(run(times(60, "maintenance"))).toEqual({
      state: INITIAL_WATCH_STATE,
      notifications: [],
      writes: 0,
    });
    expect(run(times(60, "down")).notifications).toEqual(["down"]);
  });

  it("counts no maintenance as a failure: a count under way ends, and the failures after it count from zero", () => {
    expect(run(["down", "down", "maintenance", "down", "down"])).toEqual({
      state: at(2, false),
      notifications: [],
      writes: 5,
    });
  });

  it("keeps a down notice sent before the drain through maintenance; the bridge answering up sends its one recovery", () => {
    expect(
      run([...times(3, "down"), ...times(10, "maintenance"), "up"], { notifyRecovery: true }),
    ).toEqual({ state: INITIAL_WATCH_STATE, notifications: ["down", "recovered"], writes: 4 });
  });

  it.each<[string, Parameters<typeof probeVerdict>[0], ProbeVerdict]>([
    ["up", { reachable: true }, "up"],
    ["up and drained", { reachable: true, draining: true }, "up"],
    ["its guard says down and drained", { reachable: false, draining: true }, "maintenance"],
    ["its guard says down", { reachable: false }, "down"],
  ])("reads a probe %s as %s", (_name, probe, verdict) => {
    expect(probeVerdict(probe)).toBe(verdict);
  });

  it("alerts again for a second outage", () => {
    expect(run([...times(3, "down"), "up", ...times(3, "down")]).notifications).toEqual([
      "down",
      "down",
    ]);
  });
});

const capacitySettings = { busyMinutesBeforeAlert: 3, notifyRecovery: false };
const fleet = (up: number, free: number, total = 3, drained = 0): FleetCounts => ({
  total,
  up,
  free,
  drained,
});
const FULL = fleet(3, 0);
const ONE_FREE = fleet(3, 1);
const ALL_DOWN = fleet(0, 0);
/** Maintenance: every bridge answers, drained by its operator. */
const ALL_DRAINED = fleet(3, 0, 3, 3);

/** Runs one fleet count per tick; returns the notifications sent and how many ticks wrote storage. */
function runCapacity(ticks: FleetCounts[], options: Partial<typeof capacitySettings> = {}) {
  let state = INITIAL_CAPACITY_STATE;
  const notifications: CapacityNotification[] = [];
  let writes = 0;
  for (const counts of ticks) {
    const step = capacityStep(state, counts, { ...capacitySettings, ...options });
    if (step.notification) notifications.push(step.notification);
    if (step.changed) writes++;
    state = step.next;
  }
  return { state, notifications, writes };
}

const ticks = (n: number, counts: FleetCounts) => Array<FleetCounts>(n).fill(counts);

describe("the capacity watch's state machine", () => {
  it("sends one capacity notification after busyMinutesBeforeAlert ticks with no free bridge, not before", () => {
    expect(runCapacity(ticks(2, FULL))).toEqual({
      state: { busyMinutes: 2, alerted: false },
      notifications: [],
      writes: 2,
    });
    expect(runCapacity(ticks(10, FULL))).toEqual({
      state: { busyMinutes: 3, alerted: true },
      notifications: ["capacity"],
      writes: 3,
    });
  });

  it("sends none and writes nothing while a bridge is free", () => {
    expect(runCapacity(ticks(10, ONE_FREE))).toEqual({
      state: INITIAL_CAPACITY_STATE,
      notifications: [],
      writes: 0,
    });
  });

  it("counts only consecutive ticks: a free bridge starts the count again", () => {
    expect(runCapacity([FULL, FULL, ONE_FREE, FULL, FULL, ONE_FREE]).notifications).toEqual([]);
  });

  it.each([
    [false, ["capacity"]],
    [true, ["capacity", "capacity_recovered"]],
  ])(
    "notifies a free bridge again only when configured (notifyRecovery %s)",
    (notifyRecovery, expected) => {
      expect(
        runCapacity([...ticks(4, FULL), ...ticks(3, ONE_FREE)], { notifyRecovery }).notifications,
      ).toEqual(expected);
    },
  );

  it("counts bridges that are down as not busy, and the rest busy as no free bridge", () => {
    expect(runCapacity(ticks(3, fleet(1, 0))).notifications).toEqual(["capacity"]);
  });

  it("says nothing about capacity while every bridge is down: a count under way ends, an alert holds", () => {
    expect(runCapacity([FULL, FULL, ALL_DOWN, FULL, FULL]).notifications).toEqual([]);
    expect(runCapacity(ticks(5, ALL_DOWN))).toEqual({
      state: INITIAL_CAPACITY_STATE,
      notifications: [],
      writes: 0,
    });
    expect(
      runCapacity([...ticks(3, FULL), ...ticks(3, ALL_DOWN), ONE_FREE], { notifyRecovery: true }),
    ).toEqual({
      state: INITIAL_CAPACITY_STATE,
      notifications: ["capacity", "capacity_recovered"],
      writes: 4,
    });
  });

  it("counts a drained fleet as maintenance, not as busy: no capacity notice, nothing written", () => {
    expect(runCapacity(ticks(10, ALL_DRAINED))).toEqual({
      state: INITIAL_CAPACITY_STATE,
      notifications: [],
      writes: 0,
    });
    // One bridge drained, one down, one in service and busy: that one's being busy still counts.
    expect(runCapacity(ticks(3, fleet(2, 0, 3, 1))).notifications).toEqual(["capacity"]);
  });

  it("ends a count under way when the last bridge in service is drained, keeps an alert sent, and recovers on a free bridge", () => {
    expect(runCapacity([FULL, FULL, ALL_DRAINED, FULL, FULL]).notifications).toEqual([]);
    expect(
      runCapacity([...ticks(3, FULL), ...ticks(3, ALL_DRAINED), ONE_FREE], {
        notifyRecovery: true,
      }),
    ).toEqual({
      state: INITIAL_CAPACITY_STATE,
      notifications: ["capacity", "capacity_recovered"],
      writes: 4,
    });
    // A drained bridge with no session is not free: it is no recovery.
    expect(
      runCapacity([...ticks(3, FULL), fleet(3, 0, 3, 1)], { notifyRecovery: true }).notifications,
    ).toEqual(["capacity"]);
  });

  it("counts up, free and drained from the probes: reachable; reachable, not busy and not draining; reachable and draining", () => {
    expect(
      fleetCounts([
        { reachable: true, busy: false },
        { reachable: true, busy: true },
        { reachable: false },
        { reachable: true },
        { reachable: true, busy: true, draining: true },
        { reachable: true, busy: false, draining: true },
      ]),
    ).toEqual({ total: 6, up: 5, free: 2, drained: 2 });
  });

  it("counts a drained bridge whose server is down as down, never as drained: the bridges in service stay the ones up", () => {
    const counts = fleetCounts([
      { reachable: true, busy: true },
      { reachable: false, draining: true },
    ]);
    expect(counts).toEqual({ total: 2, up: 1, free: 0, drained: 0 });
    expect(inService(counts)).toBe(1);
  });
});

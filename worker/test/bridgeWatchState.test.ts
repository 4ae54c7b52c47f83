import { describe, expect, it } from "vitest";
import {
  INITIAL_WATCH_STATE,
  watchStep,
  type WatchNotification,
  type WatchState,
} from "../src/bridgeWatch/state";

const settings = { failuresBeforeAlert: 3, notifyRecovery: false };

/** Runs `probes` (true = ok) from `start`; returns the notifications sent and how many ticks wrote storage. */
function run(
  probes: boolean[],
  options: Partial<typeof settings> = {},
  start: WatchState = INITIAL_WATCH_STATE,
) {
  let state = start;
  const notifications: WatchNotification[] = [];
  let writes = 0;
  for (const ok of probes) {
    const step = watchStep(state, ok, { ...settings, ...options });
    if (step.notification) notifications.push(step.notification);
    if (step.changed) writes++;
    state = step.next;
  }
  return { state, notifications, writes };
}

const times = (n: number, ok: boolean) => Array<boolean>(n).fill(ok);
const at = (failures: number, down: boolean) => ({ failures, down });

describe("the bridge watch's state machine", () => {
  it.each([
    ["healthy, probe ok", at(0, false), true, { next: at(0, false), changed: false }],
    ["healthy, probe fails", at(0, false), false, { next: at(1, false), changed: true }],
    [
      "one short of the threshold, probe fails",
      at(2, false),
      false,
      { next: at(3, true), changed: true, notification: "down" },
    ],
    ["failing, probe ok again", at(2, false), true, { next: at(0, false), changed: true }],
    ["down, probe fails", at(3, true), false, { next: at(3, true), changed: false }],
    ["down, probe ok", at(3, true), true, { next: at(0, false), changed: true }],
  ])("%s", (_name, state, ok, expected) => {
    expect(watchStep(state, ok, settings)).toEqual(expected);
  });

  it("sends exactly one down notification over 10 failing ticks, and writes only until it is down", () => {
    expect(run(times(10, false))).toEqual({
      state: { failures: 3, down: true },
      notifications: ["down"],
      writes: 3,
    });
  });

  it("sends none and writes nothing while healthy", () => {
    expect(run(times(10, true))).toEqual({
      state: INITIAL_WATCH_STATE,
      notifications: [],
      writes: 0,
    });
  });

  it("sends none when failures stay under the threshold between good probes", () => {
    expect(run([false, false, true, false, false, true]).notifications).toEqual([]);
  });

  it.each([
    [false, ["down"]],
    [true, ["down", "recovered"]],
  ])("notifies recovery only when configured (notifyRecovery %s)", (notifyRecovery, expected) => {
    expect(run([...times(4, false), ...times(3, true)], { notifyRecovery }).notifications).toEqual(
      expected,
    );
  });

  it("alerts on the first failure when failuresBeforeAlert is 1", () => {
    expect(run([false], { failuresBeforeAlert: 1 }).notifications).toEqual(["down"]);
  });

  it("alerts again for a second outage", () => {
    expect(run([...times(3, false), true, ...times(3, false)]).notifications).toEqual([
      "down",
      "down",
    ]);
  });
});

import { describe, expect, it } from "vitest";
import { MAX_BLOBS, MAX_DOUBLES, POINT_BLOBS, POINT_DOUBLES } from "../src/analytics/schema";
import { bridgeMinutePoint, sessionEndPoint, shareBudget } from "../src/bridgeWatch/gpuPoints";
import {
  collectStep,
  parseSessionRecords,
  type SessionRecord,
  type SessionRecordsAnswer,
} from "../src/bridgeWatch/sessionRecords";

const record = (seq: number): SessionRecord => ({
  seq,
  durationMs: 1000 * seq,
  bytesUp: 10 * seq,
  bytesDown: 20 * seq,
  termination: "--",
  endedAtMs: 1,
});
const answer = (boot: string, first: number, last: number): SessionRecordsAnswer => ({
  boot,
  first,
  last,
  records: Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => record(first + i)),
});
const seqs = (records: SessionRecord[]) => records.map((r) => r.seq);

describe("collectStep: each record once, across restarts and a ring that went past", () => {
  it.each<[string, Parameters<typeof collectStep>, number[], object]>([
    [
      "first look: every record kept",
      [undefined, answer("a", 1, 3), 25],
      [1, 2, 3],
      { next: { boot: "a", seq: 3 }, lost: 0, restarted: false },
    ],
    [
      "after the cursor only",
      [{ boot: "a", seq: 2 }, answer("a", 1, 3), 25],
      [3],
      { next: { boot: "a", seq: 3 }, lost: 0 },
    ],
    [
      "nothing new: the cursor stays",
      [{ boot: "a", seq: 3 }, answer("a", 1, 3), 25],
      [],
      { next: { boot: "a", seq: 3 }, lost: 0 },
    ],
    [
      "a budget: the oldest first, the rest next tick",
      [{ boot: "a", seq: 0 }, answer("a", 1, 5), 2],
      [1, 2],
      { next: { boot: "a", seq: 2 } },
    ],
    [
      "another boot: from that process's first, none taken for the old one's",
      [{ boot: "a", seq: 7 }, answer("b", 1, 2), 25],
      [1, 2],
      { next: { boot: "b", seq: 2 }, restarted: true, lost: 0 },
    ],
    [
      "the ring went past: the lost ones counted",
      [{ boot: "a", seq: 2 }, answer("a", 6, 8), 25],
      [6, 7, 8],
      { lost: 3 },
    ],
    [
      "lost, and no budget: the cursor passes the lost ones only",
      [{ boot: "a", seq: 2 }, answer("a", 6, 8), 0],
      [],
      { next: { boot: "a", seq: 5 }, lost: 3 },
    ],
  ])("%s", (_, args, taken, rest) => {
    const step = collectStep(...args);
    expect(seqs(step.records)).toEqual(taken);
    expect(step).toMatchObject(rest);
  });
});

describe("shareBudget", () => {
  it.each<[number[], number, number[]]>([
    [[5, 5], 4, [2, 2]],
    [[10, 1, 0], 5, [4, 1, 0]],
    [[1, 1], 10, [1, 1]],
    [[3], 0, [0]],
  ])("%j in %i → %j", (wanted, budget, shares) => {
    expect(shareBudget(wanted, budget)).toEqual(shares);
  });
});

describe("the points", () => {
  it("fill every schema position, within Analytics Engine's limits, the event as index", () => {
    for (const point of [
      bridgeMinutePoint("gpu-1", { reachable: true, sessions: 1 }),
      sessionEndPoint("gpu-1", record(1)),
    ]) {
      expect(point.blobs).toHaveLength(POINT_BLOBS.length);
      expect(point.doubles).toHaveLength(POINT_DOUBLES.length);
      expect(point.blobs!.length).toBeLessThanOrEqual(MAX_BLOBS);
      expect(point.doubles!.length).toBeLessThanOrEqual(MAX_DOUBLES);
      expect(point.indexes).toEqual([point.blobs![0]]);
    }
  });

  it.each<[string, Parameters<typeof bridgeMinutePoint>[1], string, number]>([
    ["up with a session", { reachable: true, sessions: 1 }, "up", 1],
    ["up and free", { reachable: true, sessions: 0 }, "up", 0],
    ["down", { reachable: false }, "down", 0],
    [
      "server down while drained",
      { reachable: false, draining: true, sessions: 1 },
      "maintenance",
      0,
    ],
  ])("bridge_minute %s", (_, probe, outcome, busy) => {
    const point = bridgeMinutePoint("gpu-1", probe);
    expect(point.blobs![POINT_BLOBS.indexOf("outcome")]).toBe(outcome);
    expect(point.doubles![POINT_DOUBLES.indexOf("busyMinutes")]).toBe(busy);
  });
});

describe("parseSessionRecords", () => {
  it.each<[string, unknown]>([
    ["not an object", "x"],
    ["no boot", { last: 0, first: 1, records: [] }],
    ["a negative count", { boot: "a", last: -1, first: 1, records: [] }],
    [
      "a termination that is not HAProxy's",
      { boot: "a", last: 1, first: 1, records: [{ ...record(1), termination: "<script>" }] },
    ],
  ])("refuses %s", (_, body) => {
    expect(parseSessionRecords(body)).toBeUndefined();
  });
});

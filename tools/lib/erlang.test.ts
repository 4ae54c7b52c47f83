import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";
import {
  erlangB,
  erlangC,
  gpusForMeanWait,
  gpusForTurnedAway,
  gpusForWaitExceeding,
  meanWait,
  MAX_GPUS,
  offeredLoad,
  probabilityWaitExceeds,
  sizingTable,
  type SizingTableSpec,
} from "./erlang";

/** What docs/sizing.md tabulates; the doc's prose names the same loads and targets. */
const DOC_TABLE: SizingTableSpec = {
  loads: [1, 2, 3.5, 5, 8],
  meanSessionMinutes: 5,
  waitMinutes: 1,
  targets: { turnedAway: 0.05, meanWaitMinutes: 1 },
};
const START = "<!-- sizingTable: start -->";
const END = "<!-- sizingTable: end -->";

/**
 * A published table gives the load at which N servers reach a target, rounded to its last digit:
 * the formula must cross the target inside that rounding interval.
 */
function crossesWithin(
  value: (load: number) => number,
  load: number,
  half: number,
  target: number,
) {
  expect(value(load - half)).toBeLessThanOrEqual(target);
  expect(value(load + half)).toBeGreaterThanOrEqual(target);
}

describe("Erlang B against published tables", () => {
  // Erlang B "Voice Channels Needed to Serve Offered Traffic Load for 2% Blocking", the first
  // column of Lucent Technologies' WirelessU table, http://garywagoner.tripod.com/traffic/ERLANG.HTML
  // (loads to 3 decimals). Further down that table a few rows miss 2 % by more than their rounding
  // (45 → 35.507 is 1.94 %, 61 → 50.389 is 1.91 %), so only the first column is used.
  it.each([
    [1, 0.02],
    [3, 0.602],
    [5, 1.657],
    [7, 2.935],
    [9, 4.345],
    [11, 5.842],
    [13, 7.402],
    [15, 9.01],
    [17, 10.656],
    [19, 12.333],
    [21, 14.036],
    [23, 15.761],
    [25, 17.505],
    [27, 19.265],
    [29, 21.039],
  ])("%i channels carry %f Erlang at 2 %% blocking (Lucent's table)", (gpus, load) => {
    crossesWithin((a) => erlangB(gpus, a), load, 0.0005, 0.02);
  });

  // Westbay's Erlang calculator manual, "How much traffic?": 15 lines at 1 % blocking carry
  // 8.108 Erlang. https://erlang.com/calculatormanual/howmuchtrafficcanatrunkgrouphandle.htm
  it("15 lines carry 8.108 Erlang at 1 % blocking (Westbay's calculator manual)", () => {
    crossesWithin((a) => erlangB(15, a), 8.108, 0.0005, 0.01);
    expect(gpusForTurnedAway(8.1, 0.01)).toBe(15);
    expect(gpusForTurnedAway(8.12, 0.01)).toBe(16);
  });

  it("the issue's example: 1,000 five-minute sessions a day on 4 GPUs turn away 25.7 %", () => {
    const load = offeredLoad(1000 / (24 * 60), 5);
    expect(load).toBeCloseTo(3.472, 3);
    expect(erlangB(4, load)).toBeCloseTo(0.2574, 4);
  });

  it("docs/sizing.md's numbers for that example with a line: 72 % wait, 6.9 / 1.2 min / 20 s", () => {
    const load = offeredLoad(1000 / (24 * 60), 5);
    expect(erlangC(4, load)).toBeCloseTo(0.724, 3);
    const minutes = (gpus: number) => {
      const wait = meanWait(gpus, load, 5);
      return wait.bounded ? wait.value : Infinity;
    };
    expect(minutes(4)).toBeCloseTo(6.9, 1);
    expect(minutes(5)).toBeCloseTo(1.2, 1);
    expect(minutes(6) * 60).toBeCloseTo(20, 0);
  });
});

describe("Erlang C against a published table", () => {
  // Digital Mobile Communications and the TETRA System, appendix A.4 "Erlang C table (for
  // blocked-calls-queued)", p. 424 and its worked example (an 8-channel trunked system), as stored
  // at https://www.scribd.com/document/831962299/TABLE-C: 8 channels at 5 % of calls delayed carry
  // A = 3.87; 10 channels at 1 % carry 4.08; for that traffic 10 channels bring the delayed calls to
  // 1 % or less; a queued call waits longer than one mean holding time with probability 0.016 on 8
  // channels and 0.0022 on 10 (A = 3.87 for both).
  it("8 channels carry 3.87 Erlang at 5 % delayed, 10 channels 4.08 at 1 %", () => {
    crossesWithin((a) => erlangC(8, a), 3.87, 0.005, 0.05);
    crossesWithin((a) => erlangC(10, a), 4.08, 0.005, 0.01);
    expect(gpusForWaitExceeding(3.87, 1, 0, 0.01)).toBe(10);
  });

  it.each([
    [8, 0.016, 3],
    [10, 0.0022, 4],
  ])(
    "on %i channels a queued call outwaits the mean holding time with P ≈ %f",
    (gpus, p, digits) => {
      const queued = probabilityWaitExceeds(gpus, 3.87, 1, 1) / erlangC(gpus, 3.87);
      expect(queued).toBeCloseTo(p, digits);
    },
  );
});

describe("Erlang formulas", () => {
  it("Erlang C is B's waiting form, P(wait > 0) is C, and W = C·h/(N − A)", () => {
    expect(erlangC(1, 0.5)).toBeCloseTo(0.5, 12);
    expect(erlangC(2, 1)).toBeCloseTo(1 / 3, 12);
    expect(probabilityWaitExceeds(4, 2, 5, 0)).toBe(erlangC(4, 2));
    expect(meanWait(2, 1, 5)).toEqual({ bounded: true, value: (erlangC(2, 1) * 5) / 1 });
    expect(erlangB(3, 0)).toBe(0);
    expect(meanWait(3, 0, 5)).toEqual({ bounded: true, value: 0 });
  });

  it("stays finite where factorials would overflow (1,000 GPUs at 950 Erlang)", () => {
    const b = erlangB(1000, 950);
    expect(b).toBeGreaterThan(0);
    expect(b).toBeLessThan(0.05);
    expect(erlangC(1000, 950)).toBeGreaterThan(b);
  });

  it.each([
    [4, 4],
    [4, 5],
    [1, 1e6],
  ])("with %i GPUs at %f Erlang the line grows without end: everyone waits", (gpus, load) => {
    expect(erlangC(gpus, load)).toBe(1);
    expect(meanWait(gpus, load, 5)).toEqual({ bounded: false });
    expect(probabilityWaitExceeds(gpus, load, 5, 60)).toBe(1);
  });

  it("GPUs needed is the first N that meets the target, and N − 1 does not", () => {
    for (const load of [0.5, 1, 3.5, 8, 40]) {
      const b = gpusForTurnedAway(load, 0.05);
      expect(erlangB(b, load)).toBeLessThanOrEqual(0.05);
      if (b > 1) expect(erlangB(b - 1, load)).toBeGreaterThan(0.05);

      const w = gpusForMeanWait(load, 5, 1);
      const wait = meanWait(w, load, 5);
      expect(wait.bounded && wait.value <= 1).toBe(true);
      const before = meanWait(w - 1, load, 5);
      expect(before.bounded && before.value <= 1).toBe(false);

      const p = gpusForWaitExceeding(load, 5, 1, 0.1);
      expect(probabilityWaitExceeds(p, load, 5, 1)).toBeLessThanOrEqual(0.1);
      expect(probabilityWaitExceeds(p - 1, load, 5, 1)).toBeGreaterThan(0.1);
    }
  });

  it("needs no line-growing N: a share target of 100 % still asks for more GPUs than the load", () => {
    expect(gpusForWaitExceeding(3.5, 5, 1, 1)).toBe(4);
    expect(gpusForTurnedAway(3.5, 1)).toBe(1);
  });

  it("gives up past MAX_GPUS rather than looping on", () => {
    expect(() => gpusForMeanWait(MAX_GPUS, 5, 1)).toThrow(`load ${MAX_GPUS} needs more than`);
  });
});

describe("bad input", () => {
  it.each([
    ["gpus must be a whole number ≥ 1, got 0", () => erlangB(0, 1)],
    ["gpus must be a whole number ≥ 1, got 2.5", () => erlangB(2.5, 1)],
    ["gpus must be a whole number ≥ 1, got NaN", () => erlangC(Number.NaN, 1)],
    ["load must be a finite number ≥ 0, got -1", () => erlangB(3, -1)],
    ["load must be a finite number ≥ 0, got Infinity", () => erlangC(3, Infinity)],
    ["meanSessionLength must be a finite number > 0, got 0", () => meanWait(3, 1, 0)],
    ["t must be a finite number ≥ 0, got -2", () => probabilityWaitExceeds(3, 1, 5, -2)],
    ["arrivalRate must be a finite number ≥ 0, got NaN", () => offeredLoad(Number.NaN, 5)],
    ["meanSessionLength must be a finite number ≥ 0, got -5", () => offeredLoad(2, -5)],
    ["maxTurnedAway must be a fraction in (0, 1], got 0", () => gpusForTurnedAway(3, 0)],
    ["maxTurnedAway must be a fraction in (0, 1], got 5", () => gpusForTurnedAway(3, 5)],
    ["maxMeanWait must be a finite number > 0, got 0", () => gpusForMeanWait(3, 5, 0)],
    [
      "maxProbability must be a fraction in (0, 1], got NaN",
      () => gpusForWaitExceeding(3, 5, 1, Number.NaN),
    ],
  ])("throws %j", (message, call) => {
    expect(call).toThrow(new RangeError(message));
  });
});

describe("docs/sizing.md", () => {
  it("holds the tables sizingTable generates, so the doc cannot drift from the formulas", () => {
    const doc = readFileSync(join(PROJECT_ROOT, "docs", "sizing.md"), "utf8");
    const start = doc.indexOf(START);
    const end = doc.indexOf(END);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    const inDoc = doc.slice(start + START.length, end).trim();
    expect(inDoc, "paste sizingTable(DOC_TABLE) between the markers").toBe(
      sizingTable(DOC_TABLE).trim(),
    );
  });

  it("reads the issue's example off the table: 3.5 Erlang on 4 GPUs turns away 26 %", () => {
    const row = sizingTable(DOC_TABLE)
      .split("\n")
      .find((line) => /^\|\s+3\.5 \|\s+42 \|\s+4 \|/.test(line));
    expect(row).toContain(" 26 % |");
  });
});

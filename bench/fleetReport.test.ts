import { describe, expect, it } from "vitest";
import {
  costByCount,
  differenceAndNoise,
  expectedBusyTries,
  fleetRows,
  fleetTable,
  roundMedians,
  slopeOf,
  withSection,
  type Admitted,
  type FleetFigures,
} from "./fleetReport";

const admitted = (round: number, to101: number, busyTries = 0): Admitted => ({
  round,
  to101,
  to00: to101 + 1,
  busyTries,
});

/** A fleet whose every figure is on target: busy skips cost 0.5 ms each, nothing else adds. */
function onTarget(): FleetFigures {
  const rounds = [0, 1, 2];
  return {
    bridges: 4,
    perTryBoundMs: 300,
    single: rounds.flatMap((r) => [admitted(r, 2), admitted(r, 2.2)]),
    fleet: [0, 1, 2, 3].map((k) =>
      rounds.flatMap((r) => [admitted(r, 2 + 0.5 * k, k), admitted(r, 2.2 + 0.5 * k, k)]),
    ),
    allBusy: rounds.map((round) => ({ round, toClose: 3, tries: 4 })),
    refusing: [
      { to101: 3, triedRefusing: true },
      { to101: 2, triedRefusing: false },
      { to101: 2, triedRefusing: false },
    ],
    hanging: [
      { to101: 2, phase: "before" },
      { to101: 303, phase: "paid" },
      { to101: 2, phase: "after" },
    ],
    hangingLast: [{ last: true, tryMs: 301 }],
    frames: { single: [120, 130, 125], fleet: [124, 128, 126] },
  };
}

describe("fleet report", () => {
  it("fits the least-squares slope, and has none when x does not vary", () => {
    expect(
      slopeOf([
        { x: 0, y: 1 },
        { x: 1, y: 3 },
        { x: 2, y: 5 },
      ]),
    ).toBeCloseTo(2);
    expect(
      slopeOf([
        { x: 1, y: 1 },
        { x: 1, y: 3 },
      ]),
    ).toBeNaN();
    expect(slopeOf([{ x: 0, y: 1 }])).toBeNaN();
  });

  it("gives each skip count's median and its rise per skip over count 0", () => {
    expect(
      costByCount([
        { x: 2, y: 7 },
        { x: 0, y: 2 },
        { x: 0, y: 4 },
        { x: 1, y: 4 },
        { x: 2, y: 9 },
      ]),
    ).toEqual([
      { count: 0, n: 2, median: 3, perStep: Number.NaN },
      { count: 1, n: 1, median: 4, perStep: 1 },
      { count: 2, n: 2, median: 8, perStep: 2.5 },
    ]);
  });

  it("calls a difference noise when the round-to-round range of either path covers it", () => {
    expect(differenceAndNoise([3, 3.2, 3.1], [2, 2.8, 2.5])).toEqual({
      delta: expect.closeTo(0.6, 9),
      noise: expect.closeTo(0.8, 9),
      within: true,
    });
    expect(differenceAndNoise([4, 4.1], [2, 2.2]).within).toBe(false);
  });

  it("expects k / (n − k + 1) busy tries before a free bridge in a random order", () => {
    expect([0, 1, 2, 3, 4].map((k) => expectedBusyTries(4, k))).toEqual([0, 0.25, 2 / 3, 1.5, 4]);
    expect(fleetTable(fleetRows(onTarget()))).toContain("| 1.00 (0.25) |");
  });

  it("takes one median per round, in round order", () => {
    expect(
      roundMedians(
        [admitted(1, 5), admitted(0, 1), admitted(1, 7), admitted(0, 3)],
        (s) => s.to101,
      ),
    ).toEqual([2, 6]);
  });

  it("passes every row of a fleet on target", () => {
    const rows = fleetRows(onTarget());
    expect(rows.filter((r) => r.met === false).map((r) => r.what)).toEqual([]);
    const slope = rows.find((r) => r.what.startsWith("cost per busy bridge skipped"))!;
    expect(slope.median).toBeCloseTo(0.5);
    expect(rows.find((r) => r.what.startsWith("refusing"))!.median).toBe(1);
    expect(rows.find((r) => r.what.startsWith("hanging bridge: cost"))!.median).toBe(301);
  });

  it("judges busy rows against the fleet with none busy, and that row against the single bridge", () => {
    const figures = onTarget();
    // Every fleet upgrade 3 ms slower than the single bridge: only the none-busy rows are over.
    figures.fleet = figures.fleet.map((samples) =>
      samples.map((s) => ({ ...s, to101: s.to101 + 3, to00: s.to00 + 3 })),
    );
    const over = fleetRows(figures)
      .filter((r) => r.met === false)
      .map((r) => r.what);
    expect(over).toEqual(["0 of 4 busy: to the 101", "0 of 4 busy: to the 0x00"]);
  });

  it("marks each missed target over", () => {
    const figures = onTarget();
    figures.allBusy = [{ round: 0, toClose: 80, tries: 4 }];
    figures.refusing[0].to101 = 9;
    figures.hanging[1].to101 = 2.5;
    figures.hangingLast = [{ last: false, tryMs: 301 }];
    const over = fleetRows(figures)
      .filter((r) => r.met === false)
      .map((r) => r.what.split(":")[0]);
    expect(over).toEqual(["4 of 4 busy", "refusing bridge", "hanging bridge", "hanging bridge"]);
    const table = fleetTable(fleetRows(figures));
    expect(table).toContain(
      "| hanging bridge: tried last when every other is busy (isolates) | 0 of 1 |",
    );
    expect(table.split("\n")[0]).toBe(
      "| figure | median | p95 | n | mean busy tries (random order alone) | target | verdict |",
    );
    expect(table).toContain("| **over** |");
  });

  it("replaces a section up to the next heading, or appends it", () => {
    const doc = "# Bench\n\n## A\n\nold a\n\n## The fleet\n\nold fleet\n\n## B\n\nb\n";
    expect(withSection(doc, "## The fleet", "## The fleet\n\nnew\n")).toBe(
      "# Bench\n\n## A\n\nold a\n\n## The fleet\n\nnew\n\n## B\n\nb\n",
    );
    expect(withSection("# Bench\n\n## A\n\na\n", "## The fleet", "## The fleet\n\nnew")).toBe(
      "# Bench\n\n## A\n\na\n\n## The fleet\n\nnew\n",
    );
    expect(
      withSection("# Bench\n\n## The fleet\n\nold\n", "## The fleet", "## The fleet\n\nnew"),
    ).toBe("# Bench\n\n## The fleet\n\nnew\n");
  });
});

import { describe, expect, it } from "vitest";
import {
  admissionRows,
  admissionTable,
  lineRows,
  lineTable,
  oneTryEach,
  triesOf,
  type LineFigures,
  type LineSample,
} from "./lineReport";

const sample = (round: number, to101: number, tries = 1, lineMs?: number): LineSample => ({
  round,
  to101,
  to00: to101 + 1,
  tries,
  ...(lineMs === undefined ? {} : { lineMs }),
});

/** Every figure on target: the coordinator 1 ms over today at k = 0, one try at every k. */
function onTarget(): LineFigures {
  const rounds = [0, 1, 2];
  return {
    bridges: 4,
    coordinatorTimeoutMs: 1_500,
    promptDelayMs: 100,
    admission: [0, 1, 2, 3].map((k) => ({
      coordinator: rounds.flatMap((r) => [sample(r, 3, 1, 1), sample(r, 3.2, 1, 2)]),
      todayWarm: rounds.flatMap((r) => [sample(r, 2, 1 + k), sample(r, 2.2, 1 + k)]),
      todayCold: rounds.flatMap((r) => [sample(r, 2 + k, 1), sample(r, 2.2 + k, 1 + k)]),
    })),
    turns: Array.from({ length: 20 }, (_, i) => ({
      toTurn: 100 + 20 * i,
      to00: 100 + 20 * i + 5 + 100,
      oneTry: true,
    })),
    crowd: {
      visitors: 1_000,
      rssBefore: 100 * 1024 * 1024,
      rssWaiting: 100 * 1024 * 1024 + 1_000 * 50 * 1024,
      rssSteps: [0, 500, 1_000].map((waiting) => ({
        waiting,
        rss: 100 * 1024 * 1024 + waiting * 40 * 1024,
      })),
      joinAllMs: 3_000,
      moveUp: [80, 120, 60],
    },
    fallback: {
      today: [
        { to101: 2, tries: 1 },
        { to101: 2.4, tries: 1 },
        { to101: 2.2, tries: 1 },
      ],
      throwing: [{ to101: 3, tries: 1, why: "exception:Error" }],
      hanging: [
        { to101: 1_503, tries: 1, why: "timeout" },
        { to101: 1_510, tries: 1, why: "timeout" },
      ],
    },
  };
}

const over = (f: LineFigures) =>
  lineRows(f)
    .filter((r) => r.met === false)
    .map((r) => r.what);

describe("the waiting line's report", () => {
  it("counts tries per upgrade, and wants exactly one from each", () => {
    expect(triesOf([{ tries: 1 }, { tries: 3 }, { tries: 2 }])).toEqual({
      mean: 2,
      min: 1,
      max: 3,
    });
    expect(oneTryEach([{ tries: 1 }, { tries: 1 }])).toBe(true);
    expect(oneTryEach([{ tries: 1 }, { tries: 2 }])).toBe(false);
    expect(oneTryEach([])).toBe(false);
  });

  it("gives each k and way in its times, its tries and a random order's 1 + k / (N − k + 1)", () => {
    const rows = admissionRows(onTarget());
    expect(rows.map((r) => `${r.k} ${r.path}`).slice(0, 3)).toEqual([
      "0 through the coordinator",
      "0 today, one warm isolate",
      "0 today, memory cold",
    ]);
    expect(rows.filter((r) => r.path === "today, memory cold").map((r) => r.randomTries)).toEqual([
      1,
      1.25,
      1 + 2 / 3,
      2.5,
    ]);
    const coordinator = rows[9];
    expect(coordinator).toMatchObject({ k: 3, n: 6, lineMs: 1.5, met: true });
    expect(coordinator.to101).toEqual({ median: 3.1, p95: 3.2 });
    expect(rows.filter((r) => r.met !== undefined)).toHaveLength(4);
  });

  it("fails the one-try target at a k where any upgrade through the coordinator tried twice", () => {
    const figures = onTarget();
    figures.admission[2].coordinator[4].tries = 2;
    const rows = admissionRows(figures);
    expect(rows.filter((r) => r.met === false).map((r) => [r.k, r.tries.max])).toEqual([[2, 2]]);
    expect(admissionTable(rows)).toContain("| 2 | through the coordinator |");
    expect(admissionTable(rows)).toContain(
      "| 1.17 (1–2) | 1.67 | 2 ms | one try each | **over** |",
    );
  });

  it("passes every row of figures on target", () => {
    expect(over(onTarget())).toEqual([]);
    const cost = lineRows(onTarget()).find((r) =>
      r.what.includes("coordinator's cost to the 101"),
    )!;
    expect(cost.value).toBeCloseTo(1);
  });

  it("judges the coordinator's cost at k = 0 by the medians over rounds against today's warm isolate", () => {
    const figures = onTarget();
    figures.admission[0].coordinator = figures.admission[0].coordinator.map((s) => ({
      ...s,
      to101: s.to101 + 1.5,
    }));
    expect(over(figures)).toEqual([
      "0 of 4 busy: the coordinator's cost to the 101 (median over rounds, coordinator − today)",
    ]);
  });

  it("takes the prompt delay off the turn, judges its nearest-rank p95, and wants 20 samples", () => {
    const rows = lineRows(onTarget());
    const turn = rows.find((r) => r.what.startsWith("a session's end"))!;
    // 105 … 485 ms after the prompt delay: p95 of 20 is the 19th.
    expect([turn.value, turn.p95, turn.n]).toEqual([295, 465, 20]);
    expect(rows.find((r) => r.what.includes("→ the 0x00 (the ticket's upgrade)"))!.value).toBe(5);

    const slow = onTarget();
    slow.turns[19].to00 += 1_000;
    slow.turns[18].to00 += 1_000;
    expect(over(slow)).toEqual([
      "a session's end → the head of the line's 0x00, less the prompt delay (100 ms)",
    ]);
    const few = onTarget();
    few.turns.splice(10);
    expect(over(few)).toHaveLength(1);
  });

  it("gives the crowd's memory per page as growth ÷ pages and as the slope over the line's growth", () => {
    const rows = lineRows(onTarget());
    const perPage = rows.find((r) => r.what.includes("RSS per waiting page"))!;
    expect(perPage.value).toBe(50);
    expect(perPage.target).toContain("40.0 KiB per page (3 readings)");
    expect(rows.find((r) => r.what.includes("before → waiting"))!.display).toBe(
      "100.0 → 148.8 MiB",
    );
  });

  it("judges the move-up by the slowest time the head left", () => {
    const figures = onTarget();
    figures.crowd!.moveUp = [80, 1_200, 60];
    expect(over(figures)).toEqual([
      "1000 pages waiting: the head leaves → every page has its new position",
    ]);
  });

  it("allows the fallback one bounded call to the coordinator more than today, and no more", () => {
    const rows = lineRows(onTarget());
    const hangs = rows.find((r) => r.what.includes("coordinator hangs"))!;
    expect(hangs.value).toBeCloseTo(1_506.5 - 2.2);
    expect(hangs.target).toContain("logged as timeout");
    const slow = onTarget();
    slow.fallback.hanging = [{ to101: 1_600, tries: 1, why: "timeout" }];
    slow.fallback.throwing = [];
    expect(over(slow)).toEqual([
      "fallback: the coordinator throws, to the 101 over today's (medians)",
      "fallback: the coordinator hangs, to the 101 over today's (medians)",
    ]);
  });

  it("writes the rows as Markdown tables with a verdict", () => {
    const table = lineTable(lineRows(onTarget()));
    expect(table.split("\n")[0]).toBe("| figure | median | p95 | n | target | verdict |");
    expect(table).toContain("| 100.0 → 148.8 MiB |");
    expect(table).toContain("| pass |");
    expect(admissionTable(admissionRows(onTarget())).split("\n")).toHaveLength(2 + 12);
  });
});

import { describe, expect, it } from "vitest";
import { ladderRows, ladderTable, medianWithChunkRange } from "./ablationLadder";

// The ladder's arithmetic only: whether its rungs still fit the Worker is checked when
// `npm run bench:ablation` starts (`-- --check` for that alone), never in `npm test`.
describe("the ablation ladder's arithmetic", () => {
  it("turns per-cycle samples into savings, by step and by group, that add up to the whole cost over the floor", () => {
    // Three steps (two in one group), four cycles; the floor about 100 under the last rung.
    const result = ladderRows(
      [
        { removes: "a", group: "A" },
        { removes: "b1", group: "B" },
        { removes: "b2", group: "B" },
      ],
      [
        [300, 310, 305, 300],
        [250, 262, 255, 250],
        [220, 230, 226, 220],
        [210, 222, 214, 210],
        [110, 120, 114, 110],
      ],
      "shell",
      2,
    );
    expect(result.total).toEqual({ median: 190, min: 190, max: 190.5 });
    expect(result.groups).toEqual([
      { removes: "a", saves: { median: 50, min: 49, max: 50 }, left: 140.5, steps: [] },
      {
        removes: "B",
        saves: { median: 40, min: 40, max: 40.5 },
        left: 100,
        steps: [
          { removes: "b1", saves: { median: 30, min: 29.5, max: 31 }, left: 110 },
          { removes: "b2", saves: { median: 10, min: 9, max: 11 }, left: 100 },
        ],
      },
      { removes: "shell", saves: { median: 100, min: 100, max: 101 }, left: 0, steps: [] },
    ]);
    const table = ladderTable(result);
    expect(table).toContain("| **a** | 50 (49–50) | 141 |");
    expect(table).toContain(
      "| **B** | 40 (40–41) | 100 |\n| ↳ b1 | 30 (30–31) | 110 |\n| ↳ b2 | 10 (9–11) | 100 |",
    );
    expect(table).toContain(
      "Sum of the bold rows: 190 µs per upgrade; the whole edge over the floor, measured directly: 190 µs.",
    );
  });

  it("shows how far a median moves across the run", () => {
    expect(medianWithChunkRange([1, 2, 3, 10, 20, 30], 2)).toEqual({
      median: 6.5,
      min: 2,
      max: 20,
    });
  });
});

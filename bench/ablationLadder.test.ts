import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../tools/lib/bridgeProcess";
import { loadStackSettings } from "../infra/config/stackFiles";
import { ABLATION_LADDER, applyEdit, buildRung, checkLadder, ladderRows, ladderTable, medianWithChunkRange } from "./ablationLadder";
import { benchBridgeUrl, benchEdgeBindings, benchEdgeTarget, hs256BenchToken } from "./floor";
import { openSocket } from "./measure";
import { startWorkerd } from "./workerdProcess";

describe("the ablation ladder", () => {
  const workDir = mkdtempSync(join(tmpdir(), "voice-edge-ladder-test-"));
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it("still fits the Worker's sources, rung after rung", () => {
    expect(() => checkLadder()).not.toThrow();
  });

  it("names the file and the text when an edit no longer fits", () => {
    expect(() => applyEdit("a b", { file: "worker/src/x.ts", find: "c", replace: "" })).toThrow("worker/src/x.ts must contain exactly once: c");
    expect(() => applyEdit("a a", { file: "worker/src/x.ts", find: "a", replace: "" })).toThrow("exactly once");
    expect(applyEdit("one two", { file: "f", find: "two", replace: "2" })).toBe("one 2");
  });

  it("takes each step out of the bundle it builds, and only from its rung on", async () => {
    const bundleAt = async (rung: number) => (await buildRung(rung, join(workDir, `rung-${rung}.mjs`))).code;
    const count = (code: string, text: string) => code.split(text).length - 1;
    const rungRemoving = (text: string) => ABLATION_LADDER.findIndex((step) => step.removes.includes(text));
    const whole = await bundleAt(0);
    // The bundle has other timeouts, redirects and verifications (health probe, JWKS, jose): the upgrade path's go, one each.
    for (const [step, text] of [
      ["AbortSignal.timeout", "AbortSignal.timeout"],
      ['redirect: "manual"', 'redirect:"manual"'],
      ["crypto.subtle.verify", 'crypto.subtle.verify("HMAC"'],
    ]) {
      const rung = rungRemoving(step);
      expect(rung, step).toBeGreaterThanOrEqual(0);
      expect(count(await bundleAt(rung), text), step).toBe(count(whole, text));
      expect(count(await bundleAt(rung + 1), text), step).toBe(count(whole, text) - 1);
    }
  });

  describe("in workerd", () => {
    let bridge: StandinBridge;
    beforeAll(async () => {
      bridge = await startStandinBridge({ protocols: ["voice.v1"] });
    });
    afterAll(() => bridge.stop());

    it("every rung still upgrades an authenticated browser and passes its frames", async () => {
      const token = await hs256BenchToken();
      for (let rung = 0; rung <= ABLATION_LADDER.length; rung++) {
        const bundle = await buildRung(rung, join(workDir, `live-${rung}.mjs`));
        const edge = await startWorkerd({ code: bundle.code, compatibilityDate: loadStackSettings("prod").compatibilityDate, bindings: benchEdgeBindings(benchBridgeUrl(bridge)) });
        try {
          const socket = await openSocket(benchEdgeTarget(edge.port, token));
          await socket.next();
          socket.ws.send(Buffer.from(`rung ${rung}`));
          expect(String(await socket.next())).toBe(`rung ${rung}`);
          socket.ws.close(1000);
        } finally {
          await edge.stop();
        }
      }
    }, 90_000);
  });

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
    expect(table).toContain("| **B** | 40 (40–41) | 100 |\n| ↳ b1 | 30 (30–31) | 110 |\n| ↳ b2 | 10 (9–11) | 100 |");
    expect(table).toContain("Sum of the bold rows: 190 µs per upgrade; the whole edge over the floor, measured directly: 190 µs.");
  });

  it("shows how far a median moves across the run", () => {
    expect(medianWithChunkRange([1, 2, 3, 10, 20, 30], 2)).toEqual({ median: 6.5, min: 2, max: 20 });
  });
});

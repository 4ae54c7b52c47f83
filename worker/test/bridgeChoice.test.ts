import { describe, expect, it } from "vitest";
import {
  RECENTLY_BUSY_MS,
  RECENTLY_DOWN_MS,
  refusalOfTries,
  tryOrder,
  type BridgeMark,
} from "../src/bridgeChoice";
import { SessionRefusal } from "../src/errors";

const fleet = ["gpu-1", "gpu-2", "gpu-3", "gpu-4"].map((name) => ({ name }));
const names = (bridges: { name: string }[]) => bridges.map((bridge) => bridge.name);
/** A random() that makes the Fisher–Yates shuffle leave the order as it is. */
const identity = () => 0.999_999;
const NOW = 1_000_000;

describe("tryOrder", () => {
  it("tries every bridge once, in an order that the random source decides", () => {
    const seen = new Set<string>();
    let seed = 1;
    const random = () => ((seed = (seed * 16_807) % 2_147_483_647) - 1) / 2_147_483_646;
    for (let i = 0; i < 50; i++) {
      const order = names(tryOrder(fleet, new Map(), NOW, random));
      expect([...order].sort()).toEqual(names(fleet));
      seen.add(order.join());
    }
    // 24 orders exist; 50 draws of a fair shuffle see many of them, a fixed order sees one.
    expect(seen.size).toBeGreaterThan(10);
  });

  it("puts a bridge busy lately after the fresh ones, and one down lately after those", () => {
    const memory = new Map<string, BridgeMark>([
      ["gpu-1", { at: NOW - 100, kind: "down" }],
      ["gpu-2", { at: NOW - 100, kind: "busy" }],
    ]);
    expect(names(tryOrder(fleet, memory, NOW, identity))).toEqual([
      "gpu-3",
      "gpu-4",
      "gpu-2",
      "gpu-1",
    ]);
  });

  it("orders the marked ones of a kind by how long ago, the longest first", () => {
    const memory = new Map<string, BridgeMark>([
      ["gpu-1", { at: NOW - 10, kind: "busy" }],
      ["gpu-2", { at: NOW - 3_000, kind: "busy" }],
      ["gpu-3", { at: NOW - 10, kind: "down" }],
      ["gpu-4", { at: NOW - 20_000, kind: "down" }],
    ]);
    expect(names(tryOrder(fleet, memory, NOW, identity))).toEqual([
      "gpu-2",
      "gpu-1",
      "gpu-4",
      "gpu-3",
    ]);
  });

  it("forgets a busy mark after RECENTLY_BUSY_MS and a down mark after RECENTLY_DOWN_MS", () => {
    const memory = new Map<string, BridgeMark>([
      ["gpu-1", { at: NOW - RECENTLY_BUSY_MS, kind: "busy" }],
      ["gpu-2", { at: NOW - RECENTLY_DOWN_MS, kind: "down" }],
      ["gpu-3", { at: NOW - RECENTLY_BUSY_MS, kind: "down" }],
    ]);
    expect(names(tryOrder(fleet, memory, NOW, identity))).toEqual([
      "gpu-1",
      "gpu-2",
      "gpu-4",
      "gpu-3",
    ]);
  });
});

const busy = (retryAfterS: number) =>
  new SessionRefusal({ error: "bridge_busy", retryAfterS }, "bridge_busy", { bridgeStatus: 503 });
const down = (
  failure: "bridge_timeout" | "bridge_unavailable" | "bridge_rejected",
  status?: number,
) =>
  new SessionRefusal(
    { error: "bridge_unavailable" },
    failure,
    status === undefined ? {} : { bridgeStatus: status },
  );

describe("refusalOfTries", () => {
  it("says busy with the smallest retryAfterS when every bridge is busy", () => {
    const refusal = refusalOfTries([busy(9), busy(4), busy(7)]);
    expect(refusal.closeCode).toBe(1013);
    expect(refusal.reason).toEqual({ error: "bridge_busy", retryAfterS: 4 });
  });

  it("says busy (1013) when busy and down are mixed, whichever came last", () => {
    const refusal = refusalOfTries([down("bridge_timeout"), busy(6), down("bridge_rejected", 502)]);
    expect(refusal.closeCode).toBe(1013);
    expect(refusal.reason).toEqual({ error: "bridge_busy", retryAfterS: 6 });
  });

  it("says unavailable (1014) with the last failure when every bridge is down", () => {
    const refusal = refusalOfTries([down("bridge_timeout"), down("bridge_rejected", 530)]);
    expect(refusal.closeCode).toBe(1014);
    expect(refusal.failure).toBe("bridge_rejected");
    expect(refusal.detail).toEqual({ bridgeStatus: 530 });
  });
});

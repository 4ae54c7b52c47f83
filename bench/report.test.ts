import { describe, expect, it } from "vitest";
import { checkTargets, latencyChartSvg, resultsTable, type PathResult } from "./report";
import { capnpBindings } from "./workerdProcess";

const path = (name: string, hs: number, rtt: number, mps: number): PathResult => ({ name, handshake: { p50: hs, p99: hs * 2 }, rtt: { p50: rtt, p99: rtt * 2 }, messagesPerSecond: mps });

describe("bench report", () => {
  const results = [path("direct", 600, 100, 70_000), path("nginx", 750, 160, 45_000), path("HAProxy", 760, 150, 47_000), path("edge", 1_200, 140, 44_000)];

  it("gives every figure as a ratio to direct", () => {
    const table = resultsTable(results);
    expect(table).toContain("| edge | 1,200 | 2,400 | 2.00× | 140 | 280 | +40 | 1.40× | 44,000 | 0.63× |");
    expect(table.split("\n")).toHaveLength(2 + results.length);
  });

  it("checks the three targets against the best peer and nginx", () => {
    expect(checkTargets(results).map((t) => [t.target, t.met])).toEqual([
      ["edge RTT p50 added over direct ≤ best peer's", true],
      ["edge throughput ≥ best peer's (or within 10%)", true],
      ["authenticated edge handshake p50 ≤ 1.5× nginx's", false],
    ]);
    expect(checkTargets(results)[2].detail).toBe("edge (HS256) 1,200 µs vs nginx 750 µs (1.60×)");
  });

  it("says when no peer could be measured", () => {
    expect(checkTargets([results[0], results[3]])).toEqual([{ target: "peers", met: false, detail: "no peer proxy could be started: nothing to compare against" }]);
  });

  it("draws one bar per series per path", () => {
    expect(latencyChartSvg(results, "t").match(/<rect x=/g)).toHaveLength(results.length * 3 + 3);
  });

  it("writes text and json bindings for a bare workerd config", () => {
    expect(capnpBindings({ BRIDGE_URL: "http://127.0.0.1:1/api/chat", EDGE_CONFIG: { auth: { mode: "off" } } })).toBe(
      '(name = "BRIDGE_URL", text = "http://127.0.0.1:1/api/chat"),\n    (name = "EDGE_CONFIG", json = "{\\"auth\\":{\\"mode\\":\\"off\\"}}")',
    );
  });
});

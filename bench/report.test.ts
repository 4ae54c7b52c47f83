import { describe, expect, it } from "vitest";
import * as report from "./report";
import { capnpBindings } from "./workerdProcess";

const path = (name: string, hs: number, rtt: number, mps: number): report.PathResult => ({
  name,
  handshake: { p50: hs, p99: hs * 2 },
  rtt: { p50: rtt, p99: rtt * 2 },
  messagesPerSecond: mps,
});

describe("bench report", () => {
  const results = [
    path("direct", 600, 100, 70_000),
    path("nginx", 750, 160, 45_000),
    path("HAProxy", 760, 150, 47_000),
    path("edge", 1_200, 140, 44_000),
  ];

  it("gives every figure as a ratio to direct", () => {
    const table = report.resultsTable(results);
    expect(table).toContain(
      "| edge | 1,200 | 2,400 | 2.00× | 140 | 280 | +40 | 1.40× | 44,000 | 0.63× |",
    );
    expect(table.split("\n")).toHaveLength(2 + results.length);
  });

  it("checks the three targets against the best peer and nginx", () => {
    expect(report.checkTargets(results).map((t) => [t.target, t.met])).toEqual([
      ["edge RTT p50 added over direct ≤ best peer's", true],
      ["edge throughput ≥ best peer's (or within 10%)", true],
      ["authenticated edge handshake p50 ≤ 1.5× nginx's", false],
    ]);
    expect(report.checkTargets(results)[2].detail).toBe(
      "edge (HS256) 1,200 µs vs nginx 750 µs (1.60×)",
    );
  });

  it("says when no peer could be measured", () => {
    expect(report.checkTargets([results[0], results[3]])).toEqual([
      {
        target: "peers",
        met: false,
        detail: "no peer proxy could be started: nothing to compare against",
      },
    ]);
  });

  it("draws one bar per series per path", () => {
    expect(report.latencyChartSvg(results, "t").match(/<rect x=/g)).toHaveLength(
      results.length * 3 + 3,
    );
  });

  it("writes text and json bindings for a bare workerd config", () => {
    expect(
      capnpBindings({
        BRIDGE_URL: "http://127.0.0.1:1/api/chat",
        EDGE_CONFIG: { auth: { mode: "off" } },
      }),
    ).toBe(
      '(name = "BRIDGE_URL", text = "http://127.0.0.1:1/api/chat"),\n    (name = "EDGE_CONFIG", json = "{\\"auth\\":{\\"mode\\":\\"off\\"}}")',
    );
  });
});

describe("the floor-relative report", () => {
  const s = (median: number, min = median, max = median) => ({ median, min, max });
  const rows = [
    {
      runtime: "workerd",
      name: "floor",
      floor: true,
      handshake: s(1_000, 950, 1_100),
      rtt: s(120),
      messagesPerSecond: s(60_000),
    },
    {
      runtime: "workerd",
      name: "edge HS256",
      floor: false,
      handshake: s(1_080, 1_000, 1_200),
      rtt: s(126),
      messagesPerSecond: s(57_000),
    },
    { runtime: "workerd", name: "edge RS256", floor: false, handshake: s(1_250) },
    {
      runtime: "Miniflare",
      name: "floor",
      floor: true,
      handshake: s(1_500),
      rtt: s(180),
      messagesPerSecond: s(50_000),
    },
    {
      runtime: "Miniflare",
      name: "edge HS256",
      floor: false,
      handshake: s(1_800),
      rtt: s(200),
      messagesPerSecond: s(40_000),
    },
  ];
  const cpu = [
    { name: "floor", micros: s(500, 480, 560) },
    { name: "edge HS256", micros: s(700, 650, 760) },
  ];

  it("divides each row by its own runtime's floor and shows the spread", () => {
    const table = report.floorTable(rows);
    expect(table).toContain(
      "| workerd | edge HS256 | 1,080 (1,000–1,200) | 1.08× | 126 (126–126) | +6 | 57,000 (57,000–57,000) | 0.95× |",
    );
    expect(table).toContain(
      "| Miniflare | edge HS256 | 1,800 (1,800–1,800) | 1.20× | 200 (200–200) | +20 | 40,000 (40,000–40,000) | 0.80× |",
    );
  });

  it("gives the Worker's own CPU per upgrade as the edge's minus the floor's", () => {
    expect(report.cpuTable(cpu)).toContain("| edge HS256 | 700 (650–760) | 200 |");
  });

  it("checks the targets against the floor, each able to fail", () => {
    expect(
      report
        .checkFloorTargets({ workerd: rows.filter((r) => r.runtime === "workerd"), cpu })
        .map((t) => [t.target, t.met]),
    ).toEqual([
      ["handshake ≤ 1.10× the floor with HS256", true],
      ["handshake ≤ 1.20× the floor with a cached JWKS key (RS256)", false],
      ["added RTT p50 within 10 µs of the floor", true],
      ["throughput ≥ 0.9× the floor's", true],
      ["Worker CPU ≤ 150 µs per HS256 upgrade", false],
    ]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditLogs,
  badTokenFlood,
  PROBES,
  rawProbes,
  spoofedHeaders,
  type FloodReport,
  type ProbeReport,
} from "./abuse";
import { startHarness, type Harness } from "./harness";
import { runLoad } from "./load";

/** The abuse runs of `npm run soak`, at full count: they take about two seconds. */

let h: Harness;
let flood: FloodReport;
let probes: ProbeReport;

beforeAll(async () => {
  h = await startHarness();
  flood = await badTokenFlood(h, { attempts: 1_000, concurrency: 20 });
  probes = await rawProbes(h, { stalled: 50 });
});

afterAll(() => h?.dispose());

describe("abuse gets a defined answer and nothing through", () => {
  it("refuses 1,000 upgrades with bad tokens of every kind, in every transport, each with its code, and none reaches the bridge", () => {
    expect(flood.wrong).toEqual([]);
    expect(flood.refusedAsExpected).toBe(1_000);
    expect(flood.kinds).toBeGreaterThan(60);
    expect(flood.bridgeUpgrades).toBe(0);
  });

  it("never lets a spoofed X-Voice-Subject or Access header reach the bridge, in any transport or spelling", async () => {
    const report = await spoofedHeaders(h);
    expect(report.leaks).toEqual([]);
    expect(report.sessions).toBe(5);
  });

  it.each(PROBES.map((probe) => [probe.name, probe.expected] as const))(
    "answers %s with %s",
    (name) => {
      const result = probes.results.find((r) => r.name === name)!;
      expect(result.got).not.toMatch(/no answer/);
      expect(result.ok, `got ${result.got}`).toBe(true);
    },
  );

  it("still serves health and sessions after every probe, with 50 connections stalled mid-headers, and leaves no bridge session open", () => {
    expect(probes).toMatchObject({ edgeStillServes: true, stalled: 50, bridgeOpenAfter: 0 });
  });

  it("writes no token, secret or query string to any log line, whichever transport carried the token", async () => {
    await runLoad({ kind: "churn", url: h.wsUrl, cycles: 40, concurrency: 4, frameBytes: 640 });
    const audit = auditLogs(h.edge.logs, flood.tokens);
    expect(audit.leaks).toEqual([]);
    expect(Object.keys(audit.connectedByTransport).sort()).toEqual([
      "authorization",
      "cookie",
      "query",
      "subprotocol",
    ]);
    expect(audit.refused).toBeGreaterThanOrEqual(1_000);
  });
});

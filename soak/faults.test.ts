import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bridgeKilledMidSession, clientVanishes, slowBridge } from "./faults";
import { bridgeDrains, startHarness, type Harness } from "./harness";

/** Short forms of `npm run soak`'s fault runs. Bounds are several times what soak/results.md measured. */

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ bridgeConnectTimeoutMs: 700 });
});

afterAll(() => h?.dispose());

describe("faults end sessions promptly and cleanly", () => {
  it("closes every streaming client with 1006 within 2 s when the bridge is killed, answers 502 until it is back, then connects without restarting the edge", async () => {
    const report = await bridgeKilledMidSession(h, { sessions: 10, attemptsWhileDown: 5 });
    expect(report.closeCodes).toEqual({ 1006: 10 });
    expect(report.closeMs.max).toBeLessThan(2_000);
    expect(report.whileDown.answers).toEqual({ "502 bridge_unavailable": 5 });
    expect(report.whileDown.maxMs).toBeLessThan(2_000);
    expect(report.afterRestart).toMatchObject({ answer: "101", echoed: true });
  });

  it("connects to a bridge slow within bridgeConnectTimeoutMs, answers 504 at the bound beyond it, and leaves no session behind when the late 101 comes", async () => {
    const report = await slowBridge(h, { withinMs: 200, beyondMs: 1_500 });
    expect(report.withinBound.answer).toBe("101");
    expect(report.beyondBound.answer).toBe("504 bridge_timeout");
    expect(report.beyondBound.ms).toBeGreaterThanOrEqual(report.boundMs - 50);
    expect(report.beyondBound.ms).toBeLessThan(report.boundMs + 1_000);
    expect(report.openAfterLateAnswer).toBe(0);
  });

  it.each(["FIN", "RST"] as const)("ends the bridge's session within 2 s when a client vanishes without a close frame (%s)", async (how) => {
    const report = await clientVanishes(h, how, 5_000);
    expect(report.bridgeSawEndMs).toBeLessThan(2_000);
    expect(report.bridgeCloseCode).toBe(1006);
    expect(await bridgeDrains(h, 2_000)).toBeLessThan(2_000);
  });
});

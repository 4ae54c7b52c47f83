import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bridgeKilledMidSession, clientVanishes, slowBridge } from "./faults";
import { bridgeDrains, startHarness, type Harness } from "./harness";
import { bridgeHealth } from "../test/support/bridge";

/**
 * Short forms of `npm run soak`'s fault runs. They assert outcomes (close codes, answers, sessions
 * left); how long each took is printed, as `npm run soak` measures it, never asserted.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ bridgeConnectTimeoutMs: 700 });
});

afterAll(() => h?.dispose());

describe("faults end sessions promptly and cleanly", () => {
  it("closes every streaming client with 1006 when the bridge is killed, closes new sessions with 1014 at once (not at the connect bound) until it is back, then connects without restarting the edge", async () => {
    const report = await bridgeKilledMidSession(h, { sessions: 10, attemptsWhileDown: 5 });
    console.log(
      `bridge killed: clients closed after ${report.closeMs.max.toFixed(0)} ms at most; refusals while down took ${report.whileDown.maxMs.toFixed(0)} ms at most`,
    );
    // Every one of the 10 closed with 1006; one still open would count as "none within 30 s".
    expect(report.closeCodes).toEqual({ 1006: 10 });
    expect(report.closeMs.count).toBe(10);
    // A 101 closed with 1014 bridge_unavailable: the refused connection, answered at once (the log
    // line says bridge_unavailable; waiting for the bridge would log bridge_timeout at the bound).
    expect(report.whileDown.answers).toEqual({ "1014 bridge_unavailable": 5 });
    expect(report.afterRestart).toMatchObject({ answer: "101", echoed: true });
  });

  it("connects to a bridge slow within bridgeConnectTimeoutMs, closes with 1014 at the bound beyond it (logged bridge_timeout), and leaves no session behind when the late 101 comes", async () => {
    const report = await slowBridge(h, { withinMs: 200, beyondMs: 1_500 });
    console.log(
      `slow bridge: 1014 after ${report.beyondBound.ms.toFixed(0)} ms (bound ${report.boundMs} ms)`,
    );
    // The bound the edge received, and the answer only its own abort at that bound gives.
    expect(report.boundMs).toBe(700);
    expect(report.withinBound.answer).toBe("101");
    expect(report.beyondBound.answer).toBe("1014 bridge_unavailable");
    expect(h.edge.logs.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({ outcome: "refused", error: "bridge_timeout", closeCode: 1014 }),
    );
    expect(report.openAfterLateAnswer).toBe(0);
  });

  it.each(["FIN", "RST"] as const)(
    "ends the bridge's session with 1006 when a client vanishes without a close frame (%s)",
    async (how) => {
      // clientVanishes throws unless the bridge records the session closed (it waits up to 20 s for that).
      const report = await clientVanishes(h, how, 20_000);
      console.log(
        `client vanished (${how}): the bridge saw the end after ${report.bridgeSawEndMs.toFixed(0)} ms`,
      );
      expect(report.bridgeCloseCode).toBe(1006);
      await bridgeDrains(h, 20_000);
      expect((await bridgeHealth(h.bridge.origin)).openSessions).toBe(0);
    },
  );
});

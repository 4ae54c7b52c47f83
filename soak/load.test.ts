import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bridgeDrains, startHarness, type Harness } from "./harness";
import { runLoad } from "./load";
import { MiB, openFileDescriptors } from "../test/support/processes";
import { bridgeHealth } from "../test/support/bridge";

/** Short forms of `npm run soak`'s load runs (200 sessions x 60 s; 2,000 cycles): same code, smaller counts. */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(() => h?.dispose());

describe("under load, the edge loses nothing and leaks nothing", () => {
  it("carries 20 sessions x 50 frames/s of 640 bytes for 4 s with no frame lost, reordered or corrupted", async () => {
    const result = await runLoad({
      kind: "stream",
      url: h.wsUrl,
      sessions: 20,
      framesPerSecond: 50,
      seconds: 4,
      frameBytes: 640,
      openConcurrency: 10,
      drainMs: 5_000,
    });
    expect(result.sessions).toMatchObject({
      opened: 20,
      openFailures: [],
      closedEarly: [],
      closedWith1000: 20,
    });
    expect(result.frames).toEqual({
      sent: 4_000,
      echoed: 4_000,
      lost: 0,
      reordered: 0,
      corrupted: 0,
      unexpected: 0,
    });
    // Latency is measured, not asserted (speed lives in `npm run soak` and the bench): every frame's round trip was timed.
    console.log(
      `load: round trip p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms, max ${result.latencyMs.max.toFixed(1)} ms`,
    );
    expect(result.latencyMs.count).toBe(4_000);
    await bridgeDrains(h, 20_000);
    expect((await bridgeHealth(h.bridge.origin)).openSessions).toBe(0);
  });

  it("leaves no session open, no socket held and RSS within 32 MiB of its warmed-up baseline after 300 connect-authenticate-exchange-close cycles", async () => {
    const cycle = { kind: "churn", url: h.wsUrl, concurrency: 10, frameBytes: 640 } as const;
    await runLoad({ ...cycle, cycles: 40 });
    await bridgeDrains(h, 5_000);
    const baseline = {
      rss: h.edgeRss(),
      fds: openFileDescriptors(h.workerdPid),
      started: (await bridgeHealth(h.bridge.origin)).sessionsStarted,
    };

    const result = await runLoad({ ...cycle, cycles: 300 });
    expect(result).toMatchObject({ succeeded: 300, failures: {} });
    expect(Object.keys(result.byTransport).sort()).toEqual([
      "authorization",
      "cookie",
      "query",
      "subprotocol",
    ]);
    await bridgeDrains(h, 5_000);
    const health = await bridgeHealth(h.bridge.origin);
    expect(health.sessionsStarted - baseline.started).toBe(300);
    expect(openFileDescriptors(h.workerdPid)).toBeLessThanOrEqual(baseline.fds + 2);
    // Measured +10 MiB: the runtime's own growth, not sessions (a minimal pass-through Worker grows alike; see soak/results.md).
    expect((h.edgeRss() - baseline.rss) / MiB).toBeLessThan(32);
  });
});

import { describe, expect, it } from "vitest";
import { noticeBody, type WatchNotice } from "../src/bridgeWatch/notify";

const notice = (overrides: Partial<WatchNotice>): WatchNotice => ({
  service: "voice-edge-prod (mycosoft.com)",
  status: "down",
  failures: 3,
  probe: { latencyMs: 12 },
  timeoutMs: 2_000,
  at: new Date("2026-01-01T00:03:00Z"),
  ...overrides,
});

describe("the webhook notice", () => {
  it.each([
    ["an error status", { status: 502, latencyMs: 40 }, "HTTP 502", { status: 502, latencyMs: 40 }],
    [
      "a timeout",
      { timedOut: true, latencyMs: 2_001 },
      "timed out after 2000 ms",
      { timedOut: true, latencyMs: 2_001 },
    ],
    ["a refused connection", { latencyMs: 3 }, "unreachable", { latencyMs: 3 }],
    [
      "a guard whose server is down",
      { status: 200, serverDown: true as const, latencyMs: 5 },
      "HTTP 200, the guard says its server is down",
      { status: 200, serverDown: true, latencyMs: 5 },
    ],
  ])("says how the last probe failed for %s", (_name, probe, last, probeFields) => {
    expect(noticeBody(notice({ probe }))).toEqual({
      text: `voice-edge-prod (mycosoft.com): the voice bridge is down — 3 consecutive failed probes through the tunnel (last: ${last})`,
      service: "voice-edge-prod (mycosoft.com)",
      status: "down",
      failures: 3,
      probe: probeFields,
      at: "2026-01-01T00:03:00.000Z",
    });
  });

  it("says the bridge is back up with the probe's answer", () => {
    const body = noticeBody(
      notice({ status: "recovered", failures: 0, probe: { status: 200, latencyMs: 9 } }),
    );
    expect(body).toMatchObject({
      status: "recovered",
      failures: 0,
      probe: { status: 200, latencyMs: 9 },
    });
    expect(body.text).toBe(
      "voice-edge-prod (mycosoft.com): the voice bridge is back up — the probe through the tunnel answered HTTP 200 in 9 ms",
    );
  });
});

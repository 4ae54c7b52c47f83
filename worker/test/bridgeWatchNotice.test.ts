import { describe, expect, it } from "vitest";
import { noticeBody, type BridgeNotice, type CapacityNotice } from "../src/bridgeWatch/notify";

const notice = (overrides: Partial<BridgeNotice>): BridgeNotice => ({
  service: "voice-edge-prod (mycosoft.com)",
  bridge: "gpu-2",
  status: "down",
  failures: 3,
  probe: { latencyMs: 12 },
  timeoutMs: 2_000,
  at: new Date("2026-01-01T00:03:00Z"),
  ...overrides,
});

const capacity = (overrides: Partial<CapacityNotice>): CapacityNotice => ({
  service: "voice-edge-prod (mycosoft.com)",
  status: "capacity",
  busyMinutes: 10,
  fleet: { total: 3, up: 3, free: 0, drained: 0 },
  at: new Date("2026-01-01T00:10:00Z"),
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
  ])(
    "names the bridge and says how its last probe failed for %s",
    (_name, probe, last, probeFields) => {
      expect(noticeBody(notice({ probe }))).toEqual({
        text: `voice-edge-prod (mycosoft.com): bridge gpu-2 is down — 3 consecutive failed probes through the tunnel (last: ${last})`,
        service: "voice-edge-prod (mycosoft.com)",
        bridge: "gpu-2",
        status: "down",
        failures: 3,
        probe: probeFields,
        at: "2026-01-01T00:03:00.000Z",
      });
    },
  );

  it("says the bridge is back up with the probe's answer", () => {
    const body = noticeBody(
      notice({ status: "recovered", failures: 0, probe: { status: 200, latencyMs: 9 } }),
    );
    expect(body).toMatchObject({
      bridge: "gpu-2",
      status: "recovered",
      failures: 0,
      probe: { status: 200, latencyMs: 9 },
    });
    expect(body.text).toBe(
      "voice-edge-prod (mycosoft.com): bridge gpu-2 is back up — the probe through the tunnel answered HTTP 200 in 9 ms",
    );
  });

  it("keeps saying the voice bridge for a BRIDGE_URL's fleet of one (named bridge)", () => {
    expect(noticeBody(notice({ bridge: "bridge" }))).toMatchObject({
      text: "voice-edge-prod (mycosoft.com): the voice bridge is down — 3 consecutive failed probes through the tunnel (last: unreachable)",
      bridge: "bridge",
    });
  });
});

describe("the capacity notice", () => {
  it("says how long no bridge was free, to add a GPU, with the fleet's counts", () => {
    expect(noticeBody(capacity({}))).toEqual({
      text: "voice-edge-prod (mycosoft.com): every bridge has been busy for 10 minutes: add a GPU (3 bridges: 3 up, 0 free)",
      service: "voice-edge-prod (mycosoft.com)",
      status: "capacity",
      busyMinutes: 10,
      bridges: { total: 3, up: 3, free: 0, drained: 0 },
      at: "2026-01-01T00:10:00.000Z",
    });
  });

  it("counts the bridges that are down apart, and says minute for one", () => {
    expect(
      noticeBody(capacity({ busyMinutes: 1, fleet: { total: 1, up: 1, free: 0, drained: 0 } }))
        .text,
    ).toBe(
      "voice-edge-prod (mycosoft.com): every bridge has been busy for 1 minute: add a GPU (1 bridge: 1 up, 0 free)",
    );
    expect(
      noticeBody(capacity({ fleet: { total: 3, up: 2, free: 0, drained: 0 } })).text,
    ).toContain("(3 bridges: 2 up, 0 free)");
  });

  it("names the drained bridges apart: every bridge in service is busy, not every bridge", () => {
    expect(noticeBody(capacity({ fleet: { total: 3, up: 3, free: 0, drained: 1 } }))).toMatchObject(
      {
        text: "voice-edge-prod (mycosoft.com): every bridge in service has been busy for 10 minutes: add a GPU (3 bridges: 3 up, 0 free, 1 drained)",
        bridges: { total: 3, up: 3, free: 0, drained: 1 },
      },
    );
  });

  it("says a bridge is free again", () => {
    expect(
      noticeBody(
        capacity({
          status: "capacity_recovered",
          busyMinutes: 0,
          fleet: { total: 3, up: 3, free: 1, drained: 0 },
        }),
      ),
    ).toEqual({
      text: "voice-edge-prod (mycosoft.com): a bridge is free again (3 bridges: 3 up, 1 free)",
      service: "voice-edge-prod (mycosoft.com)",
      status: "capacity_recovered",
      busyMinutes: 0,
      bridges: { total: 3, up: 3, free: 1, drained: 0 },
      at: "2026-01-01T00:10:00.000Z",
    });
  });
});

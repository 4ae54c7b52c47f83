import { describe, expect, it } from "vitest";
import { accessDomains } from "../originLock";
import { bridgeChild } from "../childNames";
import {
  bridgesOf,
  bridgeTunnelSecret,
  MAX_BRIDGES,
  validateBridgeCount,
  validateTunnelOrBridges,
  validateUniqueBridges,
  type BridgeSettings,
} from "./bridges";
import type { Problem } from "./errors";
import { validateGuardBehindTunnel } from "./guard";
import { validateOriginHostnameDiffers } from "./tunnel";
import { validateHostnamesInZone } from "./zone";

type Case<T> = [string, T, Problem[]];

const bridge = (name: string, originHostname = `voice-${name}.mycosoft.com`): BridgeSettings => ({
  name,
  originHostname,
  service: "http://localhost:8999",
  path: "/api/chat",
  capacity: 1,
});
const TUNNEL = {
  originHostname: "voice-origin.mycosoft.com",
  bridgeService: "http://localhost:8999",
  bridgePath: "/api/chat",
  healthPath: "/health",
};

describe("validateTunnelOrBridges", () => {
  const cases: Case<{ tunnel?: unknown; bridges?: unknown[] }>[] = [
    ["the tunnel form", { tunnel: TUNNEL }, []],
    ["the bridges form", { bridges: [bridge("gpu-1")] }, []],
    [
      "both",
      { tunnel: TUNNEL, bridges: [bridge("gpu-1")] },
      [
        {
          path: ["bridges"],
          message:
            "is set together with voice-edge:tunnel: keep one (tunnel is a fleet of one bridge; bridges lists each)",
        },
      ],
    ],
    [
      "neither",
      {},
      [
        {
          path: ["tunnel"],
          message:
            "is required, or voice-edge:bridges: a list of {name, originHostname} (one per bridge VM)",
        },
      ],
    ],
    [
      "an empty list",
      { bridges: [] },
      [{ path: ["bridges"], message: "must list at least one bridge" }],
    ],
  ];
  it.each(cases)("%s", (_name, input, problems) =>
    expect(validateTunnelOrBridges(input)).toEqual(problems),
  );
});

describe("validateBridgeCount", () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => bridge(`gpu-${i}`));
  const cases: Case<{ bridges?: unknown[] }>[] = [
    ["the tunnel form", {}, []],
    [`${MAX_BRIDGES} bridges`, { bridges: many(MAX_BRIDGES) }, []],
    [
      `${MAX_BRIDGES + 1} bridges`,
      { bridges: many(MAX_BRIDGES + 1) },
      [{ path: ["bridges"], message: "lists 21 bridges; at most 20 are supported" }],
    ],
  ];
  it.each(cases)("%s", (_name, input, problems) =>
    expect(validateBridgeCount(input)).toEqual(problems),
  );
});

describe("validateUniqueBridges", () => {
  const cases: Case<{ bridges: BridgeSettings[] }>[] = [
    ["distinct", { bridges: [bridge("gpu-1"), bridge("gpu-2")] }, []],
    [
      "a repeated name, at the repeat",
      { bridges: [bridge("gpu-1"), bridge("gpu-2"), bridge("gpu-1", "voice-x.mycosoft.com")] },
      [
        {
          path: ["bridges", 2, "name"],
          message: "gpu-1 is already bridge 0's name; each bridge needs its own",
        },
      ],
    ],
    [
      "a repeated hostname, at the repeat",
      { bridges: [bridge("gpu-1"), bridge("gpu-2", "voice-gpu-1.mycosoft.com")] },
      [
        {
          path: ["bridges", 1, "originHostname"],
          message:
            "voice-gpu-1.mycosoft.com is already bridge 0's originHostname; each bridge needs its own",
        },
      ],
    ],
  ];
  it.each(cases)("%s", (_name, input, problems) =>
    expect(validateUniqueBridges(input)).toEqual(problems),
  );
});

describe("the hostname and guard rules, per bridge", () => {
  it("validateHostnamesInZone names each listed bridge outside the zone", () =>
    expect(
      validateHostnamesInZone({
        zone: { name: "mycosoft.com" },
        publicHostname: "mycosoft.com",
        bridges: [bridge("gpu-1"), bridge("gpu-2", "voice.example.org")],
      }),
    ).toEqual([
      {
        path: ["bridges", 1, "originHostname"],
        message: "voice.example.org is not in zone mycosoft.com",
      },
    ]));

  it("validateOriginHostnameDiffers names the bridge on the public hostname", () =>
    expect(
      validateOriginHostnameDiffers({
        publicHostname: "voice.mycosoft.com",
        bridges: [bridge("gpu-1"), bridge("gpu-2", "voice.mycosoft.com")],
      }),
    ).toEqual([
      {
        path: ["bridges", 1, "originHostname"],
        message: "must differ from publicHostname (the Worker fetches the origin hostname)",
      },
    ]));

  it("validateGuardBehindTunnel names each bridge whose service skips the moved guard", () =>
    expect(
      validateGuardBehindTunnel({
        guard: { listenPort: 9000 },
        bridges: [{ service: "http://localhost:9000" }, { service: "http://localhost:8999" }],
      }),
    ).toEqual([
      {
        path: ["bridges", 1, "service"],
        message:
          "is http://localhost:8999 but guard.listenPort is 9000: point it at the guard (http://localhost:9000), or leave guard.listenPort at 8999",
      },
    ]));
});

describe("bridgesOf", () => {
  it("makes the tunnel form a fleet of one that keeps its resources' names", () =>
    expect(bridgesOf({ tunnel: TUNNEL })).toEqual([
      {
        name: "bridge",
        originHostname: "voice-origin.mycosoft.com",
        service: "http://localhost:8999",
        path: "/api/chat",
        healthPath: "/health",
        capacity: 1,
        single: true,
      },
    ]));

  it("keeps the listed bridges in order", () =>
    expect(bridgesOf({ bridges: [bridge("gpu-2"), bridge("gpu-1")] }).map((b) => b.name)).toEqual([
      "gpu-2",
      "gpu-1",
    ]));
});

describe("bridgeTunnelSecret", () => {
  const secret = Buffer.alloc(32, 1).toString("base64");
  const [one] = bridgesOf({ tunnel: TUNNEL });
  const [gpu1, gpu2] = bridgesOf({ bridges: [bridge("gpu-1"), bridge("gpu-2")] });

  it("keeps the stack's secret for the tunnel form", () =>
    expect(bridgeTunnelSecret(secret, one)).toBe(secret));

  it("gives each listed bridge its own 32-byte secret, the same on every run", () => {
    expect(Buffer.from(bridgeTunnelSecret(secret, gpu1), "base64")).toHaveLength(32);
    expect(bridgeTunnelSecret(secret, gpu1)).toBe(bridgeTunnelSecret(secret, gpu1));
    expect(
      new Set([secret, bridgeTunnelSecret(secret, gpu1), bridgeTunnelSecret(secret, gpu2)]).size,
    ).toBe(3);
  });
});

describe("bridge children and Access domains", () => {
  const scope = { name: "voice-edge", opts: {} };
  it.each([
    [{ name: "bridge", single: true }, "voice-edge-tunnel", [{ name: "bridge-tunnel" }]],
    [{ name: "gpu-1", single: false }, "voice-edge-gpu-1-tunnel", undefined],
  ])("bridgeChild %o → %s", (b, name, aliases) => {
    const child = bridgeChild(scope, b, "tunnel", "bridge-tunnel");
    expect(child.name).toBe(name);
    expect(child.opts.aliases).toEqual(aliases);
  });

  it.each([
    [["a.mycosoft.com"], { domain: "a.mycosoft.com" }],
    [
      ["a.mycosoft.com", "b.mycosoft.com"],
      {
        domain: "a.mycosoft.com",
        destinations: [
          { type: "public", uri: "a.mycosoft.com" },
          { type: "public", uri: "b.mycosoft.com" },
        ],
      },
    ],
  ])("accessDomains %o", (hostnames, expected) =>
    expect(accessDomains(hostnames)).toEqual(expected),
  );
});

import { beforeAll, describe, expect, it } from "vitest";
import { loadStackSettings } from "../config/stackFiles";
import { bridgeTunnelSecret } from "../config/bridges";
import { bridgesOf } from "../config/schema";
import { runProgramOffline, Secret, type ProgramRun } from "../offlineRun";
import { oneResource as one, RESOURCE_TYPES as T } from "../resourceTypes";
import { bindingsOf, refusal } from "./programRun";

const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 4).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
  "cloudflare:apiToken": "cf-token-for-tests",
};
const CATCH_ALL = { service: "http_status:404" };
const GPU1 = { name: "gpu-1", originHostname: "voice-gpu-1.mycosoft.com" };
const GPU2 = {
  name: "gpu-2",
  originHostname: "voice-gpu-2.mycosoft.com",
  service: "http://localhost:8999",
  path: "/api/chat",
  capacity: 1,
};

/** Prod's stack with `bridges` in place of its `tunnel`. */
const withBridges = (bridges: unknown) => ({
  secrets: SECRETS,
  override: { "voice-edge:tunnel": undefined, "voice-edge:bridges": bridges },
});

describe("a stack of two bridges", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgramOffline("prod", withBridges([GPU1, GPU2]));
  });

  it("gives each bridge its own tunnel, named after the Worker and the bridge, with its own secret", () => {
    const tunnels = run.resources.filter((r) => r.type === T.tunnel).map((r) => r.name);
    expect(tunnels).toEqual(["voice-edge-gpu-1-tunnel", "voice-edge-gpu-2-tunnel"]);
    const [gpu1, gpu2] = bridgesOf({ bridges: [{ ...GPU2, ...GPU1 }, GPU2] });
    expect(one(run, T.tunnel, "voice-edge-gpu-1-tunnel").inputs).toEqual({
      accountId: "00000000000000000000000000000000",
      name: "voice-edge-prod-gpu-1",
      configSrc: "cloudflare",
      tunnelSecret: new Secret(bridgeTunnelSecret(SECRETS.tunnelSecret, gpu1)),
    });
    expect(one(run, T.tunnel, "voice-edge-gpu-2-tunnel").inputs).toMatchObject({
      name: "voice-edge-prod-gpu-2",
      tunnelSecret: new Secret(bridgeTunnelSecret(SECRETS.tunnelSecret, gpu2)),
    });
    expect(bridgeTunnelSecret(SECRETS.tunnelSecret, gpu1)).not.toBe(
      bridgeTunnelSecret(SECRETS.tunnelSecret, gpu2),
    );
  });

  it("routes each bridge's hostname to its own guard, then 404s everything else", () => {
    for (const bridge of [GPU1, GPU2])
      expect(one(run, T.tunnelConfig, `voice-edge-${bridge.name}-tunnel-config`).inputs).toEqual({
        accountId: "00000000000000000000000000000000",
        tunnelId: `voice-edge-${bridge.name}-tunnel-id`,
        config: {
          ingresses: [
            { hostname: bridge.originHostname, service: "http://localhost:8999" },
            CATCH_ALL,
          ],
        },
      });
  });

  it("points a proxied CNAME per bridge at that bridge's tunnel", () => {
    const records = run.resources.filter((r) => r.type === T.dnsRecord).map((r) => r.name);
    expect(records).toEqual(["voice-edge-gpu-1-origin-record", "voice-edge-gpu-2-origin-record"]);
    for (const bridge of [GPU1, GPU2])
      expect(one(run, T.dnsRecord, `voice-edge-${bridge.name}-origin-record`).inputs).toMatchObject(
        {
          name: bridge.originHostname,
          type: "CNAME",
          content: `voice-edge-${bridge.name}-tunnel-id.cfargotunnel.com`,
          proxied: true,
        },
      );
  });

  it("locks every bridge hostname with one Access application and its one service-token policy", () => {
    expect(run.resources.filter((r) => r.type === T.accessApp).map((r) => r.name)).toEqual([
      "voice-edge-origin-application",
    ]);
    expect(run.resources.filter((r) => r.type === T.accessPolicy)).toHaveLength(1);
    expect(one(run, T.accessApp, "voice-edge-origin-application").inputs).toMatchObject({
      domain: GPU1.originHostname,
      destinations: [
        { type: "public", uri: GPU1.originHostname },
        { type: "public", uri: GPU2.originHostname },
      ],
      policies: [{ id: "voice-edge-origin-policy-id", precedence: 1 }],
      serviceAuth401Redirect: true,
    });
  });

  it("writes no bridge's ingress or CNAME before the Access lock exists", () => {
    const lock = ["voice-edge-origin-application", "voice-edge-origin-policy"];
    const ordered = run.resources.filter(
      (r) => r.type === T.tunnelConfig || r.type === T.dnsRecord,
    );
    expect(ordered).toHaveLength(4);
    for (const resource of ordered)
      expect(resource.dependsOn).toEqual(expect.arrayContaining(lock));
  });

  it("watches every bridge's tunnel with the one tunnel-health policy", () => {
    const tunnelAlert = run.resources.find(
      (r) => r.type === T.notification && r.inputs.alertType === "tunnel_health_event",
    );
    expect(tunnelAlert?.inputs.filters).toMatchObject({
      tunnelIds: ["voice-edge-gpu-1-tunnel-id", "voice-edge-gpu-2-tunnel-id"],
    });
  });

  it("binds the Worker to every bridge by name (BRIDGES), with no BRIDGE_URL or one bridge's health URL", () => {
    const bindings = bindingsOf(run);
    expect(bindings.find((b) => b.name === "BRIDGE_URL")).toBeUndefined();
    const fleet = bindings.find((b) => b.name === "BRIDGES");
    expect(fleet?.type).toBe("json");
    expect(JSON.parse(fleet?.json as string)).toEqual(
      [GPU1, GPU2].map((bridge) => ({
        name: bridge.name,
        url: `https://${bridge.originHostname}/api/chat`,
        healthUrl: `https://${bridge.originHostname}/health`,
      })),
    );
    const edge = JSON.parse(bindings.find((b) => b.name === "EDGE_CONFIG")?.json as string);
    expect(edge).not.toHaveProperty("bridgeHealthUrl");
  });

  it("outputs each bridge's name, hostname, tunnel and guard command, and its connector token as a secret", () => {
    expect(run.outputs.bridges).toEqual(
      [GPU1, GPU2].map((bridge) => ({
        name: bridge.name,
        hostname: bridge.originHostname,
        tunnelName: `voice-edge-prod-${bridge.name}`,
        tunnelId: `voice-edge-${bridge.name}-tunnel-id`,
        guardConfigCommand: `npm run guard -- --print-config --stack prod --bridge ${bridge.name}`,
      })),
    );
    expect(run.outputs.bridgeConnectorTokens).toBeInstanceOf(Secret);
    expect(Object.keys((run.outputs.bridgeConnectorTokens as Secret).value as object)).toEqual([
      "gpu-1",
      "gpu-2",
    ]);
  });
});

describe("the single-bridge tunnel form", () => {
  it("is a fleet of one named bridge, keeping its children's names", async () => {
    const run = await runProgramOffline("prod", { secrets: SECRETS });
    expect(run.resources.filter((r) => r.type === T.tunnel).map((r) => r.name)).toEqual([
      "voice-edge-tunnel",
    ]);
    expect(one(run, T.accessApp, "voice-edge-origin-application").inputs.destinations).toBe(
      undefined,
    );
    expect(run.outputs.bridges).toEqual([
      expect.objectContaining({
        name: "bridge",
        hostname: "voice-origin.mycosoft.com",
        tunnelName: "voice-bridge-prod",
        tunnelId: "voice-edge-tunnel-id",
        guardConfigCommand: "npm run guard -- --print-config --stack prod",
      }),
    ]);
  });
});

describe("bridges the stack refuses", () => {
  it.each([
    {
      what: "two bridges with one name",
      bridges: [GPU1, { ...GPU2, name: "gpu-1" }],
      says: "voice-edge:bridges → 1.name: gpu-1 is already bridge 0's name",
    },
    {
      what: "two bridges with one hostname",
      bridges: [GPU1, { ...GPU2, originHostname: GPU1.originHostname }],
      says: "voice-edge:bridges → 1.originHostname: voice-gpu-1.mycosoft.com is already bridge 0's originHostname",
    },
    {
      what: "a hostname outside the zone",
      bridges: [GPU1, GPU2, { name: "gpu-3", originHostname: "voice.example.org" }],
      says: "voice-edge:bridges → 2.originHostname: voice.example.org is not in zone mycosoft.com",
    },
    {
      what: "more than 20 bridges",
      bridges: Array.from({ length: 21 }, (_, i) => ({
        name: `gpu-${i}`,
        originHostname: `voice-gpu-${i}.mycosoft.com`,
      })),
      says: "voice-edge:bridges: lists 21 bridges; at most 20 are supported",
    },
    {
      what: "an empty list",
      bridges: [],
      says: "voice-edge:bridges: must list at least one bridge",
    },
    {
      what: "a tunnel-form key in a bridge",
      bridges: [{ ...GPU1, bridgeService: "http://localhost:8999" }],
      says: "voice-edge:bridges → 0.bridgeService: unknown key; known: name, originHostname, service, path, capacity",
    },
    {
      what: "a capacity beyond the guard's bound",
      bridges: [{ ...GPU1, capacity: 500 }],
      says: "voice-edge:bridges → 0.capacity: ",
    },
    {
      what: "a service with a path",
      bridges: [{ ...GPU1, service: "http://localhost:8999/api" }],
      says: "voice-edge:bridges → 0.service: must be scheme, host and port only",
    },
  ])("$what, naming the entry and the stack file", async ({ bridges, says }) => {
    const message = await refusal("prod", withBridges(bridges));
    expect(message).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
    expect(message).toContain(says);
  });

  it("one bridge's health URL with a list of bridges", async () => {
    const prodEdge = loadStackSettings("prod").edge;
    const message = await refusal("prod", {
      secrets: SECRETS,
      override: {
        "voice-edge:tunnel": undefined,
        "voice-edge:bridges": [GPU1, GPU2],
        "voice-edge:edge": {
          ...prodEdge,
          bridgeHealthUrl: "https://voice-gpu-1.mycosoft.com/health",
        },
      },
    });
    expect(message).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
    expect(message).toContain(
      "voice-edge:edge → bridgeHealthUrl: names one bridge's health URL; with voice-edge:bridges",
    );
  });

  it("a stack-wide guard.capacity with a list of bridges (each bridge's own capacity is its guard's)", async () => {
    const message = await refusal("prod", {
      secrets: SECRETS,
      override: {
        "voice-edge:tunnel": undefined,
        "voice-edge:bridges": [GPU1, GPU2],
        "voice-edge:guard": { capacity: 2 },
      },
    });
    expect(message).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
    expect(message).toContain(
      "voice-edge:guard → capacity: is 2, but with voice-edge:bridges each bridge's guard admits that bridge's own capacity",
    );
  });

  it("tunnel and bridges together", async () => {
    const message = await refusal("prod", {
      secrets: SECRETS,
      override: { "voice-edge:bridges": [GPU1] },
    });
    expect(message).toContain(
      "voice-edge:bridges: is set together with voice-edge:tunnel: keep one",
    );
  });
});

import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PATH } from "../../worker/build";
import { runProgramOffline, Secret, type ProgramRun } from "../offlineRun";
import { inventory, oneResource as one, RESOURCE_TYPES as T } from "../resourceTypes";
import { VoiceEdgeArgsError } from "../voiceEdgeArgs";
import { EDGE_BINDING_KINDS } from "./expectedBindings";
import {
  bindingsOf,
  DEFAULT_VOICE_RULE,
  expectUrnsOfBefore,
  refusalError,
  zoneSettingValues,
} from "./programRun";

const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 7).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
  "cloudflare:apiToken": "cf-token-for-tests",
};

/** What prod and staging both declare: everything but the zone-wide resources and the Worker-only record. */
const EVERY_STACK = [
  "D1Database voice-edge-bridge-watch-state",
  "DnsRecord voice-edge-origin-record",
  "NotificationPolicy voice-edge-alert-service-token-expiry",
  "NotificationPolicy voice-edge-alert-tunnel-health-event",
  "NotificationPolicyWebhooks voice-edge-alert-webhook",
  "WorkersCronTrigger voice-edge-bridge-watch-schedule",
  "WorkersRoute voice-edge-route",
  "WorkersScript voice-edge-worker",
  "ZeroTrustAccessApplication voice-edge-origin-application",
  "ZeroTrustAccessPolicy voice-edge-origin-policy",
  "ZeroTrustAccessServiceToken voice-edge-origin-service-token",
  "ZeroTrustTunnelCloudflared voice-edge-tunnel",
  "ZeroTrustTunnelCloudflaredConfig voice-edge-tunnel-config",
  "VoiceEdge voice-edge",
  "cloudflare cloudflare",
];

/** Prod's stack on a Pro zone (which has the Host field and Health Checks), with other overrides. */
function runOnProZone(override: Record<string, unknown> = {}): Promise<ProgramRun> {
  return runProgramOffline("prod", {
    secrets: SECRETS,
    override: {
      "voice-edge:zone": { id: "0".repeat(32), name: "mycosoft.com", plan: "pro", owner: true },
      ...override,
    },
  });
}

describe("prod stack (owns the mycosoft.com zone)", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgramOffline("prod", { secrets: SECRETS });
  });

  it("declares exactly the expected resources", () => {
    expect(inventory(run)).toEqual(
      [
        ...EVERY_STACK,
        "Ruleset voice-edge-rate-limit",
        "UrlNormalizationSettings voice-edge-url-normalization",
        "ZoneSetting voice-edge-zone-always-use-https",
        "ZoneSetting voice-edge-zone-min-tls-version",
        "ZoneSetting voice-edge-zone-ssl",
        "ZoneSetting voice-edge-zone-websockets",
      ].sort(),
    );
  });

  it("declares everything as children of one VoiceEdge component, which uses the stack's explicit provider", () => {
    const component = one(run, T.component, "voice-edge");
    expect(component.parent).toBeUndefined();
    const orphans = run.resources
      .filter((r) => r !== component && r.type !== T.provider && r.parent !== "voice-edge")
      .map((r) => r.name);
    expect(orphans).toEqual([]);
    expect(one(run, T.provider, "cloudflare").parent).toBeUndefined();
    const onDefaultProvider = run.resources
      .filter(
        (r) =>
          r.type.startsWith("cloudflare:") &&
          !r.provider?.includes("::pulumi:providers:cloudflare::cloudflare::"),
      )
      .map((r) => r.name);
    expect(onDefaultProvider).toEqual([]);
  });

  it("uses one explicit provider holding the API token as a secret", () => {
    expect(one(run, T.provider, "cloudflare").inputs.apiToken).toEqual(
      new Secret("cf-token-for-tests"),
    );
  });

  it("turns on WebSockets, SSL Full (strict) and Always Use HTTPS, plus the configured extras", () => {
    expect(zoneSettingValues(run)).toEqual({
      websockets: "on",
      ssl: "strict",
      always_use_https: "on",
      min_tls_version: "1.2",
    });
    for (const r of run.resources.filter((r) => r.type === T.zoneSetting))
      expect(r.inputs.zoneId).toBe("00000000000000000000000000000000");
  });

  it("rate-limits WebSocket upgrades and health checks together at 10 requests per 10 s per IP and colo, with a Free-plan expression", () => {
    const ruleset = one(run, T.ruleset, "voice-edge-rate-limit").inputs;
    expect(ruleset).toMatchObject({
      kind: "zone",
      phase: "http_ratelimit",
      zoneId: "00000000000000000000000000000000",
    });
    expect(ruleset.rules).toEqual([expect.objectContaining(DEFAULT_VOICE_RULE)]);
  });

  it("keeps the existing website record and points a proxied CNAME at the tunnel for the origin hostname", () => {
    expect(run.resources.filter((r) => r.type === T.dnsRecord).map((r) => r.name)).toEqual([
      "voice-edge-origin-record",
    ]);
    expect(one(run, T.dnsRecord, "voice-edge-origin-record").inputs).toMatchObject({
      name: "voice-origin.mycosoft.com",
      type: "CNAME",
      content: "voice-edge-tunnel-id.cfargotunnel.com",
      proxied: true,
      ttl: 1,
    });
  });

  it("creates a remotely managed tunnel whose secret is a Pulumi secret", () => {
    expect(one(run, T.tunnel, "voice-edge-tunnel").inputs).toEqual({
      accountId: "00000000000000000000000000000000",
      name: "voice-bridge-prod",
      configSrc: "cloudflare",
      tunnelSecret: new Secret(SECRETS.tunnelSecret),
    });
  });

  it("routes only the origin hostname to the guard on the bridge's VM, then 404s everything else", () => {
    expect(one(run, T.tunnelConfig, "voice-edge-tunnel-config").inputs).toMatchObject({
      tunnelId: "voice-edge-tunnel-id",
      config: {
        ingresses: [
          { hostname: "voice-origin.mycosoft.com", service: "http://localhost:8999" },
          { service: "http_status:404" },
        ],
      },
    });
  });

  it("locks the origin hostname with Access: one non-identity policy that admits only the Worker's service token", () => {
    expect(one(run, T.accessPolicy, "voice-edge-origin-policy").inputs).toMatchObject({
      decision: "non_identity",
      includes: [{ serviceToken: { tokenId: "voice-edge-origin-service-token-id" } }],
    });
    expect(one(run, T.accessApp, "voice-edge-origin-application").inputs).toMatchObject({
      type: "self_hosted",
      domain: "voice-origin.mycosoft.com",
      policies: [{ id: "voice-edge-origin-policy-id", precedence: 1 }],
      serviceAuth401Redirect: true,
    });
  });

  it("uploads the shared bundle byte for byte as an ES module with the pinned compatibility date and observability", () => {
    const script = one(run, T.script, "voice-edge-worker").inputs;
    expect(script.content).toBe(readFileSync(BUNDLE_PATH, "utf8"));
    expect(script).toMatchObject({
      scriptName: "voice-edge-prod",
      mainModule: "worker.mjs",
      compatibilityDate: "2026-04-01",
      observability: { enabled: true },
    });
    expect(run.outputs.bundleSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(run.outputs.bundleSizeBytes).toBe(Buffer.byteLength(script.content as string));
  });

  it("binds settings as json and plain text, and every secret as secret_text from Pulumi secrets", () => {
    const bindings = bindingsOf(run);
    expect(bindings.map((b) => [b.name, b.type])).toEqual([
      ...EDGE_BINDING_KINDS,
      ["BRIDGE_WATCH_DB", "d1"],
      ["BRIDGE_WATCH", "json"],
      ["ALERT_WEBHOOK_URL", "secret_text"],
    ]);
    const byName = Object.fromEntries(bindings.map((b) => [b.name, b]));
    expect(byName.BRIDGE_URL.text).toBe("https://voice-origin.mycosoft.com/api/chat");
    expect(byName.JWT_SECRET.text).toBe(SECRETS.jwtSecret);
    expect(byName.BRIDGE_ACCESS_CLIENT_ID.text).toBe("voice-edge-origin-service-token.access");
    expect(byName.BRIDGE_ACCESS_CLIENT_SECRET.text).toBe(
      "voice-edge-origin-service-token-client-secret",
    );
    const edge = JSON.parse(byName.EDGE_CONFIG.json!);
    expect(edge).toMatchObject({
      auth: {
        mode: "jwt",
        algorithms: ["HS256"],
        issuer: "https://mycosoft.com",
        audience: "voice-edge",
      },
      allowedOrigins: ["https://mycosoft.com", "https://www.mycosoft.com"],
      allowMissingOrigin: false,
      bridgeHealthUrl: "https://voice-origin.mycosoft.com/health",
    });
    expect(byName.EDGE_CONFIG.json).not.toContain(SECRETS.jwtSecret);
  });

  it("routes mycosoft.com/voice/* to the Worker", () => {
    expect(one(run, T.route, "voice-edge-route").inputs).toEqual({
      zoneId: "00000000000000000000000000000000",
      pattern: "mycosoft.com/voice/*",
      script: "voice-edge-prod",
    });
  });

  it("exports what the website and operators need, the connector token as a secret", () => {
    expect(run.outputs).toMatchObject({
      publicWsUrl: "wss://mycosoft.com/voice/ws",
      healthUrl: "https://mycosoft.com/voice/health",
      clientKitUrl: "https://mycosoft.com/voice/kit/v1/voice.mjs",
      workerName: "voice-edge-prod",
      tunnelId: "voice-edge-tunnel-id",
      originHostname: "voice-origin.mycosoft.com",
    });
    expect(run.outputs.connectorToken).toEqual(new Secret("mock-connector-token"));
  });
});

describe("staging stack (shares the zone, owns nothing zone-wide)", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgramOffline("staging", { secrets: SECRETS });
  });

  it("declares no zone settings or rate-limit ruleset, and adds its Worker-only hostname record", () => {
    expect(inventory(run)).toEqual([...EVERY_STACK, "DnsRecord voice-edge-public-record"].sort());
  });

  it("serves voice-staging.mycosoft.com through a proxied AAAA 100:: record", () => {
    expect(one(run, T.dnsRecord, "voice-edge-public-record").inputs).toMatchObject({
      name: "voice-staging.mycosoft.com",
      type: "AAAA",
      content: "100::",
      proxied: true,
    });
    expect(one(run, T.route, "voice-edge-route").inputs.pattern).toBe(
      "voice-staging.mycosoft.com/voice/*",
    );
  });

  it("has its own tunnel, origin hostname and Worker", () => {
    expect(one(run, T.tunnelConfig, "voice-edge-tunnel-config").inputs).toMatchObject({
      config: {
        ingresses: [
          { hostname: "voice-origin-staging.mycosoft.com" },
          { service: "http_status:404" },
        ],
      },
    });
    expect(one(run, T.script, "voice-edge-worker").inputs.scriptName).toBe("voice-edge-staging");
    expect(run.outputs.publicWsUrl).toBe("wss://voice-staging.mycosoft.com/voice/ws");
    expect(run.outputs.clientKitUrl).toBe(
      "https://voice-staging.mycosoft.com/voice/kit/v1/voice.mjs",
    );
  });

  it("lets the provider read CLOUDFLARE_API_TOKEN itself when no apiToken is configured", async () => {
    const withoutToken = await runProgramOffline("staging", {
      secrets: {
        jwtSecret: SECRETS.jwtSecret,
        tunnelSecret: SECRETS.tunnelSecret,
        alertWebhookUrl: SECRETS.alertWebhookUrl,
      },
    });
    expect(one(withoutToken, T.provider, "cloudflare").inputs).not.toHaveProperty("apiToken");
  });
});

describe("plan-dependent resources", () => {
  it("restricts the rule to listed hosts where the plan has the Host field", async () => {
    const run = await runOnProZone({
      "voice-edge:rateLimit": {
        rules: [
          {
            hosts: ["mycosoft.com", "voice-staging.mycosoft.com"],
            period: 60,
            mitigationTimeout: 3600,
          },
        ],
      },
    });
    expect(
      (one(run, T.ruleset, "voice-edge-rate-limit").inputs.rules as { expression: string }[])[0],
    ).toMatchObject({
      expression:
        '((http.request.uri.path eq "/voice/ws" or http.request.uri.path eq "/voice/line" or http.request.uri.path eq "/voice/api/chat" or http.request.uri.path eq "/voice/health") and http.host in {"mycosoft.com" "voice-staging.mycosoft.com"})',
      ratelimit: expect.objectContaining({
        period: 60,
        mitigationTimeout: 3600,
        requestsPerPeriod: 10,
      }),
    });
  });
});

describe("children named from the component's name, aliased to their former fixed names", () => {
  it.each(["prod", "staging"])(
    "%s: each URN the stack had before is claimed by exactly one resource, as its URN or an alias, so `pulumi up` updates in place",
    async (stack) => {
      expectUrnsOfBefore(stack, await runProgramOffline(stack, { secrets: SECRETS }));
    },
  );

  it("gives the Worker script the name voice-edge-worker and its former URN as an alias (beside the provider's own type aliases)", async () => {
    const run = await runProgramOffline("prod", { secrets: SECRETS });
    const script = one(run, T.script, "voice-edge-worker");
    expect(script.urn).toBe(
      "urn:pulumi:prod::voice-edge::voice-edge:index:VoiceEdge$cloudflare:index/workersScript:WorkersScript::voice-edge-worker",
    );
    expect(script.aliases).toContain(
      "urn:pulumi:prod::voice-edge::voice-edge:index:VoiceEdge$cloudflare:index/workersScript:WorkersScript::edge-worker",
    );
  });
});

describe("children outside the default stacks keep their former names as aliases too", () => {
  it("a Pro zone's Health Check (voice-health-check before) and its policy", async () => {
    const run = await runOnProZone();
    expect(one(run, T.healthCheck, "voice-edge-health-check").aliases).toEqual([
      expect.stringMatching(/\$cloudflare:index\/healthcheck:Healthcheck::voice-health-check$/),
    ]);
    expect(one(run, T.notification, "voice-edge-alert-voice-health-check").aliases).toEqual([
      expect.stringMatching(/::alert-voice-health-check$/),
    ]);
  });
});

describe("the VoiceEdge component in a program of one's own", () => {
  const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

  it("declares its resources as children of the component, with the settings that program gave it", async () => {
    const run = await runProgramOffline("prod", { entry: fixture("ownProgram.ts"), secrets: {} });
    expect(run.outputs.url).toBe("wss://support.example.com/voice/ws");
    const children = run.resources.filter((r) => r.parent === "support-voice");
    expect(children.map((r) => r.type)).toEqual(
      expect.arrayContaining([T.script, T.route, T.tunnel, T.accessApp, T.notification]),
    );
    expect(one(run, T.route, "support-voice-route").inputs.pattern).toBe(
      "support.example.com/voice/*",
    );
    expect(run.resources.filter((r) => r.type === T.zoneSetting)).toEqual([]);
  });

  it("plans two VoiceEdges in one program, each child named after its own component", async () => {
    const run = await runProgramOffline("prod", { entry: fixture("twoEdges.ts"), secrets: {} });
    expect(run.outputs).toEqual({
      url: "wss://support.example.com/voice/ws",
      salesUrl: "wss://sales.example.com/voice/ws",
    });
    const urns = run.resources.map((r) => r.urn);
    expect(new Set(urns).size).toBe(urns.length);
    for (const edge of ["support-voice", "sales-voice"]) {
      const children = run.resources.filter((r) => r.parent === edge);
      expect(children.length).toBeGreaterThan(10);
      expect(children.filter((r) => !r.name.startsWith(`${edge}-`))).toEqual([]);
    }
    expect(one(run, T.route, "sales-voice-route").inputs.pattern).toBe("sales.example.com/voice/*");
    expect(one(run, T.tunnel, "sales-voice-tunnel").inputs.name).toBe("sales-voice-bridge");
  });

  it("refuses arguments it cannot be built from before declaring anything, naming each argument at fault", async () => {
    const error = await refusalError("prod", { entry: fixture("badArgs.ts"), secrets: {} });
    expect(error).toBeInstanceOf(VoiceEdgeArgsError);
    expect((error as VoiceEdgeArgsError).problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^settings\.accountId: must be the account ID/),
        expect.stringMatching(/^settings\.zone\.plan: /),
        expect.stringMatching(/^settings\.publicHostname: /),
        "bundle.code: must be the bundled Worker's source (`await buildWorkerBundle()`)",
      ]),
    );
    expect(error.message).toMatch(/^VoiceEdge "broken-voice": invalid arguments:/);
  });
});

describe("the VoiceEdge component's outputs", () => {
  it.each(["prod", "staging"])(
    "%s: registers every output the stack exports, with the same values",
    async (stack) => {
      const run = await runProgramOffline(stack, { secrets: SECRETS });
      expect(Object.keys(run.outputs).sort()).toEqual([
        "bridgeConnectorTokens",
        "bridges",
        "bundleSha256",
        "bundleSizeBytes",
        "clientKitUrl",
        "connectorToken",
        "healthUrl",
        "originHostname",
        "publicWsUrl",
        "tunnelId",
        "websiteOrigin",
        "workerName",
      ]);
      expect(one(run, T.component, "voice-edge").registeredOutputs).toEqual(run.outputs);
    },
  );
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  isEncryptedValue,
  otherZoneOwner,
  plaintextSecretsIn,
  projectValues,
} from "../config/stackFiles";
import { runProgramOffline } from "../offlineRun";
import { oneResource as one, RESOURCE_TYPES as T } from "../resourceTypes";
import { bindingsOf, DEFAULT_VOICE_RULE, refusal, zoneSettingValues } from "./programRun";

/** What a first `pulumi up` on a used account needs from the program: order, adoption, API value forms, refusals. */

const ZONE_ID = "0".repeat(32);
const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 7).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
};
const zone = (changes: Record<string, unknown>) => ({
  id: ZONE_ID,
  name: "mycosoft.com",
  plan: "free",
  owner: true,
  ...changes,
});

/** A rule an existing website already has on the zone, in the form `--carry-rules` prints. */
const LOGIN_RULE = {
  ref: "4b1e3a9c0d2f4e6a8b7c5d3e1f0a9b8c",
  description: "login attempts per IP",
  expression: '(http.request.uri.path eq "/login")',
  action: "managed_challenge",
  enabled: true,
  ratelimit: {
    characteristics: ["ip.src", "cf.colo.id"],
    period: 60,
    requestsPerPeriod: 5,
    mitigationTimeout: 600,
    requestsToOrigin: false,
  },
};

describe("the Access lock exists before the origin hostname serves the bridge", () => {
  it.each(["prod", "staging"])(
    "%s: the tunnel's ingress and the origin CNAME wait for the Access application and its policy",
    async (stack) => {
      const run = await runProgramOffline(stack, { secrets: SECRETS });
      for (const [type, name] of [
        [T.tunnelConfig, "voice-edge-tunnel-config"],
        [T.dnsRecord, "voice-edge-origin-record"],
      ]) {
        expect(one(run, type, name).dependsOn).toEqual(
          expect.arrayContaining(["voice-edge-origin-application", "voice-edge-origin-policy"]),
        );
      }
    },
  );
});

describe("URL normalization", () => {
  it("is declared by the zone owner (Cloudflare normalization of incoming URLs), so /voice/./ws is counted as /voice/ws", async () => {
    const run = await runProgramOffline("prod", { secrets: SECRETS });
    expect(one(run, T.urlNormalization, "voice-edge-url-normalization").inputs).toEqual({
      zoneId: ZONE_ID,
      type: "cloudflare",
      scope: "incoming",
    });
  });

  it("is left to the owner by a stack that does not own the zone", async () => {
    const run = await runProgramOffline("staging", { secrets: SECRETS });
    expect(run.resources.filter((r) => r.type === T.urlNormalization)).toEqual([]);
  });

  it("takes the configured type and scope", async () => {
    const run = await runProgramOffline("prod", {
      secrets: SECRETS,
      override: {
        "voice-edge:zone": zone({ urlNormalization: { type: "rfc3986", scope: "both" } }),
      },
    });
    expect(one(run, T.urlNormalization, "voice-edge-url-normalization").inputs).toMatchObject({
      type: "rfc3986",
      scope: "both",
    });
  });
});

describe("zone settings reach the API in its value forms", () => {
  it("writes YAML booleans and a numeric TLS version as the API's strings", async () => {
    const run = await runProgramOffline("prod", {
      secrets: SECRETS,
      override: {
        "voice-edge:zone": zone({
          extraSettings: { http3: true, min_tls_version: 1.2, browser_cache_ttl: 14400 },
        }),
      },
    });
    expect(zoneSettingValues(run)).toEqual({
      websockets: "on",
      ssl: "strict",
      always_use_https: "on",
      http3: "on",
      min_tls_version: "1.2",
      browser_cache_ttl: 14400,
    });
  });
});

describe("the zone's existing rate-limiting rules are kept", () => {
  const business = { "voice-edge:zone": zone({ plan: "business" }) };

  it("carries the zone's other rules first and unchanged, then this project's rules with their own refs", async () => {
    const run = await runProgramOffline("prod", {
      secrets: SECRETS,
      override: { ...business, "voice-edge:rateLimit": { rules: [{}], keepRules: [LOGIN_RULE] } },
    });
    const ruleset = one(run, T.ruleset, "voice-edge-rate-limit");
    expect(ruleset.inputs.rules).toEqual([
      LOGIN_RULE,
      { ...DEFAULT_VOICE_RULE, description: "voice upgrades and health checks per IP" },
    ]);
    expect(ruleset.importId).toBeUndefined();
    expect(ruleset.ignoreChanges).toEqual([]);
  });

  it("leaves a ruleset holding rules it did not create to `pulumi destroy`, and deletes one that holds only its own", async () => {
    const kept = await runProgramOffline("prod", {
      secrets: SECRETS,
      override: { ...business, "voice-edge:rateLimit": { rules: [{}], keepRules: [LOGIN_RULE] } },
    });
    expect(one(kept, T.ruleset, "voice-edge-rate-limit").retainOnDelete).toBe(true);
    const own = await runProgramOffline("prod", { secrets: SECRETS });
    expect(one(own, T.ruleset, "voice-edge-rate-limit").retainOnDelete).toBe(false);
  });

  it("adopts the existing entry point with adoptRulesetId: imported by its zone-scoped ID and updated to the kept rules plus its own in the same up", async () => {
    const rulesetId = "a".repeat(32);
    const run = await runProgramOffline("prod", {
      secrets: SECRETS,
      override: {
        ...business,
        "voice-edge:rateLimit": { rules: [{}], keepRules: [LOGIN_RULE], adoptRulesetId: rulesetId },
      },
    });
    const ruleset = one(run, T.ruleset, "voice-edge-rate-limit");
    expect(ruleset.importId).toBe(`zones/${ZONE_ID}/${rulesetId}`);
    expect(ruleset.ignoreChanges).toEqual([]);
    expect(ruleset.inputs).toMatchObject({
      zoneId: ZONE_ID,
      kind: "zone",
      phase: "http_ratelimit",
    });
    expect((ruleset.inputs.rules as { ref: string }[]).map((rule) => rule.ref)).toEqual([
      LOGIN_RULE.ref,
      "voice_edge_rate_limit_1",
    ]);
  });

  it("refuses, before declaring anything, more rules than the plan holds once the kept ones are counted", async () => {
    const message = await refusal("prod", {
      secrets: SECRETS,
      override: { "voice-edge:rateLimit": { rules: [{}], keepRules: [LOGIN_RULE] } },
    });
    expect(message).toMatch(
      /has 1 rules and keepRules 1 \(2 in the zone's ruleset\); the free plan allows 1/,
    );
  });
});

describe("the Access service token rotates through config", () => {
  it("is created for a year at version 1 by default", async () => {
    const run = await runProgramOffline("prod", { secrets: SECRETS });
    expect(one(run, T.serviceToken, "voice-edge-origin-service-token").inputs).toEqual({
      accountId: ZONE_ID,
      name: "voice-edge-prod worker",
      duration: "8760h",
      clientSecretVersion: 1,
    });
  });

  it("rotates with clientSecretVersion and previousClientSecretExpiresAt, and the Worker gets the token's current secret", async () => {
    const run = await runProgramOffline("prod", {
      secrets: SECRETS,
      override: {
        "voice-edge:accessServiceToken": {
          clientSecretVersion: 2,
          previousClientSecretExpiresAt: "2026-12-03T12:00:00Z",
        },
      },
    });
    expect(one(run, T.serviceToken, "voice-edge-origin-service-token").inputs).toMatchObject({
      clientSecretVersion: 2,
      previousClientSecretExpiresAt: "2026-12-03T12:00:00Z",
      duration: "8760h",
    });
    expect(bindingsOf(run).find((b) => b.name === "BRIDGE_ACCESS_CLIENT_SECRET")?.text).toBe(
      "voice-edge-origin-service-token-client-secret",
    );
  });
});

describe("the HS256 secret rotates through config", () => {
  it("gives the Worker the previous secret as a secret binding, with the window in its settings", async () => {
    const edge = {
      auth: {
        mode: "jwt",
        algorithms: ["HS256"],
        issuer: "https://mycosoft.com",
        audience: "voice-edge",
        previousSecretAcceptedUntil: "2026-12-01T12:00:00Z",
      },
      allowedOrigins: ["https://mycosoft.com"],
    };
    const run = await runProgramOffline("prod", {
      secrets: { ...SECRETS, jwtSecretPrevious: "previous-secret-0123456789-abcdefghijkl" },
      override: { "voice-edge:edge": edge },
    });
    const bindings = bindingsOf(run);
    expect(bindings.find((b) => b.name === "JWT_SECRET_PREVIOUS")).toEqual({
      name: "JWT_SECRET_PREVIOUS",
      type: "secret_text",
      text: "previous-secret-0123456789-abcdefghijkl",
    });
    expect(
      JSON.parse(bindings.find((b) => b.name === "EDGE_CONFIG")!.json!).auth
        .previousSecretAcceptedUntil,
    ).toBe("2026-12-01T12:00:00Z");
  });
});

describe("the program refuses, before declaring anything", () => {
  it.each(["voice-edge:jwtSecret", "voice-edge:tunnelSecret", "cloudflare:apiToken"])(
    "a plaintext %s written into the stack file",
    async (key) => {
      const message = await refusal("prod", {
        secrets: { ...SECRETS, "cloudflare:apiToken": "cf-token" },
        override: { [key]: "a".repeat(44) },
      });
      expect(message).toContain(
        `${key}: is a secret stored in plaintext; remove it from the stack file and set it with \`pulumi config set --secret ${key}\``,
      );
      expect(message).not.toContain("a".repeat(44));
    },
  );

  it.each([
    {
      what: "a second stack file claiming the zone, naming the file that owns it",
      stack: "staging",
      override: { "voice-edge:zone": zone({}) },
      says: [
        'Invalid configuration for stack "staging" (Pulumi.staging.yaml)',
        "voice-edge:zone → owner: zone mycosoft.com (00000000000000000000000000000000) is already owned by Pulumi.prod.yaml; set zone.owner: false here",
      ],
    },
    {
      what: "a bridge service with a path, which cloudflared would refuse",
      stack: "prod",
      override: {
        "voice-edge:tunnel": {
          originHostname: "voice-origin.mycosoft.com",
          bridgeService: "http://192.168.0.188:8999/api/chat",
        },
      },
      says: ["voice-edge:tunnel → bridgeService: must be scheme, host and port only"],
    },
  ])("$what", async ({ stack, override, says }) => {
    const message = await refusal(stack, { secrets: SECRETS, override });
    for (const part of says) expect(message).toContain(part);
  });

  it("but accepts secrets that `pulumi config set --secret` stored encrypted in the stack file", async () => {
    const run = await runProgramOffline("prod", {
      secrets: SECRETS,
      override: {
        "voice-edge:jwtSecret": { secure: "v1:c2VjcmV0" },
        "voice-edge:alertWebhookSecret": undefined,
      },
    });
    expect(bindingsOf(run).find((b) => b.name === "JWT_SECRET")?.type).toBe("secret_text");
  });
});

describe("stack files (pure)", () => {
  it("tells encrypted values from plaintext, for project secrets and the provider's token", () => {
    const config = {
      "voice-edge:jwtSecret": { secure: "v1:abc" },
      "voice-edge:tunnelSecret": "plain",
      "cloudflare:apiToken": "plain-token",
      "voice-edge:workerName": "voice-edge-prod",
    };
    expect(isEncryptedValue(config["voice-edge:jwtSecret"])).toBe(true);
    expect(isEncryptedValue({ secure: "v1:abc", extra: 1 })).toBe(false);
    expect(plaintextSecretsIn(config).sort()).toEqual([
      "cloudflare:apiToken",
      "voice-edge:tunnelSecret",
    ]);
    expect(projectValues(config)).toEqual({ tunnelSecret: "plain", workerName: "voice-edge-prod" });
  });

  it("finds the other stack file owning the same zone, and nothing for another zone or a non-owner", () => {
    const root = mkdtempSync(join(tmpdir(), "voice-edge-stacks-"));
    const file = (stack: string, zoneYaml: string) =>
      writeFileSync(join(root, `Pulumi.${stack}.yaml`), `config:\n  voice-edge:zone:\n${zoneYaml}`);
    file("a", `    id: "${"1".repeat(32)}"\n    name: example.com\n    owner: true\n`);
    file("b", `    id: "${"1".repeat(32)}"\n    name: example.com\n    owner: false\n`);
    file("c", `    id: "${"2".repeat(32)}"\n    name: example.org\n    owner: true\n`);
    writeFileSync(join(root, "Pulumi.broken.yaml"), "config: [unclosed");
    try {
      expect(otherZoneOwner("b", { id: "1".repeat(32), name: "example.com" }, root)).toBe(
        "Pulumi.a.yaml",
      );
      expect(
        otherZoneOwner("a", { id: "1".repeat(32), name: "example.com" }, root),
      ).toBeUndefined();
      expect(
        otherZoneOwner("b", { id: "3".repeat(32), name: "example.net" }, root),
      ).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

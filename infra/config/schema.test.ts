import { describe, expect, it } from "vitest";
import { refusal } from "../test/programRun";
import { loadStackSettings, projectValues, readStackFile } from "./stackFiles";
import { parseStackSecrets, parseStackSettings, StackConfigError } from "./schema";

const prod = () => projectValues(readStackFile("prod"));
const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 1).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
};
const zone = (changes: Record<string, unknown>) => ({ ...(prod().zone as object), ...changes });

function settingsError(values: Record<string, unknown>): string {
  try {
    parseStackSettings("prod", "Pulumi.prod.yaml", values);
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as Error).message;
  }
  throw new Error("expected the config to be refused");
}

describe("the fixture stack files", () => {
  it.each(["staging", "prod"])("Pulumi.%s.yaml passes the schema", (stack) => {
    const settings = loadStackSettings(stack);
    expect(settings.edge.auth.mode).toBe("jwt");
    expect(() => parseStackSecrets(stack, `Pulumi.${stack}.yaml`, settings, SECRETS)).not.toThrow();
  });
});

describe("bad settings are refused with the key, the stack file and what is allowed", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "an unknown plan",
      { zone: zone({ plan: "premium" }) },
      /voice-edge:zone → plan: Invalid option: expected one of "free"\|"pro"\|"business"\|"enterprise"/,
    ],
    [
      "a zone ID of the wrong form",
      { zone: zone({ id: "my-zone" }) },
      /voice-edge:zone → id: must be the zone ID: 32 lowercase hex/,
    ],
    [
      "a period the Free plan lacks",
      { rateLimit: { rules: [{ period: 60 }] } },
      /voice-edge:rateLimit → rules\.0\.period: 60 s is not available on the free plan \(allowed: 10\)/,
    ],
    [
      "a period no plan has",
      { rateLimit: { rules: [{ period: 30 }] } },
      /voice-edge:rateLimit → rules\.0\.period: must be one of 10, 60, 120, 300, 600, 3600 seconds/,
    ],
    [
      "a mitigation timeout the Free plan lacks",
      { rateLimit: { rules: [{ mitigationTimeout: 3600 }] } },
      /rules\.0\.mitigationTimeout: 3600 s is not available on the free plan \(allowed: 10\)/,
    ],
    [
      "more rules than the Free plan allows",
      { rateLimit: { rules: [{}, { path: "/voice/health" }] } },
      /voice-edge:rateLimit → rules: has 2 rules; the free plan allows 1/,
    ],
    [
      "the Host field on the Free plan",
      { rateLimit: { rules: [{ hosts: ["mycosoft.com"] }] } },
      /rules\.0\.hosts: the host field is not available .* on the free plan \(allowed: path\)/,
    ],
    [
      "a Pro period on Pro is fine but 120 s is not",
      { zone: zone({ plan: "pro" }), rateLimit: { rules: [{ period: 120 }] } },
      /120 s is not available on the pro plan \(allowed: 10, 60\)/,
    ],
    [
      "an Enterprise alert on Free",
      { alerts: { emails: ["ops@mycosoft.com"], types: ["http_alert_origin_error"] } },
      /voice-edge:alerts → types\.0: http_alert_origin_error is not available on the free plan \(allowed: tunnel_health_event, expiring_service_token_alert, bridge_probe\)/,
    ],
    [
      "a health check on Free",
      { alerts: { emails: ["ops@mycosoft.com"], types: ["health_check_status_notification"] } },
      /types\.0: health_check_status_notification is not available on the free plan/,
    ],
    [
      "an alert type Cloudflare does not have",
      { alerts: { emails: ["ops@mycosoft.com"], types: ["http_5xx"] } },
      /voice-edge:alerts → types\.0: Invalid option: expected one of "tunnel_health_event"/,
    ],
    [
      "a webhook URL in the stack file",
      {
        alerts: {
          emails: ["ops@mycosoft.com"],
          webhookUrl: "https://hooks.slack.com/services/T/B/x",
        },
      },
      /voice-edge:alerts → webhookUrl: moved to the secret voice-edge:alertWebhookUrl/,
    ],
    [
      "rate limits in a stack that does not own the zone",
      { zone: zone({ owner: false }) },
      /voice-edge:rateLimit: only the stack with zone.owner: true/,
    ],
    [
      "a public hostname outside the zone",
      { publicHostname: "voice.example.org" },
      /voice-edge:publicHostname: voice.example.org is not in zone mycosoft.com/,
    ],
    [
      "the origin hostname equal to the public one",
      { tunnel: { originHostname: "mycosoft.com", bridgeService: "http://192.168.0.188:8999" } },
      /voice-edge:tunnel → originHostname: must differ from publicHostname/,
    ],
    [
      "a ws:// bridge service",
      {
        tunnel: {
          originHostname: "voice-origin.mycosoft.com",
          bridgeService: "ws://192.168.0.188:8999",
        },
      },
      /voice-edge:tunnel → bridgeService: must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      "a zone setting the service fixes",
      { zone: zone({ extraSettings: { ssl: "flexible" } }) },
      /voice-edge:zone → extraSettings\.ssl: is fixed by the service \(ssl: strict\)/,
    ],
    [
      "auth left out",
      { edge: { allowedOrigins: ["https://mycosoft.com"] } },
      /voice-edge:edge → auth: must be \{ mode: "jwt", algorithms: \[\.\.\.\] \} or \{ mode: "off" \} \(auth is never off by omission\)/,
    ],
    [
      "alg none",
      {
        edge: {
          auth: { mode: "jwt", algorithms: ["none"] },
          allowedOrigins: ["https://mycosoft.com"],
        },
      },
      /voice-edge:edge → auth\.algorithms\.0: Invalid option: expected one of "HS256"/,
    ],
    [
      "an asymmetric algorithm without a JWKS (the Worker would refuse every upgrade)",
      {
        edge: {
          auth: { mode: "jwt", algorithms: ["RS256"] },
          allowedOrigins: ["https://mycosoft.com"],
        },
      },
      /voice-edge:edge → auth\.jwksUrl: is required because auth\.algorithms includes RS256/,
    ],
    [
      "the token cookie forwarded to the bridge",
      {
        edge: {
          auth: { mode: "jwt", algorithms: ["HS256"], cookieName: "voice_token" },
          allowedOrigins: ["https://mycosoft.com"],
          forwardCookies: ["voice_token"],
        },
      },
      /voice-edge:edge → forwardCookies: must not name the token cookie \(voice_token\)/,
    ],
    [
      "no origins and no origin-less clients",
      { edge: { auth: { mode: "off" }, allowedOrigins: [] } },
      /voice-edge:edge → allowedOrigins: is empty and allowMissingOrigin is false/,
    ],
    [
      "a misspelt key",
      { workerNmae: "x" },
      /voice-edge:workerNmae: unknown key; known: accountId, zone, publicHostname, publicDns, workerName,/,
    ],
    [
      "a misspelt key inside a setting",
      { zone: zone({ plann: "free" }) },
      /voice-edge:zone → plann: unknown key; known: id, name, plan, owner, extraSettings, urlNormalization/,
    ],
    [
      "a compatibility date that is not a date",
      { compatibilityDate: "April 2026" },
      /voice-edge:compatibilityDate: must be a date written YYYY-MM-DD/,
    ],
    [
      "a secret written into the stack file",
      { jwtSecret: "oops-in-plaintext" },
      /voice-edge:jwtSecret: is a secret stored in plaintext; remove it from the stack file and set it with `pulumi config set --secret voice-edge:jwtSecret`/,
    ],
    [
      "a bridge service with a path",
      {
        tunnel: {
          originHostname: "voice-origin.mycosoft.com",
          bridgeService: "http://192.168.0.188:8999/api/chat",
        },
      },
      /voice-edge:tunnel → bridgeService: must be scheme, host and port only, e\.g\. http:\/\/192\.168\.0\.188:8999: cloudflared ingress rules cannot proxy to a path; the path \(\/api\/chat\) belongs in tunnel\.bridgePath/,
    ],
    [
      "a bridge service that is not a URL",
      {
        tunnel: {
          originHostname: "voice-origin.mycosoft.com",
          bridgeService: "192.168.0.188 port 8999",
        },
      },
      /voice-edge:tunnel → bridgeService: must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      "a bridge service with a query",
      {
        tunnel: {
          originHostname: "voice-origin.mycosoft.com",
          bridgeService: "http://192.168.0.188:8999?x=1",
        },
      },
      /bridgeService: must be scheme, host and port only/,
    ],
    [
      "a zone setting this program does not know",
      { zone: zone({ extraSettings: { http4: "on" } }) },
      /voice-edge:zone → extraSettings\.http4: is not a zone setting this program knows; known: 0rtt, always_online, .*min_tls_version/,
    ],
    [
      "a switch that is not on or off",
      { zone: zone({ extraSettings: { http3: "yes" } }) },
      /voice-edge:zone → extraSettings\.http3: must be "on" or "off" \(got "yes"\)/,
    ],
    [
      "a TLS version the API does not take",
      { zone: zone({ extraSettings: { min_tls_version: 1.4 } }) },
      /extraSettings\.min_tls_version: must be one of "1\.0", "1\.1", "1\.2", "1\.3"/,
    ],
    [
      "a browser cache TTL the API does not offer",
      { zone: zone({ extraSettings: { browser_cache_ttl: 3601 } }) },
      /extraSettings\.browser_cache_ttl: must be one of 0, 30, .* \(seconds; 0 respects the origin's headers\), as a number \(got 3601\)/,
    ],
    [
      "URL normalization turned off",
      { zone: zone({ urlNormalization: { scope: "none" } }) },
      /voice-edge:zone → urlNormalization\.scope: must be "incoming" or "both" \("none" would let \/voice\/\.\/ws past the rate limit\)/,
    ],
    [
      "a rotated service token without the old secret's expiry",
      { accessServiceToken: { clientSecretVersion: 2 } },
      /voice-edge:accessServiceToken → previousClientSecretExpiresAt: is required once clientSecretVersion is above 1/,
    ],
    [
      "an expiry that is not an RFC 3339 time",
      {
        accessServiceToken: {
          clientSecretVersion: 2,
          previousClientSecretExpiresAt: "next friday",
        },
      },
      /previousClientSecretExpiresAt: must be an RFC 3339 time such as 2026-12-01T12:00:00Z/,
    ],
    [
      "a service token duration Cloudflare does not parse",
      { accessServiceToken: { duration: "1 year" } },
      /voice-edge:accessServiceToken → duration: must be a duration such as 8760h/,
    ],
    [
      "a kept rule that claims to be this project's",
      {
        rateLimit: {
          rules: [{}],
          keepRules: [
            {
              ref: "voice_edge_rate_limit_1",
              expression: "true",
              action: "block",
              ratelimit: { characteristics: ["ip.src", "cf.colo.id"], period: 10 },
            },
          ],
        },
      },
      /voice-edge:rateLimit → keepRules\.0\.ref: must not start with voice_edge_/,
    ],
    [
      "a kept rule that leaves the plan no room",
      {
        rateLimit: {
          rules: [{}],
          keepRules: [
            {
              ref: "site_login",
              expression: '(http.request.uri.path eq "/login")',
              action: "block",
              ratelimit: { characteristics: ["ip.src", "cf.colo.id"], period: 10 },
            },
          ],
        },
      },
      /voice-edge:rateLimit → rules: has 1 rules and keepRules 1 \(2 in the zone's ruleset\); the free plan allows 1/,
    ],
    [
      "a ruleset ID of the wrong form",
      { rateLimit: { rules: [{}], adoptRulesetId: "my-ruleset" } },
      /voice-edge:rateLimit → adoptRulesetId: must be the ruleset ID: 32 lowercase hex/,
    ],
    [
      "a guard moved off the port the tunnel reaches",
      { guard: { listenPort: 9100 } },
      /voice-edge:tunnel → bridgeService: is http:\/\/localhost:8999 but guard.listenPort is 9100/,
    ],
    [
      "a guard's session cap other than the line's",
      { guard: { maxSessionMinutes: 10 }, line: { enabled: true, maxSessionMinutes: 5 } },
      /voice-edge:guard → maxSessionMinutes: is 10 but voice-edge:line.maxSessionMinutes is 5/,
    ],
    [
      "a guard's session cap while the line is on without its own (pages would be told no limit)",
      { guard: { maxSessionMinutes: 10 }, line: { enabled: true } },
      /voice-edge:guard → maxSessionMinutes:/,
    ],
  ];

  it.each(cases)("refuses %s", (_name, changes, message) => {
    const text = settingsError({ ...prod(), ...changes });
    expect(text).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
    expect(text).toMatch(message);
    expect(text).not.toContain(":: ");
  });

  it("refuses a kept rule's ref twice", () => {
    const kept = {
      ref: "site_login",
      expression: "true",
      action: "block",
      ratelimit: { characteristics: ["ip.src", "cf.colo.id"], period: 10 },
    };
    expect(
      settingsError({
        ...prod(),
        zone: zone({ plan: "business" }),
        rateLimit: { rules: [{}], keepRules: [kept, kept] },
      }),
    ).toMatch(/keepRules\.1\.ref: site_login appears twice/);
  });

  it("writes YAML booleans and numbers as the strings the zone settings API takes", () => {
    const settings = parseStackSettings("prod", "Pulumi.prod.yaml", {
      ...prod(),
      zone: zone({
        extraSettings: {
          http3: true,
          "0rtt": false,
          min_tls_version: 1.2,
          tls_1_3: "zrt",
          browser_cache_ttl: 14400,
        },
      }),
    });
    expect(settings.zone.extraSettings).toEqual({
      http3: "on",
      "0rtt": "off",
      min_tls_version: "1.2",
      tls_1_3: "zrt",
      browser_cache_ttl: 14400,
    });
    const one = parseStackSettings("prod", "Pulumi.prod.yaml", {
      ...prod(),
      zone: zone({ extraSettings: { min_tls_version: 1 } }),
    });
    expect(one.zone.extraSettings).toEqual({ min_tls_version: "1.0" });
  });

  it("never repeats a secret's value in a message", () => {
    const settings = loadStackSettings("prod");
    const attempt = () =>
      parseStackSecrets("prod", "Pulumi.prod.yaml", settings, {
        jwtSecret: "short-secret-value",
        tunnelSecret: "not base64 at all!",
      });
    expect(attempt).toThrow(/voice-edge:jwtSecret: must be at least 32 characters/);
    expect(attempt).toThrow(/voice-edge:tunnelSecret: must be at least 32 random bytes in base64/);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain("short-secret-value");
      expect((error as Error).message).not.toContain("not base64 at all");
    }
  });

  it("refuses a stack with no alert mechanism at all", () => {
    const settings = parseStackSettings("prod", "Pulumi.prod.yaml", {
      ...prod(),
      alerts: { emails: [], types: ["tunnel_health_event"] },
    });
    expect(() =>
      parseStackSecrets("prod", "Pulumi.prod.yaml", settings, {
        jwtSecret: SECRETS.jwtSecret,
        tunnelSecret: SECRETS.tunnelSecret,
      }),
    ).toThrow(
      /voice-edge:alerts: needs at least one mechanism: alerts\.emails, alerts\.pagerdutyIds or the secret voice-edge:alertWebhookUrl/,
    );
  });

  it("refuses an http:// alert webhook", () => {
    expect(() =>
      parseStackSecrets("prod", "Pulumi.prod.yaml", loadStackSettings("prod"), {
        ...SECRETS,
        alertWebhookUrl: "http://hooks.example.com/x",
      }),
    ).toThrow(/voice-edge:alertWebhookUrl: must be an https:\/\/ URL/);
  });

  it("requires the webhook on the Free plan, whose 5XX alert is the Worker's probe, naming the plan and the way out", () => {
    const attempt = () =>
      parseStackSecrets("prod", "Pulumi.prod.yaml", loadStackSettings("prod"), {
        jwtSecret: SECRETS.jwtSecret,
        tunnelSecret: SECRETS.tunnelSecret,
      });
    expect(attempt).toThrow(
      /voice-edge:alertWebhookUrl: is required because bridge_probe is the free plan's alert on a failing bridge \(the plan has no Cloudflare notification for 5XX\)/,
    );
    expect(attempt).toThrow(
      /pulumi config set --secret voice-edge:alertWebhookUrl.*or list alerts\.types without bridge_probe/,
    );
    const withoutProbe = parseStackSettings("prod", "Pulumi.prod.yaml", {
      ...prod(),
      alerts: { emails: ["ops@mycosoft.com"], types: ["tunnel_health_event"] },
    });
    expect(() =>
      parseStackSecrets("prod", "Pulumi.prod.yaml", withoutProbe, {
        jwtSecret: SECRETS.jwtSecret,
        tunnelSecret: SECRETS.tunnelSecret,
      }),
    ).not.toThrow();
  });

  it("refuses a forwarded header that carries credentials, identity or a forgeable address, in any spelling", () => {
    const edge = (forwardHeaders: string[]) => ({ ...(prod().edge as object), forwardHeaders });
    for (const name of [
      "X_Forwarded_For",
      "x-voice-subject",
      "CF_Access_Client_Secret",
      "Cookie",
      "Authorization",
      "True-Client-IP",
    ]) {
      expect(settingsError({ ...prod(), edge: edge([name]) })).toContain(
        `voice-edge:edge → forwardHeaders.0: ${name} is set by the edge or Cloudflare, or carries credentials or a forgeable address: it cannot be forwarded`,
      );
    }
    expect(
      parseStackSettings("prod", "Pulumi.prod.yaml", {
        ...prod(),
        edge: edge(["X-Client-Version"]),
      }).edge.forwardHeaders,
    ).toEqual(["X-Client-Version"]);
  });

  it("ties the previous HS secret to its rotation window, both ways", () => {
    const withUntil = parseStackSettings("prod", "Pulumi.prod.yaml", {
      ...prod(),
      edge: {
        ...(prod().edge as { auth: object }),
        auth: {
          ...(prod().edge as { auth: object }).auth,
          previousSecretAcceptedUntil: "2026-12-01T12:00:00Z",
        },
      },
    });
    expect(() =>
      parseStackSecrets("prod", "Pulumi.prod.yaml", loadStackSettings("prod"), {
        ...SECRETS,
        jwtSecretPrevious: "previous-secret-0123456789-abcdefghijkl",
      }),
    ).toThrow(
      /voice-edge:jwtSecretPrevious: is set but edge\.auth\.previousSecretAcceptedUntil is not/,
    );
    expect(() => parseStackSecrets("prod", "Pulumi.prod.yaml", withUntil, SECRETS)).toThrow(
      /previousSecretAcceptedUntil: is set but the secret voice-edge:jwtSecretPrevious is not/,
    );
    expect(() =>
      parseStackSecrets("prod", "Pulumi.prod.yaml", withUntil, {
        ...SECRETS,
        jwtSecretPrevious: SECRETS.jwtSecret,
      }),
    ).toThrow(/jwtSecretPrevious: equals jwtSecret/);
    expect(() =>
      parseStackSecrets("prod", "Pulumi.prod.yaml", withUntil, {
        ...SECRETS,
        jwtSecretPrevious: "previous-secret-0123456789-abcdefghijkl",
      }),
    ).not.toThrow();
  });

  it("requires jwtSecret when an HS algorithm is allowed, naming the command that sets it", () => {
    expect(() =>
      parseStackSecrets("prod", "Pulumi.prod.yaml", loadStackSettings("prod"), {
        tunnelSecret: SECRETS.tunnelSecret,
      }),
    ).toThrow(
      /voice-edge:jwtSecret: is required because edge.auth.algorithms includes HS256; set it with `pulumi config set --secret voice-edge:jwtSecret`/,
    );
  });
});

describe("the program refuses invalid config before declaring anything", () => {
  it("fails on a bad plan without declaring a single resource", async () => {
    const message = await refusal("prod", {
      secrets: SECRETS,
      override: { "voice-edge:zone": zone({ plan: "gold" }) },
    });
    expect(message).toMatch(/voice-edge:zone → plan/);
  });

  it("fails when a secret was set without --secret", async () => {
    const message = await refusal("prod", { secrets: SECRETS, plaintext: ["jwtSecret"] });
    expect(message).toMatch(
      /voice-edge:jwtSecret: is a secret stored in plaintext; remove it from the stack file and set it with `pulumi config set --secret voice-edge:jwtSecret`/,
    );
  });

  it("fails when the tunnel secret is missing", async () => {
    const message = await refusal("staging", { secrets: { jwtSecret: SECRETS.jwtSecret } });
    expect(message).toMatch(
      /voice-edge:tunnelSecret: .*pulumi config set --secret voice-edge:tunnelSecret/,
    );
  });
});

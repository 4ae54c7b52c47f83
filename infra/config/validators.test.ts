import { describe, expect, it } from "vitest";
import {
  validateAlertMechanism,
  validateAlertTypesForPlan,
  validateBridgeProbeWebhook,
  type AlertRuleInput,
} from "./alerts";
import type { Problem } from "./errors";
import { validateGuardBehindTunnel, type GuardRuleInput } from "./guard";
import {
  validateKeptRuleRefs,
  validateRateLimitOwnership,
  validateRateLimitRuleCount,
  validateRateLimitRulesForPlan,
  type RateLimitRuleInput,
} from "./rateLimit";
import {
  validatePreviousSecretDiffers,
  validateRotationWindowHasSecret,
  validateWebhookSecretHasUrl,
} from "./secrets";
import {
  validateOriginHostnameDiffers,
  validateOriginRequest,
  validateServiceTokenRotation,
  type OriginRequestSettings,
} from "./tunnel";
import { validateHostnamesInZone } from "./zone";

type Case<T> = [string, T, Problem[]];

const hosts = (publicHostname: string, originHostname: string) => ({
  zone: { name: "mycosoft.com" },
  publicHostname,
  tunnel: { originHostname },
});

describe("zone and tunnel hostnames", () => {
  const cases: Case<ReturnType<typeof hosts>>[] = [
    ["both in the zone", hosts("mycosoft.com", "voice-origin.mycosoft.com"), []],
    [
      "a public hostname outside the zone",
      hosts("voice.example.org", "voice-origin.mycosoft.com"),
      [{ path: ["publicHostname"], message: "voice.example.org is not in zone mycosoft.com" }],
    ],
    [
      "a look-alike suffix is not the zone",
      hosts("mycosoft.com", "voice-origin.notmycosoft.com"),
      [
        {
          path: ["tunnel", "originHostname"],
          message: "voice-origin.notmycosoft.com is not in zone mycosoft.com",
        },
      ],
    ],
  ];
  it.each(cases)("validateHostnamesInZone: %s", (_name, input, problems) =>
    expect(validateHostnamesInZone(input)).toEqual(problems),
  );

  it.each<Case<ReturnType<typeof hosts>>>([
    ["different hostnames", hosts("mycosoft.com", "voice-origin.mycosoft.com"), []],
    [
      "the same hostname",
      hosts("mycosoft.com", "mycosoft.com"),
      [
        {
          path: ["tunnel", "originHostname"],
          message: "must differ from publicHostname (the Worker fetches the origin hostname)",
        },
      ],
    ],
  ])("validateOriginHostnameDiffers: %s", (_name, input, problems) =>
    expect(validateOriginHostnameDiffers(input)).toEqual(problems),
  );

  const token = (clientSecretVersion: number, previousClientSecretExpiresAt?: string) => ({
    accessServiceToken: { clientSecretVersion, previousClientSecretExpiresAt },
  });
  it.each<Case<ReturnType<typeof token>>>([
    ["the first secret", token(1), []],
    ["a rotation with its expiry", token(2, "2026-12-01T12:00:00Z"), []],
    [
      "a rotation without its expiry",
      token(2),
      [
        {
          path: ["accessServiceToken", "previousClientSecretExpiresAt"],
          message:
            "is required once clientSecretVersion is above 1: until when the previous secret keeps working (RFC 3339, e.g. 2026-12-01T12:00:00Z)",
        },
      ],
    ],
  ])("validateServiceTokenRotation: %s", (_name, input, problems) =>
    expect(validateServiceTokenRotation(input)).toEqual(problems),
  );

  const origin = (bridgeService: string, originRequest?: OriginRequestSettings) => ({
    bridgeService,
    originRequest,
  });
  const overHttp = (key: string) => ({
    path: ["originRequest", key],
    message:
      "is a TLS setting and applies only to an https:// tunnel.bridgeService (bridgeService is http://localhost:8999); remove it, or point bridgeService at the server's https:// port",
  });
  it.each<Case<ReturnType<typeof origin>>>([
    ["the guard, no TLS settings", origin("http://localhost:8999"), []],
    ["an empty originRequest over http", origin("http://localhost:8999", {}), []],
    [
      "https with a CA pool and a server name",
      origin("https://localhost:8998", { caPool: "/etc/ca.pem", originServerName: "localhost" }),
      [],
    ],
    ["https without verification", origin("https://localhost:8998", { noTlsVerify: true }), []],
    [
      "noTlsVerify: false beside a CA pool",
      origin("https://localhost:8998", { noTlsVerify: false, caPool: "/etc/ca.pem" }),
      [],
    ],
    [
      "TLS settings over http, one problem each",
      origin("http://localhost:8999", { noTlsVerify: false, originServerName: "localhost" }),
      [overHttp("noTlsVerify"), overHttp("originServerName")],
    ],
    [
      "a CA pool noTlsVerify makes unused",
      origin("https://localhost:8998", { noTlsVerify: true, caPool: "/etc/ca.pem" }),
      [
        {
          path: ["originRequest", "caPool"],
          message:
            "is never read while originRequest.noTlsVerify is true (no certificate is checked); keep one of the two",
        },
      ],
    ],
  ])("validateOriginRequest: %s", (_name, input, problems) =>
    expect(validateOriginRequest(input)).toEqual(problems),
  );
});

const rule = (
  changes: Partial<{
    period: number;
    mitigationTimeout: number;
    paths: string[];
    hosts: string[];
  }> = {},
) => ({ period: 10, mitigationTimeout: 10, paths: ["/voice/ws"], hosts: [], ...changes });
const limited = (
  plan: RateLimitRuleInput["zone"]["plan"],
  rules: ReturnType<typeof rule>[],
  keepRules: { ref: string }[] = [],
  owner = true,
): RateLimitRuleInput => ({ zone: { plan, owner }, rateLimit: { rules, keepRules } });

describe("rate limits", () => {
  it.each<Case<RateLimitRuleInput>>([
    ["the owner's rules", limited("free", [rule()]), []],
    [
      "no rules in a stack that does not own the zone",
      { zone: { plan: "free", owner: false } },
      [],
    ],
    [
      "rules in a stack that does not own the zone",
      limited("free", [rule()], [], false),
      [
        {
          path: ["rateLimit"],
          message:
            "only the stack with zone.owner: true declares the zone's rate-limit ruleset; move these rules there",
        },
      ],
    ],
  ])("validateRateLimitOwnership: %s", (_name, input, problems) =>
    expect(validateRateLimitOwnership(input)).toEqual(problems),
  );

  it.each<Case<RateLimitRuleInput>>([
    ["as many as the plan allows", limited("pro", [rule(), rule()]), []],
    [
      "one more than the plan allows",
      limited("free", [rule(), rule()]),
      [{ path: ["rateLimit", "rules"], message: "has 2 rules; the free plan allows 1" }],
    ],
    [
      "kept rules count too",
      limited("free", [rule()], [{ ref: "site_login" }]),
      [
        {
          path: ["rateLimit", "rules"],
          message: "has 1 rules and keepRules 1 (2 in the zone's ruleset); the free plan allows 1",
        },
      ],
    ],
  ])("validateRateLimitRuleCount: %s", (_name, input, problems) =>
    expect(validateRateLimitRuleCount(input)).toEqual(problems),
  );

  it.each<Case<RateLimitRuleInput>>([
    ["distinct refs", limited("business", [rule()], [{ ref: "a" }, { ref: "b" }]), []],
    [
      "a ref twice",
      limited("business", [rule()], [{ ref: "a" }, { ref: "b" }, { ref: "a" }]),
      [
        {
          path: ["rateLimit", "keepRules", 2, "ref"],
          message: "a appears twice; refs are unique within a ruleset",
        },
      ],
    ],
  ])("validateKeptRuleRefs: %s", (_name, input, problems) =>
    expect(validateKeptRuleRefs(input)).toEqual(problems),
  );

  it.each<Case<RateLimitRuleInput>>([
    ["the Free plan's one form", limited("free", [rule()]), []],
    ["a Pro period and host", limited("pro", [rule({ period: 60, hosts: ["mycosoft.com"] })]), []],
    [
      "a period the Free plan lacks",
      limited("free", [rule({ period: 60 })]),
      [
        {
          path: ["rateLimit", "rules", 0, "period"],
          message: "60 s is not available on the free plan (allowed: 10)",
        },
      ],
    ],
    [
      "a mitigation timeout the Pro plan lacks",
      limited("pro", [rule({ mitigationTimeout: 120 })]),
      [
        {
          path: ["rateLimit", "rules", 0, "mitigationTimeout"],
          message: "120 s is not available on the pro plan (allowed: 10, 60, 3600)",
        },
      ],
    ],
    [
      "the host field on Free",
      limited("free", [rule({ hosts: ["mycosoft.com"] })]),
      [
        {
          path: ["rateLimit", "rules", 0, "hosts"],
          message:
            "the host field is not available in rate-limit expressions on the free plan (allowed: path)",
        },
      ],
    ],
  ])("validateRateLimitRulesForPlan: %s", (_name, input, problems) =>
    expect(validateRateLimitRulesForPlan(input)).toEqual(problems),
  );
});

const alerting = (
  plan: AlertRuleInput["zone"]["plan"],
  alerts: Partial<AlertRuleInput["alerts"]> = {},
): AlertRuleInput => ({ zone: { plan }, alerts: { emails: [], pagerdutyIds: [], ...alerts } });
const WEBHOOK = { alertWebhookUrl: "https://hooks.example.com/x" };

describe("alerts", () => {
  it.each<Case<AlertRuleInput>>([
    ["the plan's default set", alerting("free"), []],
    ["a Pro alert on Pro", alerting("pro", { types: ["health_check_status_notification"] }), []],
    [
      "an Enterprise alert on Free",
      alerting("free", { types: ["tunnel_health_event", "http_alert_origin_error"] }),
      [
        {
          path: ["alerts", "types", 1],
          message:
            "http_alert_origin_error is not available on the free plan (allowed: tunnel_health_event, expiring_service_token_alert, bridge_probe)",
        },
      ],
    ],
  ])("validateAlertTypesForPlan: %s", (_name, input, problems) =>
    expect(validateAlertTypesForPlan(input)).toEqual(problems),
  );

  const probeHelp =
    "and the Worker's probe can notify only a webhook; set it with `pulumi config set --secret voice-edge:alertWebhookUrl` (a Slack incoming-webhook URL works), or list alerts.types without bridge_probe";
  it.each<[string, AlertRuleInput, object, Problem[]]>([
    ["the Free plan's probe with its webhook", alerting("free"), WEBHOOK, []],
    ["Pro, whose default set has no probe", alerting("pro"), {}, []],
    [
      "the Free plan's default probe without a webhook",
      alerting("free"),
      {},
      [
        {
          path: ["alertWebhookUrl"],
          message: `is required because bridge_probe is the free plan's alert on a failing bridge (the plan has no Cloudflare notification for 5XX), ${probeHelp}`,
        },
      ],
    ],
    [
      "a listed probe without a webhook",
      alerting("pro", { types: ["bridge_probe"] }),
      {},
      [
        {
          path: ["alertWebhookUrl"],
          message: `is required because alerts.types includes bridge_probe, ${probeHelp}`,
        },
      ],
    ],
  ])("validateBridgeProbeWebhook: %s", (_name, input, secrets, problems) =>
    expect(validateBridgeProbeWebhook(input, secrets)).toEqual(problems),
  );

  it.each<[string, AlertRuleInput, object, Problem[]]>([
    ["email", alerting("pro", { emails: ["ops@mycosoft.com"] }), {}, []],
    ["PagerDuty", alerting("pro", { pagerdutyIds: ["0123456789abcdef0123456789abcdef"] }), {}, []],
    ["a webhook", alerting("pro"), WEBHOOK, []],
    [
      "nothing",
      alerting("pro"),
      {},
      [
        {
          path: ["alerts"],
          message:
            "needs at least one mechanism: alerts.emails, alerts.pagerdutyIds or the secret voice-edge:alertWebhookUrl",
        },
      ],
    ],
  ])("validateAlertMechanism: %s", (_name, input, secrets, problems) =>
    expect(validateAlertMechanism(input, secrets)).toEqual(problems),
  );
});

describe("secrets the stack alone checks", () => {
  const edge = (previousSecretAcceptedUntil?: string) => ({
    auth: { mode: "jwt" as const, algorithms: ["HS256"], previousSecretAcceptedUntil },
    allowedOrigins: [],
    allowMissingOrigin: true,
    forwardCookies: [],
  });
  it.each<[string, ReturnType<typeof edge>, object, Problem[]]>([
    ["no rotation", edge(), {}, []],
    ["a rotation with its secret", edge("2026-12-01T12:00:00Z"), { jwtSecretPrevious: "p" }, []],
    [
      "a window without the previous secret",
      edge("2026-12-01T12:00:00Z"),
      {},
      [
        {
          path: ["edge", "auth", "previousSecretAcceptedUntil"],
          message: "is set but the secret voice-edge:jwtSecretPrevious is not",
        },
      ],
    ],
  ])("validateRotationWindowHasSecret: %s", (_name, input, secrets, problems) =>
    expect(validateRotationWindowHasSecret(input, secrets)).toEqual(problems),
  );

  it.each<[string, object, Problem[]]>([
    ["no previous secret", { jwtSecret: "a" }, []],
    ["a different previous secret", { jwtSecret: "a", jwtSecretPrevious: "b" }, []],
    [
      "the same secret twice",
      { jwtSecret: "a", jwtSecretPrevious: "a" },
      [
        {
          path: ["jwtSecretPrevious"],
          message: "equals jwtSecret; it must be the secret being replaced",
        },
      ],
    ],
  ])("validatePreviousSecretDiffers: %s", (_name, secrets, problems) =>
    expect(validatePreviousSecretDiffers(secrets)).toEqual(problems),
  );

  it.each<[string, object, Problem[]]>([
    ["neither", {}, []],
    ["both", { alertWebhookUrl: "https://x.example", alertWebhookSecret: "s" }, []],
    [
      "a secret without its webhook",
      { alertWebhookSecret: "s" },
      [{ path: ["alertWebhookSecret"], message: "is set but voice-edge:alertWebhookUrl is not" }],
    ],
  ])("validateWebhookSecretHasUrl: %s", (_name, secrets, problems) =>
    expect(validateWebhookSecretHasUrl(secrets)).toEqual(problems),
  );
});

describe("the guard behind the tunnel", () => {
  const stack = (listenPort: number, bridgeService: string): GuardRuleInput => ({
    guard: { listenPort },
    tunnel: { bridgeService },
  });
  it.each<Case<GuardRuleInput>>([
    ["the defaults", stack(8999, "http://localhost:8999"), []],
    ["a moved guard the tunnel follows", stack(9100, "http://localhost:9100"), []],
    ["the same on 127.0.0.1", stack(9100, "http://127.0.0.1:9100"), []],
    ["no guard: the server's own https port", stack(9100, "https://localhost:8998"), []],
    ["no guard: another host", stack(9100, "http://10.0.0.5:8998"), []],
    [
      "a moved guard the tunnel does not follow",
      stack(9100, "http://localhost:8999"),
      [
        {
          path: ["tunnel", "bridgeService"],
          message:
            "is http://localhost:8999 but guard.listenPort is 9100: point it at the guard (http://localhost:9100), or leave guard.listenPort at 8999",
        },
      ],
    ],
  ])("validateGuardBehindTunnel: %s", (_name, input, problems) =>
    expect(validateGuardBehindTunnel(input)).toEqual(problems),
  );
});

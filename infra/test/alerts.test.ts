import { describe, expect, it } from "vitest";
import { alertMechanisms, healthCheckArgs, policySpecs } from "../alerts";
import { ZONE_PLANS, type ZonePlan } from "../config/planLimits";
import { loadStackSettings } from "../config/stackFiles";
import { runProgramOffline, Secret, type DeclaredResource, type ProgramRun } from "../offlineRun";
import { resourcesOfType as ofType, RESOURCE_TYPES as T } from "../resourceTypes";

const ZONE_ID = "0".repeat(32);
const WEBHOOK_URL = "https://hooks.slack.com/services/T000/B000/alerts-test";
const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 3).toString("base64"),
  alertWebhookUrl: WEBHOOK_URL,
};
const EMAIL = { emails: [{ id: "ops@mycosoft.com" }] };
const EMAIL_AND_WEBHOOK = { ...EMAIL, webhooks: [{ id: "voice-edge-alert-webhook-id" }] };

function onPlan(
  plan: ZonePlan,
  alerts: Record<string, unknown> = { emails: ["ops@mycosoft.com"] },
  secrets: Record<string, string> = SECRETS,
  declared?: DeclaredResource[],
) {
  return runProgramOffline("prod", {
    secrets,
    declared,
    override: {
      "voice-edge:zone": { id: ZONE_ID, name: "mycosoft.com", plan, owner: true },
      "voice-edge:alerts": alerts,
    },
  });
}

const policies = (run: ProgramRun) =>
  Object.fromEntries(ofType(run, T.notification).map((p) => [p.name, p.inputs]));
const bindingNames = (run: ProgramRun) =>
  ((ofType(run, T.script)[0].inputs.bindings as Secret).value as { name: string }[]).map(
    (b) => b.name,
  );

const TUNNEL_TROUBLE = {
  alertType: "tunnel_health_event",
  filters: {
    tunnelIds: ["voice-edge-tunnel-id"],
    newStatuses: ["TUNNEL_STATUS_TYPE_DEGRADED", "TUNNEL_STATUS_TYPE_DOWN"],
  },
};
const TOKEN_EXPIRY = {
  alertType: "expiring_service_token_alert",
  filters: { tokenIds: ["voice-edge-origin-service-token-id"] },
};
const HEALTH_CHECK = {
  alertType: "health_check_status_notification",
  filters: { healthCheckIds: ["voice-edge-health-check-id"], statuses: ["Unhealthy"] },
};

describe("the strongest alert set each plan offers, by default", () => {
  it("free: tunnel trouble, token expiry and the Worker's bridge probe (no Cloudflare alert covers 5XX)", async () => {
    const run = await onPlan("free");
    expect(policies(run)).toEqual({
      "voice-edge-alert-tunnel-health-event": expect.objectContaining({
        ...TUNNEL_TROUBLE,
        enabled: true,
        mechanisms: EMAIL_AND_WEBHOOK,
      }),
      "voice-edge-alert-service-token-expiry": expect.objectContaining({
        ...TOKEN_EXPIRY,
        mechanisms: EMAIL_AND_WEBHOOK,
      }),
    });
    expect(ofType(run, T.healthCheck)).toEqual([]);
    expect(ofType(run, T.d1)[0].inputs).toEqual({
      accountId: ZONE_ID,
      name: "voice-edge-prod-bridge-watch",
    });
    expect(ofType(run, T.cron)[0].inputs).toEqual({
      accountId: ZONE_ID,
      scriptName: "voice-edge-prod",
      schedules: [{ cron: "* * * * *" }],
    });
    expect(ofType(run, T.cron)[0].dependsOn).toContain("voice-edge-worker");
    const bindings = Object.fromEntries(
      (
        (ofType(run, T.script)[0].inputs.bindings as Secret).value as {
          name: string;
          type: string;
          id?: string;
          json?: string;
          text?: unknown;
        }[]
      ).map((b) => [b.name, b]),
    );
    expect(bindings.BRIDGE_WATCH_DB).toEqual({
      name: "BRIDGE_WATCH_DB",
      type: "d1",
      id: "voice-edge-bridge-watch-state-uuid",
    });
    expect(JSON.parse(bindings.BRIDGE_WATCH.json!)).toEqual({
      service: "voice-edge-prod (mycosoft.com)",
      failuresBeforeAlert: 3,
      notifyRecovery: false,
      busyMinutesBeforeAlert: 30,
    });
    expect(bindings.ALERT_WEBHOOK_URL).toEqual({
      name: "ALERT_WEBHOOK_URL",
      type: "secret_text",
      text: WEBHOOK_URL,
    });
    expect(ofType(run, T.webhook)[0].inputs).toEqual({
      accountId: ZONE_ID,
      name: "voice-edge-prod alerts",
      url: new Secret(WEBHOOK_URL),
    });
  });

  it.each(["pro", "business"] as const)(
    "%s: a Health Check of the public /voice/health and its notification, instead of the probe",
    async (plan) => {
      const run = await onPlan(plan);
      expect(policies(run)).toEqual({
        "voice-edge-alert-tunnel-health-event": expect.objectContaining(TUNNEL_TROUBLE),
        "voice-edge-alert-service-token-expiry": expect.objectContaining(TOKEN_EXPIRY),
        "voice-edge-alert-voice-health-check": expect.objectContaining({
          ...HEALTH_CHECK,
          mechanisms: EMAIL_AND_WEBHOOK,
        }),
      });
      expect(ofType(run, T.healthCheck)[0].inputs).toEqual({
        zoneId: ZONE_ID,
        name: "voice-edge-prod-voice-health",
        description:
          "GET https://mycosoft.com/voice/health: the edge Worker, the tunnel and the bridge",
        address: "mycosoft.com",
        type: "HTTPS",
        httpConfig: {
          method: "GET",
          path: "/voice/health",
          port: 443,
          expectedCodes: ["200"],
          followRedirects: false,
          allowInsecure: false,
        },
        interval: 60,
        timeout: 5,
        retries: 1,
        consecutiveFails: 3,
        consecutiveSuccesses: 2,
      });
      expect(ofType(run, T.d1)).toEqual([]);
      expect(ofType(run, T.cron)).toEqual([]);
      expect(bindingNames(run)).not.toContain("ALERT_WEBHOOK_URL");
    },
  );

  it("enterprise: adds the zone's origin error rate (with its SLO) and the HTTP error rate", async () => {
    const run = await onPlan("enterprise");
    expect(Object.keys(policies(run)).sort()).toEqual([
      "voice-edge-alert-http-error-rate",
      "voice-edge-alert-origin-error-rate",
      "voice-edge-alert-service-token-expiry",
      "voice-edge-alert-tunnel-health-event",
      "voice-edge-alert-voice-health-check",
    ]);
    expect(policies(run)["voice-edge-alert-origin-error-rate"]).toMatchObject({
      alertType: "http_alert_origin_error",
      filters: { zones: [ZONE_ID], slos: ["99.9"] },
      mechanisms: EMAIL_AND_WEBHOOK,
    });
    expect(policies(run)["voice-edge-alert-http-error-rate"]).toMatchObject({
      alertType: "advanced_http_alert_error",
      filters: { zones: [ZONE_ID] },
    });
  });

  it("covers every plan the schema knows", () => {
    expect(ZONE_PLANS).toEqual(["free", "pro", "business", "enterprise"]);
  });
});

describe("mechanisms and options", () => {
  it("sends every policy to emails, the webhook (with its secret) and PagerDuty when all are configured", async () => {
    const pagerduty = "6a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";
    const run = await onPlan(
      "pro",
      { emails: ["ops@mycosoft.com"], pagerdutyIds: [pagerduty] },
      { ...SECRETS, alertWebhookSecret: "hook-secret" },
    );
    expect(ofType(run, T.webhook)[0].inputs).toMatchObject({
      url: new Secret(WEBHOOK_URL),
      secret: new Secret("hook-secret"),
    });
    for (const policy of Object.values(policies(run)))
      expect(policy.mechanisms).toEqual({ ...EMAIL_AND_WEBHOOK, pagerduties: [{ id: pagerduty }] });
  });

  it("declares no webhook and no empty mechanism list when only emails are configured", async () => {
    const run = await onPlan(
      "pro",
      { emails: ["ops@mycosoft.com"] },
      { jwtSecret: SECRETS.jwtSecret, tunnelSecret: SECRETS.tunnelSecret },
    );
    expect(ofType(run, T.webhook)).toEqual([]);
    for (const policy of Object.values(policies(run))) expect(policy.mechanisms).toEqual(EMAIL);
  });

  it("notifies recoveries only when asked: a separate tunnel policy, Healthy in the health check's statuses, and the probe's setting", async () => {
    const run = await onPlan("pro", {
      emails: ["ops@mycosoft.com"],
      notifyRecovery: true,
      types: ["tunnel_health_event", "health_check_status_notification", "bridge_probe"],
    });
    expect(policies(run)["voice-edge-alert-tunnel-recovered"]).toMatchObject({
      alertType: "tunnel_health_event",
      filters: { tunnelIds: ["voice-edge-tunnel-id"], newStatuses: ["TUNNEL_STATUS_TYPE_HEALTHY"] },
    });
    expect(policies(run)["voice-edge-alert-voice-health-check"]).toMatchObject({
      filters: { statuses: ["Unhealthy", "Healthy"] },
    });
    const watch = (
      (ofType(run, T.script)[0].inputs.bindings as Secret).value as {
        name: string;
        json?: string;
      }[]
    ).find((b) => b.name === "BRIDGE_WATCH")!;
    expect(JSON.parse(watch.json!)).toMatchObject({ notifyRecovery: true });
    expect(ofType(run, T.cron)).toHaveLength(1);
  });

  it("passes failuresBeforeAlert to the health check and the probe", async () => {
    const run = await onPlan("pro", {
      emails: ["ops@mycosoft.com"],
      failuresBeforeAlert: 5,
      types: ["health_check_status_notification", "bridge_probe"],
    });
    expect(ofType(run, T.healthCheck)[0].inputs.consecutiveFails).toBe(5);
    const watch = (
      (ofType(run, T.script)[0].inputs.bindings as Secret).value as {
        name: string;
        json?: string;
      }[]
    ).find((b) => b.name === "BRIDGE_WATCH")!;
    expect(JSON.parse(watch.json!)).toMatchObject({ failuresBeforeAlert: 5 });
  });

  it("passes busyMinutesBeforeAlert to the probe's capacity alert", async () => {
    const run = await onPlan("free", { emails: ["ops@mycosoft.com"], busyMinutesBeforeAlert: 45 });
    const watch = (
      (ofType(run, T.script)[0].inputs.bindings as Secret).value as {
        name: string;
        json?: string;
      }[]
    ).find((b) => b.name === "BRIDGE_WATCH")!;
    expect(JSON.parse(watch.json!)).toMatchObject({ busyMinutesBeforeAlert: 45 });
  });
});

describe("impossible alerts are refused before anything is declared", () => {
  async function refusal(...args: Parameters<typeof onPlan>): Promise<string> {
    const declared: DeclaredResource[] = [];
    const error = await onPlan(args[0], args[1], args[2], declared).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error, "the program should have failed").toBeInstanceOf(Error);
    expect(declared).toEqual([]);
    return (error as Error).message;
  }

  it.each([
    ["free", "health_check_status_notification"],
    ["free", "http_alert_origin_error"],
    ["pro", "advanced_http_alert_error"],
    ["business", "http_alert_origin_error"],
  ] as const)("%s plan asked for %s: names the plan and the alert", async (plan, type) => {
    const message = await refusal(plan, { emails: ["ops@mycosoft.com"], types: [type] });
    expect(message).toContain(
      `voice-edge:alerts → types.0: ${type} is not available on the ${plan} plan`,
    );
  });

  it.each([
    [0, "Too small: expected number to be >=1"],
    [1441, "Too big: expected number to be <=1440"],
    [2.5, "expected int"],
  ])(
    "busyMinutesBeforeAlert %s (1 to 1440 whole minutes): names the key, the stack file and the bound",
    async (busyMinutesBeforeAlert, bound) => {
      const message = await refusal("free", {
        emails: ["ops@mycosoft.com"],
        busyMinutesBeforeAlert,
      });
      expect(message).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
      expect(message).toContain("voice-edge:alerts → busyMinutesBeforeAlert: ");
      expect(message).toContain(bound);
    },
  );

  it("a policy with no mechanism", async () => {
    const message = await refusal(
      "pro",
      { emails: [] },
      { jwtSecret: SECRETS.jwtSecret, tunnelSecret: SECRETS.tunnelSecret },
    );
    expect(message).toContain("voice-edge:alerts: needs at least one mechanism");
  });

  it("the Free plan's probe without a webhook to notify", async () => {
    const message = await refusal(
      "free",
      { emails: ["ops@mycosoft.com"] },
      { jwtSecret: SECRETS.jwtSecret, tunnelSecret: SECRETS.tunnelSecret },
    );
    expect(message).toContain(
      "voice-edge:alertWebhookUrl: is required because bridge_probe is the free plan's alert on a failing bridge",
    );
  });
});

describe("the alert spec builder (pure, no Pulumi)", () => {
  const prod = loadStackSettings("prod");
  const on = (plan: ZonePlan, alerts: Partial<typeof prod.alerts> = {}) => ({
    ...prod,
    zone: { ...prod.zone, plan },
    alerts: { ...prod.alerts, ...alerts },
  });
  const targets = { tunnelIds: ["tunnel"], serviceTokenId: "token", healthCheckId: "check" };

  it.each([
    ["free", {}, ["alert-tunnel-health-event", "alert-service-token-expiry"]],
    [
      "pro",
      {},
      ["alert-tunnel-health-event", "alert-service-token-expiry", "alert-voice-health-check"],
    ],
    [
      "pro",
      { notifyRecovery: true },
      [
        "alert-tunnel-health-event",
        "alert-tunnel-recovered",
        "alert-service-token-expiry",
        "alert-voice-health-check",
      ],
    ],
    [
      "enterprise",
      {},
      [
        "alert-tunnel-health-event",
        "alert-service-token-expiry",
        "alert-voice-health-check",
        "alert-origin-error-rate",
        "alert-http-error-rate",
      ],
    ],
    ["enterprise", { types: ["expiring_service_token_alert"] }, ["alert-service-token-expiry"]],
  ] as const)("%s with %j: %j", (plan, alerts, names) => {
    expect(
      policySpecs(on(plan, alerts as Partial<typeof prod.alerts>), targets).map(
        (spec) => spec.name,
      ),
    ).toEqual(names);
  });

  it("filters each policy to this service's tunnel, token and health check", () => {
    const specs = Object.fromEntries(
      policySpecs(on("pro"), targets).map((spec) => [spec.name, spec.filters]),
    );
    expect(specs).toEqual({
      "alert-tunnel-health-event": {
        tunnelIds: ["tunnel"],
        newStatuses: ["TUNNEL_STATUS_TYPE_DEGRADED", "TUNNEL_STATUS_TYPE_DOWN"],
      },
      "alert-service-token-expiry": { tokenIds: ["token"] },
      "alert-voice-health-check": { healthCheckIds: ["check"], statuses: ["Unhealthy"] },
    });
  });

  it("describes a Health Check only where its alert type is declared", () => {
    expect(healthCheckArgs(on("free"))).toBeUndefined();
    expect(healthCheckArgs(on("pro", { failuresBeforeAlert: 4 }))).toMatchObject({
      address: "mycosoft.com",
      consecutiveFails: 4,
      httpConfig: { path: "/voice/health" },
    });
  });

  it("refuses a health check policy without the health check to point at", () => {
    expect(() =>
      policySpecs(on("pro"), { tunnelIds: ["tunnel"], serviceTokenId: "token" }),
    ).toThrow("needs targets.healthCheckId");
  });

  it("leaves out mechanisms with nothing in them", () => {
    expect(alertMechanisms({ ...prod.alerts, emails: [], pagerdutyIds: [] }, "hook")).toEqual({
      webhooks: [{ id: "hook" }],
    });
    expect(
      alertMechanisms(
        { ...prod.alerts, emails: ["ops@mycosoft.com"], pagerdutyIds: ["p".repeat(32)] },
        undefined,
      ),
    ).toEqual({ emails: [{ id: "ops@mycosoft.com" }], pagerduties: [{ id: "p".repeat(32) }] });
  });
});

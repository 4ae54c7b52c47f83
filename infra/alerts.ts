import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { HEALTH_PATH } from "../worker/src/routes";
import { ALERT_TYPES, type AlertType } from "./config/planLimits";
import { child, type Scope } from "./childNames";
import { alertTypesOf, type StackSecrets, type StackSettings } from "./config/schema";

export interface AlertTargets {
  tunnelId: pulumi.Input<string>;
  serviceTokenId: pulumi.Input<string>;
}

export interface Alerts {
  webhook?: cloudflare.NotificationPolicyWebhooks;
  healthCheck?: cloudflare.Healthcheck;
  policies: cloudflare.NotificationPolicy[];
}

/** `tunnel_health_event` statuses: trouble, and (only when asked) the way back. */
export const TUNNEL_TROUBLE = ["TUNNEL_STATUS_TYPE_DEGRADED", "TUNNEL_STATUS_TYPE_DOWN"];
export const TUNNEL_RECOVERED = ["TUNNEL_STATUS_TYPE_HEALTHY"];

/** The SLO `http_alert_origin_error` is measured against (the API requires one with the zone). */
export const ORIGIN_ERROR_SLO = "99.9";

/** A standalone Health Check of the public health URL: the same path a client takes (Worker → tunnel → bridge). */
export const HEALTH_CHECK = { intervalSeconds: 60, timeoutSeconds: 5, retries: 1, consecutiveSuccesses: 2 } as const;

interface PolicySpec {
  name: string;
  alertType: string;
  description: string;
  filters: cloudflare.types.input.NotificationPolicyFilters;
}

/**
 * Notification policies for the stack's alert types, each with every configured mechanism (the
 * schema guarantees at least one), narrowed to this service where the alert type has a filter
 * for it. `bridge_probe` is not a Cloudflare notification: see infra/bridgeWatch.ts.
 */
export function alerts(settings: StackSettings, secrets: StackSecrets, targets: AlertTargets, scope: Scope): Alerts {
  const { accountId, alerts: config } = settings;
  const types = new Set<AlertType>(alertTypesOf(settings));
  const zones = [settings.zone.id];

  const webhookChild = child(scope, "alert-webhook", "alert-webhook");
  const webhook = secrets.alertWebhookUrl
    ? new cloudflare.NotificationPolicyWebhooks(
        webhookChild.name,
        {
          accountId,
          name: `${settings.workerName} alerts`,
          url: pulumi.secret(secrets.alertWebhookUrl),
          ...(secrets.alertWebhookSecret ? { secret: pulumi.secret(secrets.alertWebhookSecret) } : {}),
        },
        webhookChild.opts,
      )
    : undefined;
  const mechanisms = {
    ...(config.emails.length > 0 ? { emails: config.emails.map((id) => ({ id })) } : {}),
    ...(webhook ? { webhooks: [{ id: webhook.id }] } : {}),
    ...(config.pagerdutyIds.length > 0 ? { pagerduties: config.pagerdutyIds.map((id) => ({ id })) } : {}),
  };

  const specs: PolicySpec[] = [];
  if (types.has(ALERT_TYPES.tunnel)) {
    specs.push({ name: "alert-tunnel-health-event", alertType: ALERT_TYPES.tunnel, description: "the tunnel to the voice bridge is degraded or down", filters: { tunnelIds: [targets.tunnelId], newStatuses: TUNNEL_TROUBLE } });
    if (config.notifyRecovery) {
      specs.push({ name: "alert-tunnel-recovered", alertType: ALERT_TYPES.tunnel, description: "the tunnel to the voice bridge is healthy again", filters: { tunnelIds: [targets.tunnelId], newStatuses: TUNNEL_RECOVERED } });
    }
  }
  if (types.has(ALERT_TYPES.serviceTokenExpiry)) {
    specs.push({ name: "alert-service-token-expiry", alertType: ALERT_TYPES.serviceTokenExpiry, description: "the edge Worker's Access service token expires soon: rotate it", filters: { tokenIds: [targets.serviceTokenId] } });
  }
  let healthCheck: cloudflare.Healthcheck | undefined;
  if (types.has(ALERT_TYPES.healthCheck)) {
    const healthCheckChild = child(scope, "health-check", "voice-health-check");
    healthCheck = new cloudflare.Healthcheck(
      healthCheckChild.name,
      {
        zoneId: settings.zone.id,
        name: `${settings.workerName}-voice-health`,
        description: `GET https://${settings.publicHostname}${HEALTH_PATH}: the edge Worker, the tunnel and the bridge`,
        address: settings.publicHostname,
        type: "HTTPS",
        httpConfig: { method: "GET", path: HEALTH_PATH, port: 443, expectedCodes: ["200"], followRedirects: false, allowInsecure: false },
        interval: HEALTH_CHECK.intervalSeconds,
        timeout: HEALTH_CHECK.timeoutSeconds,
        retries: HEALTH_CHECK.retries,
        consecutiveFails: config.failuresBeforeAlert,
        consecutiveSuccesses: HEALTH_CHECK.consecutiveSuccesses,
      },
      healthCheckChild.opts,
    );
    specs.push({
      name: "alert-voice-health-check",
      alertType: ALERT_TYPES.healthCheck,
      description: "the voice service's health check is failing (5XX or no answer)",
      filters: { healthCheckIds: [healthCheck.id], statuses: config.notifyRecovery ? ["Unhealthy", "Healthy"] : ["Unhealthy"] },
    });
  }
  if (types.has(ALERT_TYPES.originErrorRate)) {
    specs.push({ name: "alert-origin-error-rate", alertType: ALERT_TYPES.originErrorRate, description: "the zone's origin 5XX error rate is above its SLO", filters: { zones, slos: [ORIGIN_ERROR_SLO] } });
  }
  if (types.has(ALERT_TYPES.advancedErrorRate)) {
    specs.push({ name: "alert-http-error-rate", alertType: ALERT_TYPES.advancedErrorRate, description: "the zone's HTTP error rate is elevated", filters: { zones } });
  }

  const policies = specs.map((spec) => {
    const policyChild = child(scope, spec.name, spec.name);
    return new cloudflare.NotificationPolicy(
      policyChild.name,
      { accountId, name: `${settings.workerName}: ${spec.description}`, description: spec.description, alertType: spec.alertType, enabled: true, mechanisms, filters: spec.filters },
      policyChild.opts,
    );
  });
  return { webhook, healthCheck, policies };
}

import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { HEALTH_PATH } from "../worker/src/routes";
import { ALERT_TYPES, type AlertType } from "./config/planLimits";
import { child, type Scope } from "./childNames";
import { alertTypesOf, type StackSecrets, type StackSettings } from "./config/schema";

export interface AlertTargets {
  /** Every bridge's tunnel: one tunnel-health policy watches them all. */
  tunnelIds: pulumi.Input<string>[];
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
export const HEALTH_CHECK = {
  intervalSeconds: 60,
  timeoutSeconds: 5,
  retries: 1,
  consecutiveSuccesses: 2,
} as const;

/** A notification policy before it is declared: what the pure builder returns. */
export interface PolicySpec {
  /** The child's name after the component's (and its former fixed name). */
  name: string;
  alertType: AlertType;
  description: string;
  filters: cloudflare.types.input.NotificationPolicyFilters;
}

export interface PolicyTargets extends AlertTargets {
  /** The standalone Health Check, when the stack declares one (see `healthCheckArgs`). */
  healthCheckId?: pulumi.Input<string>;
}

/** The standalone Health Check of the public health URL, or undefined when its alert type is not declared. */
export function healthCheckArgs(settings: StackSettings): cloudflare.HealthcheckArgs | undefined {
  if (!alertTypesOf(settings).includes(ALERT_TYPES.healthCheck)) return undefined;
  return {
    zoneId: settings.zone.id,
    name: `${settings.workerName}-voice-health`,
    description: `GET https://${settings.publicHostname}${HEALTH_PATH}: the edge Worker, the tunnel and the bridge`,
    address: settings.publicHostname,
    type: "HTTPS",
    httpConfig: {
      method: "GET",
      path: HEALTH_PATH,
      port: 443,
      expectedCodes: ["200"],
      followRedirects: false,
      allowInsecure: false,
    },
    interval: HEALTH_CHECK.intervalSeconds,
    timeout: HEALTH_CHECK.timeoutSeconds,
    retries: HEALTH_CHECK.retries,
    consecutiveFails: settings.alerts.failuresBeforeAlert,
    consecutiveSuccesses: HEALTH_CHECK.consecutiveSuccesses,
  };
}

/** Every configured mechanism; empty lists are left out (they cause perpetual diffs). */
export function alertMechanisms(
  config: StackSettings["alerts"],
  webhookId: pulumi.Input<string> | undefined,
): cloudflare.types.input.NotificationPolicyMechanisms {
  return {
    ...(config.emails.length > 0 ? { emails: config.emails.map((id) => ({ id })) } : {}),
    ...(webhookId ? { webhooks: [{ id: webhookId }] } : {}),
    ...(config.pagerdutyIds.length > 0
      ? { pagerduties: config.pagerdutyIds.map((id) => ({ id })) }
      : {}),
  };
}

/**
 * The notification policies for the stack's alert types, narrowed to this service where the
 * alert type has a filter for it. Pure: the health check's policy needs `targets.healthCheckId`.
 */
export function policySpecs(settings: StackSettings, targets: PolicyTargets): PolicySpec[] {
  const config = settings.alerts;
  const types = new Set<AlertType>(alertTypesOf(settings));
  const zones = [settings.zone.id];
  const specs: PolicySpec[] = [];
  if (types.has(ALERT_TYPES.tunnel)) {
    specs.push({
      name: "alert-tunnel-health-event",
      alertType: ALERT_TYPES.tunnel,
      description: "the tunnel to the voice bridge is degraded or down",
      filters: { tunnelIds: targets.tunnelIds, newStatuses: TUNNEL_TROUBLE },
    });
    if (config.notifyRecovery) {
      specs.push({
        name: "alert-tunnel-recovered",
        alertType: ALERT_TYPES.tunnel,
        description: "the tunnel to the voice bridge is healthy again",
        filters: { tunnelIds: targets.tunnelIds, newStatuses: TUNNEL_RECOVERED },
      });
    }
  }
  if (types.has(ALERT_TYPES.serviceTokenExpiry)) {
    specs.push({
      name: "alert-service-token-expiry",
      alertType: ALERT_TYPES.serviceTokenExpiry,
      description: "the edge Worker's Access service token expires soon: rotate it",
      filters: { tokenIds: [targets.serviceTokenId] },
    });
  }
  if (types.has(ALERT_TYPES.healthCheck)) {
    if (targets.healthCheckId === undefined)
      throw new Error(
        "policySpecs: health_check_status_notification needs targets.healthCheckId (declare the Health Check first)",
      );
    specs.push({
      name: "alert-voice-health-check",
      alertType: ALERT_TYPES.healthCheck,
      description: "the voice service's health check is failing (5XX or no answer)",
      filters: {
        healthCheckIds: [targets.healthCheckId],
        statuses: config.notifyRecovery ? ["Unhealthy", "Healthy"] : ["Unhealthy"],
      },
    });
  }
  if (types.has(ALERT_TYPES.originErrorRate)) {
    specs.push({
      name: "alert-origin-error-rate",
      alertType: ALERT_TYPES.originErrorRate,
      description: "the zone's origin 5XX error rate is above its SLO",
      filters: { zones, slos: [ORIGIN_ERROR_SLO] },
    });
  }
  if (types.has(ALERT_TYPES.advancedErrorRate)) {
    specs.push({
      name: "alert-http-error-rate",
      alertType: ALERT_TYPES.advancedErrorRate,
      description: "the zone's HTTP error rate is elevated",
      filters: { zones },
    });
  }
  return specs;
}

/**
 * Declares the alerts: the webhook and the Health Check first (the policies refer to them), then
 * one notification policy per spec, each with every configured mechanism (the schema guarantees
 * at least one). `bridge_probe` is not a Cloudflare notification: see infra/bridgeWatch.ts.
 */
export function alerts(
  settings: StackSettings,
  secrets: StackSecrets,
  targets: AlertTargets,
  scope: Scope,
): Alerts {
  const accountId = settings.accountId;
  const webhookChild = child(scope, "alert-webhook", "alert-webhook");
  const webhook =
    secrets.alertWebhookUrl && settings.alerts.cloudflareWebhook
      ? new cloudflare.NotificationPolicyWebhooks(
          webhookChild.name,
          {
            accountId,
            name: `${settings.workerName} alerts`,
            url: pulumi.secret(secrets.alertWebhookUrl),
            ...(secrets.alertWebhookSecret
              ? { secret: pulumi.secret(secrets.alertWebhookSecret) }
              : {}),
          },
          webhookChild.opts,
        )
      : undefined;
  const healthCheckChild = child(scope, "health-check", "voice-health-check");
  const healthCheckSpec = healthCheckArgs(settings);
  const healthCheck = healthCheckSpec
    ? new cloudflare.Healthcheck(healthCheckChild.name, healthCheckSpec, healthCheckChild.opts)
    : undefined;
  const mechanisms = alertMechanisms(settings.alerts, webhook?.id);

  const policies = policySpecs(settings, { ...targets, healthCheckId: healthCheck?.id }).map(
    (spec) => {
      const policyChild = child(scope, spec.name, spec.name);
      return new cloudflare.NotificationPolicy(
        policyChild.name,
        {
          accountId,
          name: `${settings.workerName}: ${spec.description}`,
          description: spec.description,
          alertType: spec.alertType,
          enabled: true,
          mechanisms,
          filters: spec.filters,
        },
        policyChild.opts,
      );
    },
  );
  return { webhook, healthCheck, policies };
}

import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { StackSecrets, StackSettings } from "./config/schema";
import { defaultAlertTypes } from "./config/planLimits";

export interface Alerts {
  webhook?: cloudflare.NotificationPolicyWebhooks;
  policies: cloudflare.NotificationPolicy[];
}

const DESCRIPTIONS: Record<string, string> = {
  tunnel_health_event: "the tunnel to the voice bridge is degraded or down",
  http_alert_origin_error: "the origin's 5XX error rate is elevated",
  advanced_http_alert_error: "HTTP error rate is elevated",
};

/** Notification policies for the plan's alert types, each with every configured mechanism (never none). */
export function alerts(settings: StackSettings, secrets: StackSecrets, tunnelId: pulumi.Output<string>, opts: pulumi.CustomResourceOptions): Alerts {
  const { accountId, alerts: config } = settings;
  const webhook = config.webhookUrl
    ? new cloudflare.NotificationPolicyWebhooks(
        "alert-webhook",
        { accountId, name: `${settings.workerName} alerts`, url: config.webhookUrl, ...(secrets.alertWebhookSecret ? { secret: pulumi.secret(secrets.alertWebhookSecret) } : {}) },
        opts,
      )
    : undefined;
  const mechanisms = {
    ...(config.emails.length > 0 ? { emails: config.emails.map((id) => ({ id })) } : {}),
    ...(webhook ? { webhooks: [{ id: webhook.id }] } : {}),
  };
  const policies = (config.types ?? defaultAlertTypes(settings.zone.plan)).map(
    (alertType) =>
      new cloudflare.NotificationPolicy(
        `alert-${alertType.replace(/_/g, "-")}`,
        {
          accountId,
          name: `${settings.workerName}: ${alertType}`,
          description: DESCRIPTIONS[alertType] ?? alertType,
          alertType,
          enabled: true,
          mechanisms,
          filters: alertType === "tunnel_health_event" ? { tunnelIds: [tunnelId] } : { zones: [settings.zone.id] },
        },
        opts,
      ),
  );
  return { webhook, policies };
}

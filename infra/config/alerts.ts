import { z } from "zod";
import {
  bridgeWatchSettingsSchema,
  userAlertSettingsSchema,
} from "../../worker/src/bridgeWatch/bindings";
import { PROJECT, type Problem } from "./errors";
import { STACK_SECRET_NAMING, type SecretNaming } from "./secrets";
import {
  ALERT_TYPES,
  ALL_ALERT_TYPES,
  defaultAlertTypes,
  PLAN_LIMITS,
  type AlertType,
  type ZonePlan,
} from "./planLimits";

export const alertsSchema = z.strictObject({
  emails: z.array(z.email()).default([]),
  /** PagerDuty destinations connected in the dashboard (Notifications → Destinations), by ID. */
  pagerdutyIds: z
    .array(
      z
        .string()
        .regex(
          /^[0-9a-f-]{32,36}$/,
          "must be a PagerDuty destination ID (Notifications → Destinations)",
        ),
    )
    .default([]),
  /** A Slack URL carries its credential in the path: the webhook is the secret `alertWebhookUrl`. */
  webhookUrl: z
    .unknown()
    .optional()
    .refine(
      (value) => value === undefined,
      `moved to the secret ${PROJECT}:alertWebhookUrl (a Slack webhook URL is a credential): remove it here and run \`pulumi config set --secret ${PROJECT}:alertWebhookUrl <url>\``,
    ),
  /** Alert types to declare; defaults to the strongest set the zone's plan offers. */
  types: z.array(z.enum(ALL_ALERT_TYPES)).min(1).optional(),
  /** Also notify when the tunnel, the health check or the bridge probe recovers. */
  notifyRecovery: bridgeWatchSettingsSchema.shape.notifyRecovery,
  /** Consecutive failures (a minute apart) before the health check or the bridge probe alerts; the bridge watch's own bounds. */
  failuresBeforeAlert: bridgeWatchSettingsSchema.shape.failuresBeforeAlert,
  /** Consecutive minutes with no free bridge before the bridge probe's capacity alert ("add a GPU"); the bridge watch's own bounds. */
  busyMinutesBeforeAlert: bridgeWatchSettingsSchema.shape.busyMinutesBeforeAlert,
  /**
   * The alerts on what users feel (off unless a share is set): the share (0–1) of visitors turned
   * away — busy, unreachable — over the last `turnedAwayMinutes`, from the edge's points; the
   * bridge watch's own bounds.
   */
  turnedAwayShare: userAlertSettingsSchema.shape.turnedAwayShare,
  /** The window both shares are measured over, in minutes. */
  turnedAwayMinutes: userAlertSettingsSchema.shape.turnedAwayMinutes,
  /** Fewer visitors in the window say nothing either way. */
  minVisitors: userAlertSettingsSchema.shape.minVisitors,
  /** With the line: a wait longer than this (seconds) is a long one… */
  waitedLongerThanS: userAlertSettingsSchema.shape.waitedLongerThanS,
  /** …and this share (0–1) of ended waits being long ones alerts. */
  waitedShare: userAlertSettingsSchema.shape.waitedShare,
  /**
   * Whether Cloudflare's own notification policies post to `alertWebhookUrl` too (a webhook
   * destination in the account). `false` where the account refuses webhook destinations: the
   * bridge probe posts to the URL itself either way.
   */
  cloudflareWebhook: z.boolean().default(true),
});

/** What the alert rules read of a stack. */
export interface AlertRuleInput {
  zone: { plan: ZonePlan };
  alerts: {
    types?: readonly AlertType[];
    emails: readonly string[];
    pagerdutyIds: readonly string[];
    cloudflareWebhook?: boolean;
  };
}

/** Whether the webhook secret is set (its value is never read into a message). */
export interface AlertSecretsInput {
  alertWebhookUrl?: unknown;
}

/** What the alerts on what users feel read of a stack. */
export interface UserAlertInput extends AlertRuleInput {
  alerts: AlertRuleInput["alerts"] & {
    turnedAwayShare?: number;
    waitedLongerThanS?: number;
    waitedShare?: number;
  };
  line: { enabled: boolean };
  /** `voice-edge:analytics.dataset`: the points the shares are counted from. */
  analytics?: { dataset?: string };
}

/** The dataset the edge's points go to (`voice-edge:analytics.dataset`), if the stack has one. */
export function analyticsDatasetOf(
  settings: Pick<UserAlertInput, "analytics" | "alerts">,
): string | undefined {
  return settings.analytics?.dataset || undefined;
}

/** The keys of the shares a stack set: each one an alert on what users feel. */
export function userAlertShares(settings: Pick<UserAlertInput, "alerts">): string[] {
  const { turnedAwayShare, waitedShare } = settings.alerts;
  return [
    ...(turnedAwayShare !== undefined ? ["alerts.turnedAwayShare"] : []),
    ...(waitedShare !== undefined ? ["alerts.waitedShare"] : []),
  ];
}

/**
 * The alerts on what users feel need the edge's points (a dataset), the bridge watch that asks
 * them (bridge_probe), and for waits the line and both halves of the rule.
 */
export function validateUserAlerts(settings: UserAlertInput): Problem[] {
  const { waitedLongerThanS, waitedShare } = settings.alerts;
  const problems: Problem[] = [];
  if ((waitedLongerThanS === undefined) !== (waitedShare === undefined)) {
    const [set, missing] =
      waitedShare === undefined
        ? ["waitedLongerThanS", "waitedShare"]
        : ["waitedShare", "waitedLongerThanS"];
    problems.push({
      path: ["alerts", set],
      message: `is set but alerts.${missing} is not: the long-wait alert needs both (a wait longer than waitedLongerThanS seconds, a share of waits from 0 to 1)`,
    });
  }
  if (waitedShare !== undefined && !settings.line.enabled)
    problems.push({
      path: ["alerts", "waitedShare"],
      message: `measures waits in the line, and ${PROJECT}:line.enabled is not true`,
    });
  const shares = userAlertShares(settings);
  if (shares.length === 0) return problems;
  const [first] = shares;
  const path = first.split(".");
  if (!analyticsDatasetOf(settings))
    problems.push({
      path,
      message: `is counted from the edge's points: set ${PROJECT}:analytics.dataset`,
    });
  if (!alertTypesOf(settings).includes(ALERT_TYPES.bridgeProbe))
    problems.push({
      path,
      message: `is checked by the bridge watch, and alerts.types leaves out bridge_probe: add it`,
    });
  return problems;
}

/** The read token goes with the shares: one without the other is a mistake either way. */
export function validateUserAlertToken(
  settings: Pick<UserAlertInput, "alerts">,
  secrets: { analyticsReadToken?: unknown },
  naming: SecretNaming = STACK_SECRET_NAMING,
): Problem[] {
  const shares = userAlertShares(settings);
  if (shares.length > 0 && !secrets.analyticsReadToken)
    return [
      {
        path: ["analyticsReadToken"],
        message: `is required because ${shares.join(" and ")} ${shares.length > 1 ? "are" : "is"} set (the bridge watch reads the points through the SQL API); ${naming.howToSet("analyticsReadToken")} (an API token with Account Analytics: Read)`,
      },
    ];
  if (shares.length === 0 && secrets.analyticsReadToken)
    return [
      {
        path: ["analyticsReadToken"],
        message: "is set but neither alerts.turnedAwayShare nor alerts.waitedShare is",
      },
    ];
  return [];
}

/** The alert types a stack declares: its `alerts.types`, or the strongest set its plan offers. */
export function alertTypesOf(settings: AlertRuleInput): AlertType[] {
  return settings.alerts.types ? [...settings.alerts.types] : defaultAlertTypes(settings.zone.plan);
}

/** Each listed alert type is one the zone's plan offers. */
export function validateAlertTypesForPlan(settings: AlertRuleInput): Problem[] {
  const limits = PLAN_LIMITS[settings.zone.plan];
  return (settings.alerts.types ?? []).flatMap((type, index) =>
    limits.alertTypes.includes(type)
      ? []
      : [
          {
            path: ["alerts", "types", index],
            message: `${type} is not available on the ${settings.zone.plan} plan (allowed: ${limits.alertTypes.join(", ")})`,
          },
        ],
  );
}

/** The bridge probe is the Worker's own, and the Worker can notify only a webhook. */
export function validateBridgeProbeWebhook(
  settings: AlertRuleInput,
  secrets: AlertSecretsInput,
  naming: SecretNaming = STACK_SECRET_NAMING,
): Problem[] {
  if (secrets.alertWebhookUrl || !alertTypesOf(settings).includes(ALERT_TYPES.bridgeProbe))
    return [];
  const why = settings.alerts.types
    ? "alerts.types includes bridge_probe"
    : `bridge_probe is the ${settings.zone.plan} plan's alert on a failing bridge (the plan has no Cloudflare notification for 5XX)`;
  return [
    {
      path: ["alertWebhookUrl"],
      message: `is required because ${why}, and the Worker's probe can notify only a webhook; ${naming.howToSet("alertWebhookUrl")} (a Slack incoming-webhook URL works), or list alerts.types without bridge_probe`,
    },
  ];
}

/** An alert nobody receives is no alert. */
export function validateAlertMechanism(
  settings: AlertRuleInput,
  secrets: AlertSecretsInput,
  naming: SecretNaming = STACK_SECRET_NAMING,
): Problem[] {
  const { emails, pagerdutyIds } = settings.alerts;
  if (emails.length > 0 || pagerdutyIds.length > 0) return [];
  if (settings.alerts.cloudflareWebhook === false) {
    const cloudflareTypes = alertTypesOf(settings).filter(
      (type) => type !== ALERT_TYPES.bridgeProbe,
    );
    // Only the bridge probe is declared: its own rule says whether it has the webhook it needs.
    if (cloudflareTypes.length === 0) return [];
    return [
      {
        path: ["alerts", "cloudflareWebhook"],
        message: `is false, so Cloudflare's notification policies (${cloudflareTypes.join(", ")}) reach nobody: add alerts.emails or alerts.pagerdutyIds, or list alerts.types without them`,
      },
    ];
  }
  if (secrets.alertWebhookUrl) return [];
  return [
    {
      path: ["alerts"],
      message: `needs at least one mechanism: alerts.emails, alerts.pagerdutyIds or the secret ${naming.name("alertWebhookUrl")}`,
    },
  ];
}

/** What each Cloudflare zone plan allows, as far as this program uses it (Cloudflare's "availability by plan" tables). */
export const ZONE_PLANS = ["free", "pro", "business", "enterprise"] as const;
export type ZonePlan = (typeof ZONE_PLANS)[number];

/** Rule-expression fields this program can write, by the name it uses for them. */
export type RateLimitField = "path" | "host";

export const RATE_LIMIT_PERIODS = [10, 60, 120, 300, 600, 3600] as const;

export interface PlanLimits {
  rateLimitRules: number;
  periods: readonly number[];
  mitigationTimeouts: readonly number[];
  fields: readonly RateLimitField[];
  /** Whether `matches` (regular expressions) may appear in rule expressions. */
  regex: boolean;
  /** Alert types the plan offers. */
  alertTypes: readonly AlertType[];
  /** What a stack gets when it names none: the strongest set for a 5XX on the voice service. */
  defaultAlertTypes: readonly AlertType[];
}

/**
 * The alerts a stack can declare. All but `bridge_probe` are Cloudflare notification types
 * (Cloudflare's "Available notifications" table gives the plans); `bridge_probe` is this
 * project's Cron Trigger on the Worker, for the plans that have no Cloudflare alert on 5XX.
 */
export const ALERT_TYPES = {
  /** The tunnel to the bridge is degraded or down (Zero Trust, every plan). */
  tunnel: "tunnel_health_event",
  /** The Worker's Access service token expires soon (Access, every plan). */
  serviceTokenExpiry: "expiring_service_token_alert",
  /** A standalone Health Check of `https://<publicHostname>/voice/health` turns unhealthy (Pro and up). */
  healthCheck: "health_check_status_notification",
  /** The zone's origin error rate (5XX) is elevated (Enterprise). */
  originErrorRate: "http_alert_origin_error",
  /** The zone's HTTP error rate is elevated (Enterprise). */
  advancedErrorRate: "advanced_http_alert_error",
  /** The Worker probes the bridge every minute and notifies the webhook (any plan; the Free plan's 5XX alert). */
  bridgeProbe: "bridge_probe",
} as const;
export type AlertType = (typeof ALERT_TYPES)[keyof typeof ALERT_TYPES];
export const ALL_ALERT_TYPES = Object.values(ALERT_TYPES) as [AlertType, ...AlertType[]];

const { tunnel, serviceTokenExpiry, healthCheck, originErrorRate, advancedErrorRate, bridgeProbe } =
  ALERT_TYPES;

export const PLAN_LIMITS: Record<ZonePlan, PlanLimits> = {
  free: {
    rateLimitRules: 1,
    periods: [10],
    mitigationTimeouts: [10],
    fields: ["path"],
    regex: false,
    alertTypes: [tunnel, serviceTokenExpiry, bridgeProbe],
    defaultAlertTypes: [tunnel, serviceTokenExpiry, bridgeProbe],
  },
  pro: {
    rateLimitRules: 2,
    periods: [10, 60],
    mitigationTimeouts: [10, 60, 3600],
    fields: ["path", "host"],
    regex: false,
    alertTypes: [tunnel, serviceTokenExpiry, healthCheck, bridgeProbe],
    defaultAlertTypes: [tunnel, serviceTokenExpiry, healthCheck],
  },
  business: {
    rateLimitRules: 5,
    periods: [10, 60, 120, 300, 600],
    mitigationTimeouts: [10, 60, 120, 300, 600, 3600, 86400],
    fields: ["path", "host"],
    regex: true,
    alertTypes: [tunnel, serviceTokenExpiry, healthCheck, bridgeProbe],
    defaultAlertTypes: [tunnel, serviceTokenExpiry, healthCheck],
  },
  enterprise: {
    rateLimitRules: 100,
    periods: RATE_LIMIT_PERIODS,
    mitigationTimeouts: [10, 60, 120, 300, 600, 3600, 86400],
    fields: ["path", "host"],
    regex: true,
    alertTypes: [
      tunnel,
      serviceTokenExpiry,
      healthCheck,
      originErrorRate,
      advancedErrorRate,
      bridgeProbe,
    ],
    defaultAlertTypes: [
      tunnel,
      serviceTokenExpiry,
      healthCheck,
      originErrorRate,
      advancedErrorRate,
    ],
  },
};

/** The alert types a stack gets when it names none: the strongest set its plan offers. */
export function defaultAlertTypes(plan: ZonePlan): AlertType[] {
  return [...PLAN_LIMITS[plan].defaultAlertTypes];
}

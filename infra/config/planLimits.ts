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
  alertTypes: readonly string[];
}

const TUNNEL_HEALTH = "tunnel_health_event";
export const ORIGIN_ERROR_RATE = "http_alert_origin_error";

export const PLAN_LIMITS: Record<ZonePlan, PlanLimits> = {
  free: { rateLimitRules: 1, periods: [10], mitigationTimeouts: [10], fields: ["path"], regex: false, alertTypes: [TUNNEL_HEALTH] },
  pro: { rateLimitRules: 2, periods: [10, 60], mitigationTimeouts: [10, 60, 3600], fields: ["path", "host"], regex: false, alertTypes: [TUNNEL_HEALTH] },
  business: {
    rateLimitRules: 5,
    periods: [10, 60, 120, 300, 600],
    mitigationTimeouts: [10, 60, 120, 300, 600, 3600, 86400],
    fields: ["path", "host"],
    regex: true,
    alertTypes: [TUNNEL_HEALTH],
  },
  enterprise: {
    rateLimitRules: 100,
    periods: RATE_LIMIT_PERIODS,
    mitigationTimeouts: [10, 60, 120, 300, 600, 3600, 86400],
    fields: ["path", "host"],
    regex: true,
    alertTypes: [TUNNEL_HEALTH, ORIGIN_ERROR_RATE, "advanced_http_alert_error"],
  },
};

/** The alert types a stack gets when it names none: everything its plan offers. */
export function defaultAlertTypes(plan: ZonePlan): string[] {
  return [...PLAN_LIMITS[plan].alertTypes];
}

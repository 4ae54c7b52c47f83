import { z } from "zod";
import { HEALTH_PATH, WS_PATH } from "../../worker/src/routes";
import { fieldsUsed, isManagedRuleRef, MANAGED_RULE_REF_PREFIX } from "../rateLimitExpression";
import type { Problem } from "./errors";
import { hostname, urlPath } from "./fields";
import { PLAN_LIMITS, RATE_LIMIT_PERIODS, type ZonePlan } from "./planLimits";

const rateLimitRuleSchema = z.strictObject({
  description: z.string().min(1).default("voice upgrades and health checks per IP"),
  /** The paths counted together: the WebSocket upgrades and the health endpoint by default. */
  paths: z.array(urlPath).min(1).default([WS_PATH, HEALTH_PATH]),
  /** Restrict the rule to these hosts (needs Pro or higher); empty covers every host on the zone. */
  hosts: z.array(hostname).default([]),
  requestsPerPeriod: z.int().min(1).max(1_000_000).default(10),
  period: z
    .int()
    .refine(
      (period) => (RATE_LIMIT_PERIODS as readonly number[]).includes(period),
      `must be one of ${RATE_LIMIT_PERIODS.join(", ")} seconds`,
    )
    .default(10),
  mitigationTimeout: z.int().min(0).max(86_400).default(10),
});

/**
 * A rate-limiting rule that is already on the zone and not this project's: the zone owner's
 * ruleset carries it unchanged (same `ref`, so Cloudflare keeps the rule), because the Ruleset
 * resource owns every rule of the zone's entry point. `npm run preflight -- --carry-rules` prints
 * these from the zone in this form.
 */
export const keptRateLimitRuleSchema = z.strictObject({
  ref: z
    .string()
    .min(1)
    .refine(
      (ref) => !isManagedRuleRef(ref),
      `must not start with ${MANAGED_RULE_REF_PREFIX}: that prefix marks this project's own rules`,
    ),
  description: z.string().optional(),
  expression: z.string().min(1),
  action: z.enum(["block", "challenge", "js_challenge", "managed_challenge", "log"]),
  enabled: z.boolean().default(true),
  /** As the zone has it (e.g. a custom block `response`), in the provider's camelCase. */
  actionParameters: z.record(z.string(), z.unknown()).optional(),
  ratelimit: z.strictObject({
    characteristics: z.array(z.string()).min(1),
    period: z.int().positive(),
    requestsPerPeriod: z.int().positive().optional(),
    mitigationTimeout: z.int().min(0).optional(),
    countingExpression: z.string().optional(),
    requestsToOrigin: z.boolean().optional(),
    scorePerPeriod: z.int().positive().optional(),
    scoreResponseHeaderName: z.string().optional(),
  }),
});
export type KeptRateLimitRule = z.infer<typeof keptRateLimitRuleSchema>;

export const rateLimitSchema = z.strictObject({
  rules: z.array(rateLimitRuleSchema).min(1),
  keepRules: z.array(keptRateLimitRuleSchema).default([]),
  /**
   * The ID of the zone's existing `http_ratelimit` entry-point ruleset, for the `pulumi up` that
   * adopts it into the stack (imported, then updated to keepRules + rules); remove it afterwards.
   */
  adoptRulesetId: z
    .string()
    .regex(
      /^[0-9a-f]{32}$/,
      "must be the ruleset ID: 32 lowercase hex characters (npm run preflight prints it)",
    )
    .optional(),
});

export type RateLimitSettings = z.infer<typeof rateLimitSchema>;
type RateLimitRule = RateLimitSettings["rules"][number];

/** What the rate-limit rules read of a stack. */
export interface RateLimitRuleInput {
  zone: { plan: ZonePlan; owner: boolean };
  rateLimit?: {
    rules: readonly Pick<RateLimitRule, "period" | "mitigationTimeout" | "paths" | "hosts">[];
    keepRules: readonly Pick<KeptRateLimitRule, "ref">[];
  };
}

/** The zone has one `http_ratelimit` entry point, declared by the stack that owns the zone. */
export function validateRateLimitOwnership(settings: RateLimitRuleInput): Problem[] {
  if (!settings.rateLimit || settings.zone.owner) return [];
  return [
    {
      path: ["rateLimit"],
      message:
        "only the stack with zone.owner: true declares the zone's rate-limit ruleset; move these rules there",
    },
  ];
}

/** This project's rules and the kept ones share the plan's rule count. */
export function validateRateLimitRuleCount(settings: RateLimitRuleInput): Problem[] {
  const rules = settings.rateLimit?.rules ?? [];
  const kept = settings.rateLimit?.keepRules ?? [];
  const allowed = PLAN_LIMITS[settings.zone.plan].rateLimitRules;
  if (rules.length + kept.length <= allowed) return [];
  const keptText =
    kept.length > 0
      ? ` and keepRules ${kept.length} (${kept.length + rules.length} in the zone's ruleset)`
      : "";
  return [
    {
      path: ["rateLimit", "rules"],
      message: `has ${rules.length} rules${keptText}; the ${settings.zone.plan} plan allows ${allowed}`,
    },
  ];
}

/** A ruleset's refs are unique: a second rule with the same ref would replace the first. */
export function validateKeptRuleRefs(settings: RateLimitRuleInput): Problem[] {
  const refs = (settings.rateLimit?.keepRules ?? []).map((rule) => rule.ref);
  return refs.flatMap((ref, index) =>
    refs.indexOf(ref) === index
      ? []
      : [
          {
            path: ["rateLimit", "keepRules", index, "ref"],
            message: `${ref} appears twice; refs are unique within a ruleset`,
          },
        ],
  );
}

/** Each rule's period, mitigation timeout and expression fields are ones the zone's plan offers. */
export function validateRateLimitRulesForPlan(settings: RateLimitRuleInput): Problem[] {
  const limits = PLAN_LIMITS[settings.zone.plan];
  const plan = `the ${settings.zone.plan} plan`;
  return (settings.rateLimit?.rules ?? []).flatMap((rule, index) => {
    const at = (key: string) => ["rateLimit", "rules", index, key];
    const problems: Problem[] = [];
    if (!limits.periods.includes(rule.period))
      problems.push({
        path: at("period"),
        message: `${rule.period} s is not available on ${plan} (allowed: ${limits.periods.join(", ")})`,
      });
    if (!limits.mitigationTimeouts.includes(rule.mitigationTimeout)) {
      problems.push({
        path: at("mitigationTimeout"),
        message: `${rule.mitigationTimeout} s is not available on ${plan} (allowed: ${limits.mitigationTimeouts.join(", ")})`,
      });
    }
    for (const field of fieldsUsed(rule)) {
      if (!limits.fields.includes(field)) {
        problems.push({
          path: at(field === "host" ? "hosts" : field),
          message: `the ${field} field is not available in rate-limit expressions on ${plan} (allowed: ${limits.fields.join(", ")})`,
        });
      }
    }
    return problems;
  });
}

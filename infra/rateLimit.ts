import * as cloudflare from "@pulumi/cloudflare";
import { child, type Scope } from "./childNames";
import type { KeptRateLimitRule, StackSettings } from "./config/schema";
import { managedRuleRef, rateLimitExpression } from "./rateLimitExpression";

/** Counted per client IP per Cloudflare data centre; `cf.colo.id` is required on every plan. */
export const RATE_LIMIT_CHARACTERISTICS = ["ip.src", "cf.colo.id"];

export const RATE_LIMIT_RULESET_NAME = "voice-edge rate limits";

type RateLimitSettings = NonNullable<StackSettings["rateLimit"]>;

/**
 * Every rule of the zone's `http_ratelimit` entry point: the rules already on the zone that the
 * stack keeps (first, unchanged, so they apply as before), then this project's own.
 */
export function rateLimitRules(rateLimit: RateLimitSettings): cloudflare.types.input.RulesetRule[] {
  const kept = rateLimit.keepRules.map((rule: KeptRateLimitRule) => ({ ...rule }));
  const own = rateLimit.rules.map((rule, index) => ({
    ref: managedRuleRef(index),
    action: "block",
    description: rule.description,
    enabled: true,
    expression: rateLimitExpression(rule),
    ratelimit: {
      characteristics: RATE_LIMIT_CHARACTERISTICS,
      period: rule.period,
      requestsPerPeriod: rule.requestsPerPeriod,
      mitigationTimeout: rule.mitigationTimeout,
    },
  }));
  return [...kept, ...own];
}

/** The provider's import ID for a zone ruleset. */
export function rulesetImportId(zoneId: string, rulesetId: string): string {
  return `zones/${zoneId}/${rulesetId}`;
}

/**
 * The zone's `http_ratelimit` entry-point ruleset, declared only by the zone-owning stack. It owns
 * every rule in that entry point, which is why rules already on the zone are carried in config.
 * With `adoptRulesetId`, the existing entry point is imported instead of created (which Cloudflare
 * would refuse) and, in the same `up`, updated to the kept rules plus this project's: the Pulumi
 * CLI imports a resource whose inputs differ and then updates it (pulumi/pulumi#19339).
 * A ruleset that holds rules this project did not create is never deleted by `pulumi destroy`.
 */
export function rateLimitRuleset(
  settings: StackSettings,
  scope: Scope,
): cloudflare.Ruleset | undefined {
  if (!settings.zone.owner || !settings.rateLimit) return undefined;
  const adopt = settings.rateLimit.adoptRulesetId;
  const { name, opts } = child(scope, "rate-limit", "rate-limit", {
    // Deleting the entry point would delete the kept rules too: `pulumi destroy` leaves it.
    ...(settings.rateLimit.keepRules.length > 0 || adopt ? { retainOnDelete: true } : {}),
    ...(adopt ? { import: rulesetImportId(settings.zone.id, adopt) } : {}),
  });
  return new cloudflare.Ruleset(
    name,
    {
      zoneId: settings.zone.id,
      kind: "zone",
      phase: "http_ratelimit",
      name: RATE_LIMIT_RULESET_NAME,
      description: "Managed by the voice-edge Pulumi project (the zone-owning stack)",
      rules: rateLimitRules(settings.rateLimit),
    },
    opts,
  );
}

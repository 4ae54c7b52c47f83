import * as cloudflare from "@pulumi/cloudflare";
import type * as pulumi from "@pulumi/pulumi";
import type { StackSettings } from "./config/schema";
import { rateLimitExpression } from "./rateLimitExpression";

/** Counted per client IP per Cloudflare data centre; `cf.colo.id` is required on every plan. */
export const RATE_LIMIT_CHARACTERISTICS = ["ip.src", "cf.colo.id"];

/** The zone's `http_ratelimit` entry-point ruleset, declared only by the zone-owning stack. */
export function rateLimitRuleset(settings: StackSettings, opts: pulumi.CustomResourceOptions): cloudflare.Ruleset | undefined {
  if (!settings.zone.owner || !settings.rateLimit) return undefined;
  return new cloudflare.Ruleset(
    "rate-limit",
    {
      zoneId: settings.zone.id,
      kind: "zone",
      phase: "http_ratelimit",
      name: "voice-edge rate limits",
      description: "Managed by the voice-edge Pulumi project (the zone-owning stack)",
      rules: settings.rateLimit.rules.map((rule) => ({
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
      })),
    },
    opts,
  );
}

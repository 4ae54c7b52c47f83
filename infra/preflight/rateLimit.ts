import type Cloudflare from "cloudflare";
import { stringify } from "yaml";
import {
  keptRateLimitRuleSchema,
  type KeptRateLimitRule,
  type StackSettings,
} from "../config/schema";
import { PLAN_LIMITS, ZONE_PLANS } from "../config/planLimits";
import { isManagedRuleRef } from "../rateLimitExpression";
import { stackFileName } from "../config/stackFiles";
import type { Check } from "./check";
import { requiredPermission } from "./permissions";
import { isNotFound, ok, problem, warning } from "./result";

const CHECK = "rate-limit";

/** A rule of a ruleset as the API returns it (snake_case). */
export interface ApiRule {
  id?: string;
  ref?: string;
  description?: string;
  expression?: string;
  action?: string;
  enabled?: boolean;
  action_parameters?: Record<string, unknown>;
  ratelimit?: Record<string, unknown>;
}

export interface EntryPoint {
  id: string;
  rules: ApiRule[];
}

/** The zone's `http_ratelimit` entry point, or undefined when the zone has none (404). */
export async function rateLimitEntryPoint(
  client: Cloudflare,
  zoneId: string,
): Promise<EntryPoint | undefined> {
  try {
    const ruleset = await client.rulesets.phases.get("http_ratelimit", { zone_id: zoneId });
    return { id: ruleset.id, rules: (ruleset.rules ?? []) as ApiRule[] };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

const camel = (key: string) =>
  key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [camel(key), camelKeys(inner)]),
    );
  return value;
}

/** An API rule in the provider's camelCase form that `keepRules` takes; parsed with the stack schema, so what it returns is what the stack accepts. */
export function keptRuleFromApi(rule: ApiRule): KeptRateLimitRule {
  return keptRateLimitRuleSchema.parse({
    ref: rule.ref,
    ...(rule.description ? { description: rule.description } : {}),
    expression: rule.expression,
    action: rule.action,
    enabled: rule.enabled ?? true,
    ...(rule.action_parameters && Object.keys(rule.action_parameters).length > 0
      ? { actionParameters: camelKeys(rule.action_parameters) }
      : {}),
    ratelimit: camelKeys(rule.ratelimit ?? {}),
  });
}

const describeRule = (rule: ApiRule) =>
  `${rule.ref ?? rule.id ?? "(no ref)"}${rule.description ? ` "${rule.description}"` : ""}`;

/** Rules in the entry point that are neither this project's nor carried in `keepRules`. */
export function foreignRules(entryPoint: EntryPoint, settings: StackSettings): ApiRule[] {
  const kept = new Set((settings.rateLimit?.keepRules ?? []).map((rule) => rule.ref));
  return entryPoint.rules.filter(
    (rule) => !isManagedRuleRef(rule.ref) && !(rule.ref !== undefined && kept.has(rule.ref)),
  );
}

export interface CarriedRules {
  keepRules: KeptRateLimitRule[];
  /** Set while the entry point holds none of this project's rules: the first `up` must adopt it. */
  adoptRulesetId?: string;
}

/** What `--carry-rules` prints: every rule of the entry point that is not this project's, and the ruleset to adopt. */
export function carriedRules(entryPoint: EntryPoint): CarriedRules {
  const own = entryPoint.rules.filter((rule) => isManagedRuleRef(rule.ref));
  const keepRules = entryPoint.rules
    .filter((rule) => !isManagedRuleRef(rule.ref))
    .map(keptRuleFromApi);
  return own.length > 0 ? { keepRules } : { keepRules, adoptRulesetId: entryPoint.id };
}

/** The `keepRules:` block (and `adoptRulesetId:`) to paste under `voice-edge:rateLimit`, as YAML. */
export function carriedRulesYaml(stack: string, carried: CarriedRules): string {
  const header = `# paste under voice-edge:rateLimit in ${stackFileName(stack)} (next to its rules:), run \`pulumi up\` once, then remove adoptRulesetId\n`;
  return header + stringify(carried);
}

/**
 * When carrying `toCarry` rules (besides the stack's own and the `kept` ones) would exceed the
 * plan's rate-limiting rule count — the schema would refuse the pasted block — why, and the fixes
 * that fit the zone's plan. Undefined when they fit.
 */
export function carryOverflow(
  settings: Pick<StackSettings, "zone" | "rateLimit">,
  stack: string,
  entryPointId: string,
  counts: { kept: number; toCarry: number },
): { message: string; action: string } | undefined {
  const own = settings.rateLimit?.rules.length ?? 0;
  const needed = own + counts.kept + counts.toCarry;
  const allowed = PLAN_LIMITS[settings.zone.plan].rateLimitRules;
  if (needed <= allowed) return undefined;
  const file = stackFileName(stack);
  const plan = ZONE_PLANS.find((p) => PLAN_LIMITS[p].rateLimitRules >= needed);
  const rules = counts.toCarry > 1 ? "those rules" : "that rule";
  return {
    message: `carrying ${counts.toCarry > 1 ? "them" : "it"} does not fit: the ${settings.zone.plan} plan allows ${allowed} rate-limiting rule(s), and this stack would need ${needed} (${own} of its own${counts.kept > 0 ? `, ${counts.kept} in keepRules` : ""}, ${counts.toCarry} to carry)`,
    action: [
      `delete ${rules} (dashboard → ${settings.zone.name} → Security → WAF → Rate limiting rules), then set voice-edge:rateLimit → adoptRulesetId: ${entryPointId} in ${file} for the first \`pulumi up\``,
      `or keep ${rules} and remove voice-edge:rateLimit from ${file} (this stack then declares no rate-limiting rules, and the voice paths are not rate-limited)`,
      ...(plan
        ? [
            `or move ${settings.zone.name} to the ${plan} plan (and set voice-edge:zone → plan: ${plan}), then carry ${rules} with --carry-rules`,
          ]
        : []),
    ].join("; "),
  };
}

export const rateLimitCheck: Check = {
  name: CHECK,
  reading: "the zone's http_ratelimit entry point",
  permission: requiredPermission("Zone WAF Write"),
  async run({ client, stack, settings }) {
    if (!settings.zone.owner)
      return [
        ok(
          CHECK,
          `zone.owner is false: the owner stack of ${settings.zone.name} manages the http_ratelimit entry point`,
        ),
      ];
    const rateLimit = settings.rateLimit;
    if (!rateLimit)
      return [
        ok(CHECK, "voice-edge:rateLimit is not set: this stack declares no rate-limit ruleset"),
      ];
    const entryPoint = await rateLimitEntryPoint(client, settings.zone.id);
    if (!entryPoint)
      return [
        ok(
          CHECK,
          `${settings.zone.name} has no http_ratelimit entry point yet: \`pulumi up\` creates it`,
        ),
      ];

    const file = stackFileName(stack);
    const own = entryPoint.rules.filter((rule) => isManagedRuleRef(rule.ref));
    const foreign = foreignRules(entryPoint, settings);
    const adopt = rateLimit.adoptRulesetId;
    if (foreign.length > 0) {
      const found = `the zone's http_ratelimit entry point ${entryPoint.id} has ${foreign.length} rule(s) this stack neither manages nor carries (the stack's ruleset would delete them): ${foreign.map(describeRule).join(", ")}`;
      const overflow = carryOverflow(settings, stack, entryPoint.id, {
        kept: rateLimit.keepRules.length,
        toCarry: foreign.length,
      });
      if (!overflow)
        return [
          problem(
            CHECK,
            found,
            `run \`npm run preflight -- --stack ${stack} --carry-rules\`, paste what it prints under voice-edge:rateLimit in ${file}, \`pulumi up\` once, then remove adoptRulesetId`,
          ),
        ];
      return [problem(CHECK, `${found}; ${overflow.message}`, overflow.action)];
    }
    if (adopt && adopt !== entryPoint.id) {
      return [
        problem(
          CHECK,
          `rateLimit.adoptRulesetId is ${adopt}, but the zone's http_ratelimit entry point is ${entryPoint.id}`,
          `set voice-edge:rateLimit → adoptRulesetId: ${entryPoint.id} in ${file}`,
        ),
      ];
    }
    if (own.length === 0 && !adopt) {
      return [
        problem(
          CHECK,
          `the zone already has an http_ratelimit entry point (${entryPoint.id}, ${entryPoint.rules.length} rule(s)) holding none of this project's rules, and Cloudflare refuses to create a second one`,
          `set voice-edge:rateLimit → adoptRulesetId: ${entryPoint.id} in ${file} for the first \`pulumi up\`, then remove it`,
        ),
      ];
    }
    if (own.length > 0 && adopt) {
      return [
        warning(
          CHECK,
          `adopted: the entry point ${entryPoint.id} already holds this project's rules`,
          `remove voice-edge:rateLimit → adoptRulesetId from ${file}`,
        ),
      ];
    }
    const carried = entryPoint.rules.length - own.length;
    return [
      ok(
        CHECK,
        `entry point ${entryPoint.id}: ${own.length} rule(s) of this project, ${carried} carried in keepRules${adopt ? "; the next `pulumi up` adopts it" : ""}`,
      ),
    ];
  },
};

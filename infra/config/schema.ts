import { z } from "zod";
import { edgeSettingsSchema, isHmacAlgorithm } from "../../worker/src/bindings";
import { HEALTH_PATH, WS_PATH } from "../../worker/src/routes";
import { fieldsUsed, isManagedRuleRef, MANAGED_RULE_REF_PREFIX } from "../rateLimitExpression";
import { ALERT_TYPES, ALL_ALERT_TYPES, defaultAlertTypes, PLAN_LIMITS, RATE_LIMIT_PERIODS, ZONE_PLANS, type AlertType } from "./planLimits";
import { KNOWN_ZONE_SETTINGS, ZONE_SETTING_VALUES, type ZoneSettingId, type ZoneSettingValue } from "./zoneSettingValues";

/** The Pulumi project, and so the namespace of every key below (`voice-edge:<key>`). */
export const PROJECT = "voice-edge";

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "must be a lowercase DNS hostname such as mycosoft.com");
const cloudflareId = (what: string) => z.string().regex(/^[0-9a-f]{32}$/, `must be the ${what}: 32 lowercase hex characters (Cloudflare dashboard → Overview)`);
const urlPath = z.string().regex(/^\/[A-Za-z0-9._~\-/]*$/, "must be a URL path starting with /");

/** What the voice service needs from the zone: WebSockets, SSL Full (strict), HTTPS only. */
export const REQUIRED_ZONE_SETTINGS = { websockets: "on", ssl: "strict", always_use_https: "on" } as const;

const zoneSchema = z.strictObject({
  id: cloudflareId("zone ID"),
  name: hostname,
  plan: z.enum(ZONE_PLANS),
  /**
   * Whether this stack declares the zone-wide resources (zone settings, the zone's one
   * `http_ratelimit` ruleset). Exactly one stack per zone may.
   */
  owner: z.boolean(),
  /** Zone settings beyond the three the service needs, e.g. `min_tls_version: "1.2"`, `http3: "on"`, in the API's value forms. */
  extraSettings: z
    .record(z.string(), z.unknown())
    .default({})
    .transform((values, ctx) => {
      const settings: Partial<Record<ZoneSettingId, ZoneSettingValue>> = {};
      for (const [id, value] of Object.entries(values)) {
        if (id in REQUIRED_ZONE_SETTINGS) {
          ctx.addIssue({ code: "custom", path: [id], input: value, message: `is fixed by the service (${id}: ${REQUIRED_ZONE_SETTINGS[id as keyof typeof REQUIRED_ZONE_SETTINGS]}); remove it` });
          continue;
        }
        const schema = ZONE_SETTING_VALUES[id as ZoneSettingId] as z.ZodType<ZoneSettingValue> | undefined;
        if (!schema) {
          ctx.addIssue({ code: "custom", path: [id], input: value, message: `is not a zone setting this program knows; known: ${KNOWN_ZONE_SETTINGS.join(", ")}` });
          continue;
        }
        const parsed = schema.safeParse(value);
        if (parsed.success) settings[id as ZoneSettingId] = parsed.data;
        else ctx.addIssue({ code: "custom", path: [id], input: value, message: `${parsed.error.issues[0].message} (got ${JSON.stringify(value)})` });
      }
      return settings;
    }),
  /**
   * How the zone normalizes URLs before rules see them (`UrlNormalizationSettings`, zone owner
   * only). The rate limit matches `/voice/ws` exactly, so `/voice/./ws` must arrive normalized.
   */
  urlNormalization: z
    .strictObject({
      type: z.enum(["cloudflare", "rfc3986"]).default("cloudflare"),
      scope: z.enum(["incoming", "both"], { error: 'must be "incoming" or "both" ("none" would let /voice/./ws past the rate limit)' }).default("incoming"),
    })
    .default({ type: "cloudflare", scope: "incoming" }),
});

const rateLimitRuleSchema = z.strictObject({
  description: z.string().min(1).default("voice upgrades and health checks per IP"),
  /** The paths counted together: the WebSocket upgrades and the health endpoint by default. */
  paths: z.array(urlPath).min(1).default([WS_PATH, HEALTH_PATH]),
  /** Restrict the rule to these hosts (needs Pro or higher); empty covers every host on the zone. */
  hosts: z.array(hostname).default([]),
  requestsPerPeriod: z.int().min(1).max(1_000_000).default(10),
  period: z
    .int()
    .refine((period) => (RATE_LIMIT_PERIODS as readonly number[]).includes(period), `must be one of ${RATE_LIMIT_PERIODS.join(", ")} seconds`)
    .default(10),
  mitigationTimeout: z.int().min(0).max(86_400).default(10),
});

/** cloudflared's ingress `service` is an origin: a path there is refused by cloudflared when the tunnel config loads. */
export function bridgeServiceProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined; // the URL check itself reports it
  const url = new URL(value);
  if (url.username || url.password) return "must not carry a user name or password";
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    return `must be scheme, host and port only, e.g. ${url.protocol}//${url.host}: cloudflared ingress rules cannot proxy to a path; the path (${url.pathname}${url.search}) belongs in tunnel.bridgePath`;
  }
  return undefined;
}

/**
 * A rate-limiting rule that is already on the zone and not this project's: the zone owner's
 * ruleset carries it unchanged (same `ref`, so Cloudflare keeps the rule), because the Ruleset
 * resource owns every rule of the zone's entry point. `npm run preflight -- --carry-rules` prints
 * these from the zone in this form.
 */
export const keptRateLimitRuleSchema = z.strictObject({
  ref: z.string().min(1).refine((ref) => !isManagedRuleRef(ref), `must not start with ${MANAGED_RULE_REF_PREFIX}: that prefix marks this project's own rules`),
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

const rateLimitSchema = z.strictObject({
  rules: z.array(rateLimitRuleSchema).min(1),
  keepRules: z.array(keptRateLimitRuleSchema).default([]),
  /**
   * The ID of the zone's existing `http_ratelimit` entry-point ruleset, for the `pulumi up` that
   * adopts it into the stack (imported, then updated to keepRules + rules); remove it afterwards.
   */
  adoptRulesetId: z.string().regex(/^[0-9a-f]{32}$/, "must be the ruleset ID: 32 lowercase hex characters (npm run preflight prints it)").optional(),
});

/** The Access service token the Worker presents to the origin hostname; rotated through config. */
const accessServiceTokenSchema = z.strictObject({
  /** How long the token lives, in Go duration form (`8760h` = a year) or `forever`. */
  duration: z.string().regex(/^(forever|(\d+(ns|us|µs|ms|s|m|h))+)$/, "must be a duration such as 8760h or 2h45m, or forever").default("8760h"),
  /** Raise by one to rotate the client secret; the previous one keeps working until previousClientSecretExpiresAt. */
  clientSecretVersion: z.int().min(1).default(1),
  previousClientSecretExpiresAt: z.iso.datetime({ offset: true, error: "must be an RFC 3339 time such as 2026-12-01T12:00:00Z" }).optional(),
});

const tunnelSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/).optional(),
  /** Public hostname of the bridge behind the tunnel; locked to the Worker by Access. */
  originHostname: hostname,
  /** Where cloudflared on the bridge's VM finds the bridge, e.g. http://192.168.0.188:8999. */
  bridgeService: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL such as http://192.168.0.188:8999" }).superRefine((value, ctx) => {
    const problem = bridgeServiceProblem(value);
    if (problem) ctx.addIssue({ code: "custom", input: value, message: problem });
  }),
  bridgePath: urlPath.default("/api/chat"),
  healthPath: urlPath.default("/health"),
});

const alertsSchema = z.strictObject({
  emails: z.array(z.email()).default([]),
  /** PagerDuty destinations connected in the dashboard (Notifications → Destinations), by ID. */
  pagerdutyIds: z.array(z.string().regex(/^[0-9a-f-]{32,36}$/, "must be a PagerDuty destination ID (Notifications → Destinations)")).default([]),
  /** A Slack URL carries its credential in the path: the webhook is the secret `alertWebhookUrl`. */
  webhookUrl: z.unknown().optional().refine((value) => value === undefined, "moved to the secret voice-edge:alertWebhookUrl (a Slack webhook URL is a credential): remove it here and run `pulumi config set --secret voice-edge:alertWebhookUrl <url>`"),
  /** Alert types to declare; defaults to the strongest set the zone's plan offers. */
  types: z.array(z.enum(ALL_ALERT_TYPES)).min(1).optional(),
  /** Also notify when the tunnel, the health check or the bridge probe recovers. */
  notifyRecovery: z.boolean().default(false),
  /** Consecutive failures (a minute apart) before the health check or the bridge probe alerts. */
  failuresBeforeAlert: z.int().min(1).max(30).default(3),
});

export const stackSettingsSchema = z
  .strictObject({
    accountId: cloudflareId("account ID"),
    zone: zoneSchema,
    /** The site whose `/voice/*` the Worker serves. */
    publicHostname: hostname,
    /** `existing`: the hostname's record is managed elsewhere (e.g. the website). `worker-only`: this stack adds a proxied AAAA 100::. */
    publicDns: z.enum(["existing", "worker-only"]).default("existing"),
    workerName: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be lowercase letters, digits and dashes (a Worker script name)"),
    compatibilityDate: z.iso.date("must be a date written YYYY-MM-DD"),
    edge: edgeSettingsSchema,
    tunnel: tunnelSchema,
    rateLimit: rateLimitSchema.optional(),
    accessServiceToken: accessServiceTokenSchema.default({ duration: "8760h", clientSecretVersion: 1 }),
    alerts: alertsSchema,
  })
  .superRefine((stack, ctx) => {
    const inZone = (host: string) => host === stack.zone.name || host.endsWith(`.${stack.zone.name}`);
    const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    const limits = PLAN_LIMITS[stack.zone.plan];
    const plan = `the ${stack.zone.plan} plan`;

    if (!inZone(stack.publicHostname)) problem(["publicHostname"], `${stack.publicHostname} is not in zone ${stack.zone.name}`);
    if (!inZone(stack.tunnel.originHostname)) problem(["tunnel", "originHostname"], `${stack.tunnel.originHostname} is not in zone ${stack.zone.name}`);
    if (stack.tunnel.originHostname === stack.publicHostname) problem(["tunnel", "originHostname"], "must differ from publicHostname (the Worker fetches the origin hostname)");
    if (stack.edge.allowedOrigins.length === 0 && !stack.edge.allowMissingOrigin) problem(["edge", "allowedOrigins"], "is empty and allowMissingOrigin is false: no client could connect");

    if (stack.rateLimit && !stack.zone.owner) {
      problem(["rateLimit"], "only the stack with zone.owner: true declares the zone's rate-limit ruleset; move these rules there");
    }
    const rules = stack.rateLimit?.rules ?? [];
    const kept = stack.rateLimit?.keepRules ?? [];
    if (rules.length + kept.length > limits.rateLimitRules) {
      const keptText = kept.length > 0 ? ` and keepRules ${kept.length} (${kept.length + rules.length} in the zone's ruleset)` : "";
      problem(["rateLimit", "rules"], `has ${rules.length} rules${keptText}; ${plan} allows ${limits.rateLimitRules}`);
    }
    const refs = kept.map((rule) => rule.ref);
    refs.forEach((ref, index) => {
      if (refs.indexOf(ref) !== index) problem(["rateLimit", "keepRules", index, "ref"], `${ref} appears twice; refs are unique within a ruleset`);
    });
    const token = stack.accessServiceToken;
    if (token.clientSecretVersion > 1 && !token.previousClientSecretExpiresAt) {
      problem(["accessServiceToken", "previousClientSecretExpiresAt"], "is required once clientSecretVersion is above 1: until when the previous secret keeps working (RFC 3339, e.g. 2026-12-01T12:00:00Z)");
    }
    rules.forEach((rule, index) => {
      if (!limits.periods.includes(rule.period)) problem(["rateLimit", "rules", index, "period"], `${rule.period} s is not available on ${plan} (allowed: ${limits.periods.join(", ")})`);
      if (!limits.mitigationTimeouts.includes(rule.mitigationTimeout)) {
        problem(["rateLimit", "rules", index, "mitigationTimeout"], `${rule.mitigationTimeout} s is not available on ${plan} (allowed: ${limits.mitigationTimeouts.join(", ")})`);
      }
      for (const field of fieldsUsed(rule)) {
        if (!limits.fields.includes(field)) problem(["rateLimit", "rules", index, field === "host" ? "hosts" : field], `the ${field} field is not available in rate-limit expressions on ${plan} (allowed: ${limits.fields.join(", ")})`);
      }
    });

    (stack.alerts.types ?? []).forEach((type, index) => {
      if (!limits.alertTypes.includes(type)) problem(["alerts", "types", index], `${type} is not available on ${plan} (allowed: ${limits.alertTypes.join(", ")})`);
    });
  });

export type StackSettings = z.infer<typeof stackSettingsSchema>;

/** The alert types a stack declares: its `alerts.types`, or the strongest set its plan offers. */
export function alertTypesOf(settings: StackSettings): AlertType[] {
  return settings.alerts.types ?? defaultAlertTypes(settings.zone.plan);
}

/** `cloudflare:apiToken`: read by the provider module; a secret like the project's own. */
export const API_TOKEN_KEY = "cloudflare:apiToken";

/** The one wording for a secret found in plaintext, wherever it was found (stack file, Pulumi config). */
export function plaintextSecretProblem(key: string): string {
  return `${key}: is a secret stored in plaintext; remove it from the stack file and set it with \`pulumi config set --secret ${key}\``;
}

/** Secret keys: only ever set with `pulumi config set --secret`; never in a stack file in plaintext. */
export const SECRET_KEYS = {
  jwtSecret: "HS* signing key shared with whoever issues the tokens (at least 32 characters)",
  jwtSecretPrevious: "only during an HS* secret rotation: the secret being replaced, accepted until edge.auth.previousSecretAcceptedUntil",
  tunnelSecret: "the tunnel's secret: at least 32 random bytes, base64 (openssl rand -base64 32)",
  alertWebhookUrl: "where alerts go besides email: an https:// webhook (a Slack incoming-webhook URL works); required for bridge_probe, the Free plan's 5XX alert",
  alertWebhookSecret: "optional: sent with each webhook notification as cf-webhook-auth",
} as const;
export type SecretKey = keyof typeof SECRET_KEYS;

const base64Secret = z.string().refine((value) => {
  const bytes = Buffer.from(value, "base64");
  return bytes.length >= 32 && bytes.toString("base64").replace(/=+$/, "") === value.replace(/=+$/, "");
}, "must be at least 32 random bytes in base64 (openssl rand -base64 32)");

export const stackSecretsSchema = z.strictObject({
  jwtSecret: z.string().min(32, "must be at least 32 characters").optional(),
  jwtSecretPrevious: z.string().min(32, "must be at least 32 characters").optional(),
  tunnelSecret: base64Secret,
  alertWebhookUrl: z.url({ protocol: /^https$/, error: "must be an https:// URL" }).optional(),
  alertWebhookSecret: z.string().min(1).optional(),
});
export type StackSecrets = z.infer<typeof stackSecretsSchema>;

export interface StackConfig {
  settings: StackSettings;
  secrets: StackSecrets;
}

export class StackConfigError extends Error {
  constructor(
    readonly stack: string,
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration for stack "${stack}" (${source}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "StackConfigError";
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const [first, ...rest] = issue.path.map(String);
  const key = `${PROJECT}:${first ?? ""}${rest.length ? ` → ${rest.join(".")}` : ""}`;
  if (issue.code === "unrecognized_keys") return `${key}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return `${key}: ${issue.message}`;
}

/**
 * Validates the stack's non-secret `voice-edge:*` values (already decoded from YAML or JSON).
 * `source` names where they came from, for the message.
 */
export function parseStackSettings(stack: string, source: string, values: Record<string, unknown>): StackSettings {
  const secretsInPlaintext = Object.keys(values).filter((key) => key in SECRET_KEYS);
  const withoutSecrets = Object.fromEntries(Object.entries(values).filter(([key]) => !(key in SECRET_KEYS)));
  const result = stackSettingsSchema.safeParse(withoutSecrets);
  const problems = secretsInPlaintext.map((key) => plaintextSecretProblem(`${PROJECT}:${key}`));
  if (!result.success) problems.push(...result.error.issues.map(describeIssue));
  if (problems.length > 0 || !result.success) throw new StackConfigError(stack, source, problems);
  return result.data;
}

/** A second stack claiming the zone: refused before any resource is declared. */
export function zoneOwnerConflict(settings: StackSettings, ownerFile: string): string {
  return `${PROJECT}:zone → owner: zone ${settings.zone.name} (${settings.zone.id}) is already owned by ${ownerFile}; set zone.owner: false here and let ${ownerFile}'s rate limit cover this stack's ${settings.publicHostname}`;
}

/** Validates the secrets against the settings that need them. Messages never include a secret's value. */
export function parseStackSecrets(stack: string, source: string, settings: StackSettings, values: Record<string, unknown>): StackSecrets {
  const problems: string[] = [];
  const result = stackSecretsSchema.safeParse(values);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? "");
      const hint = key in SECRET_KEYS ? ` — ${SECRET_KEYS[key as SecretKey]}; set it with \`pulumi config set --secret ${PROJECT}:${key}\`` : "";
      problems.push(`${describeIssue(issue)}${hint}`);
    }
  }
  const auth = settings.edge.auth;
  if (auth.mode === "jwt" && auth.algorithms.some(isHmacAlgorithm) && !values.jwtSecret) {
    problems.push(`${PROJECT}:jwtSecret: is required because edge.auth.algorithms includes ${auth.algorithms.filter(isHmacAlgorithm).join(", ")}; set it with \`pulumi config set --secret ${PROJECT}:jwtSecret\``);
  }
  const until = auth.mode === "jwt" ? auth.previousSecretAcceptedUntil : undefined;
  if (values.jwtSecretPrevious && !until) {
    problems.push(`${PROJECT}:jwtSecretPrevious: is set but edge.auth.previousSecretAcceptedUntil is not: say until when the previous secret is accepted (RFC 3339)`);
  }
  if (until && !values.jwtSecretPrevious) problems.push(`${PROJECT}:edge → auth.previousSecretAcceptedUntil: is set but the secret ${PROJECT}:jwtSecretPrevious is not`);
  if (values.jwtSecretPrevious && values.jwtSecretPrevious === values.jwtSecret) problems.push(`${PROJECT}:jwtSecretPrevious: equals jwtSecret; it must be the secret being replaced`);
  if (values.alertWebhookSecret && !values.alertWebhookUrl) problems.push(`${PROJECT}:alertWebhookSecret: is set but ${PROJECT}:alertWebhookUrl is not`);
  const types = alertTypesOf(settings);
  if (types.includes(ALERT_TYPES.bridgeProbe) && !values.alertWebhookUrl) {
    const why = settings.alerts.types ? "alerts.types includes bridge_probe" : `bridge_probe is the ${settings.zone.plan} plan's alert on a failing bridge (the plan has no Cloudflare notification for 5XX)`;
    problems.push(
      `${PROJECT}:alertWebhookUrl: is required because ${why}, and the Worker's probe can notify only a webhook; set it with \`pulumi config set --secret ${PROJECT}:alertWebhookUrl\` (a Slack incoming-webhook URL works), or list alerts.types without bridge_probe`,
    );
  }
  const { emails, pagerdutyIds } = settings.alerts;
  if (emails.length === 0 && pagerdutyIds.length === 0 && !values.alertWebhookUrl) {
    problems.push(`${PROJECT}:alerts: needs at least one mechanism: alerts.emails, alerts.pagerdutyIds or the secret ${PROJECT}:alertWebhookUrl`);
  }
  if (problems.length > 0 || !result.success) throw new StackConfigError(stack, source, problems);
  return result.data;
}

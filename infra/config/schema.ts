// The stack config's one entry point: the schema of every `voice-edge:*` key, composed from one
// module per concern, and the two parsers that run every cross-field rule before any resource
// is declared. Other code imports the config from here.
import { z } from "zod";
import { edgeSettingsSchema } from "../../worker/src/bindings";
import {
  validateEdgeSettings,
  validateHmacSecret,
  validateOriginPolicy,
  validatePreviousSecretDiffers,
  validatePreviousSecretWindow,
} from "../../worker/src/config/rules";
import {
  bridgeSchema,
  validateBridgeCount,
  validateTunnelOrBridges,
  validateFleetHealthUrl,
  validateUniqueBridges,
} from "./bridges";
import {
  accessServiceTokenSchema,
  tunnelSchema,
  validateOriginHostnameDiffers,
  validateServiceTokenRotation,
} from "./tunnel";
import {
  alertsSchema,
  validateAlertMechanism,
  validateAlertTypesForPlan,
  validateBridgeProbeWebhook,
  validateUserAlerts,
  validateUserAlertToken,
} from "./alerts";
import {
  addProblems,
  describeProblem,
  PROJECT,
  problemsOf,
  StackConfigError,
  type Problem,
} from "./errors";
import { cloudflareId, hostname } from "./fields";
import {
  guardSchema,
  validateGuardBehindTunnel,
  validateGuardCapacityWithBridges,
  validateGuardSessionCap,
} from "./guard";
import { lineSchema, validateLineNeedsSubject } from "./line";
import { analyticsSchema, validateVisitorKeyHasDataset } from "./analytics";
import {
  rateLimitSchema,
  validateKeptRuleRefs,
  validateRateLimitOwnership,
  validateRateLimitRuleCount,
  validateRateLimitRulesForPlan,
} from "./rateLimit";
import {
  isSecretKey,
  plaintextSecretProblem,
  SECRET_KEYS,
  setSecretHint,
  STACK_SECRET_NAMING,
  type SecretNaming,
  stackSecretsSchema,
  validateRotationWindowHasSecret,
  validateWebhookSecretHasUrl,
  type StackSecrets,
} from "./secrets";
import { validateHostnamesInZone, zoneSchema } from "./zone";

export { alertTypesOf } from "./alerts";
export { PROJECT, StackConfigError, type Problem } from "./errors";
export { bridgeServiceProblem } from "./tunnel";
export { bridgesOf, type Bridge } from "./bridges";
export { keptRateLimitRuleSchema, type KeptRateLimitRule } from "./rateLimit";
export {
  API_TOKEN_KEY,
  plaintextSecretProblem,
  SECRET_KEYS,
  stackSecretsSchema,
  type SecretKey,
  type StackSecrets,
} from "./secrets";
export { REQUIRED_ZONE_SETTINGS, zoneOwnerConflict } from "./zone";

const stackSettingsObject = z.strictObject({
  accountId: cloudflareId("account ID"),
  zone: zoneSchema,
  /** The site whose `/voice/*` the Worker serves. */
  publicHostname: hostname,
  /** `existing`: the hostname's record is managed elsewhere (e.g. the website). `worker-only`: this stack adds a proxied AAAA 100::. */
  publicDns: z.enum(["existing", "worker-only"]).default("existing"),
  workerName: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9-]{0,62}$/,
      "must be lowercase letters, digits and dashes (a Worker script name)",
    ),
  compatibilityDate: z.iso.date("must be a date written YYYY-MM-DD"),
  edge: edgeSettingsSchema,
  /** A fleet of one bridge; `bridges` lists several instead. */
  tunnel: tunnelSchema.optional(),
  bridges: z.array(bridgeSchema).optional(),
  rateLimit: rateLimitSchema.optional(),
  accessServiceToken: accessServiceTokenSchema.default({
    duration: "8760h",
    clientSecretVersion: 1,
  }),
  alerts: alertsSchema,
  guard: guardSchema.prefault({}),
  /** The waiting line: off unless `enabled`. */
  line: lineSchema.prefault({}),
  /** The edge's Analytics Engine dataset: no points unless set. */
  analytics: analyticsSchema.optional(),
});

export type StackSettings = z.infer<typeof stackSettingsObject>;

/** Every rule across the stack's non-secret settings, in the order the keys are written. */
export function validateStackSettings(settings: StackSettings): Problem[] {
  return [
    ...validateTunnelOrBridges(settings),
    ...validateBridgeCount(settings),
    ...validateUniqueBridges(settings),
    ...validateFleetHealthUrl(settings),
    ...validateHostnamesInZone(settings),
    ...validateOriginHostnameDiffers(settings),
    ...[...validateOriginPolicy(settings.edge), ...validateEdgeSettings(settings.edge)].map(
      (problem) => ({ ...problem, path: ["edge", ...problem.path] }),
    ),
    ...validateRateLimitOwnership(settings),
    ...validateRateLimitRuleCount(settings),
    ...validateKeptRuleRefs(settings),
    ...validateServiceTokenRotation(settings),
    ...validateRateLimitRulesForPlan(settings),
    ...validateAlertTypesForPlan(settings),
    ...validateUserAlerts(settings),
    ...validateGuardBehindTunnel(settings),
    ...validateGuardCapacityWithBridges(settings),
    ...validateLineNeedsSubject(settings),
    ...validateGuardSessionCap(settings),
  ];
}

export const stackSettingsSchema = stackSettingsObject.superRefine((settings, ctx) =>
  addProblems(ctx, validateStackSettings(settings)),
);

/** Every rule between the secrets and the settings that need them, in `naming`'s words. */
export function validateStackSecrets(
  settings: StackSettings,
  secrets: Record<string, unknown>,
  naming: SecretNaming = STACK_SECRET_NAMING,
): Problem[] {
  const hint = (problem: Problem) => ({
    ...problem,
    message: `${problem.message}; ${naming.howToSet("jwtSecret")}`,
  });
  return [
    ...validateHmacSecret(settings.edge, secrets, naming.edgeKeys).map(hint),
    ...validatePreviousSecretWindow(settings.edge, secrets, naming.edgeKeys),
    ...validateRotationWindowHasSecret(settings.edge, secrets, naming),
    ...validatePreviousSecretDiffers(secrets, naming.edgeKeys),
    ...validateWebhookSecretHasUrl(secrets, naming),
    ...validateBridgeProbeWebhook(settings, secrets, naming),
    ...validateAlertMechanism(settings, secrets, naming),
    ...validateVisitorKeyHasDataset(settings, secrets, naming.name("analyticsVisitorKey")),
    ...validateUserAlertToken(settings, secrets, naming),
  ];
}

/** The keys a schema takes at `path`, for naming what an unknown key could have been. */
function knownKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] | undefined {
  const def = schema._zod.def as {
    type: string;
    innerType?: z.core.$ZodType;
    in?: z.core.$ZodType;
    shape?: Record<string, z.core.$ZodType>;
    element?: z.core.$ZodType;
  };
  if (
    (def.type === "optional" || def.type === "default" || def.type === "prefault") &&
    def.innerType
  )
    return knownKeysAt(def.innerType, path);
  if (def.type === "pipe" && def.in) return knownKeysAt(def.in, path);
  if (def.type === "array" && def.element)
    return path.length === 0 ? undefined : knownKeysAt(def.element, path.slice(1));
  if (def.type !== "object" || !def.shape) return undefined;
  if (path.length === 0) return Object.keys(def.shape);
  const next = def.shape[String(path[0])];
  return next ? knownKeysAt(next, path.slice(1)) : undefined;
}

function describeSettingsIssue(issue: z.core.$ZodIssue): string[] {
  const known =
    issue.code === "unrecognized_keys" ? knownKeysAt(stackSettingsObject, issue.path) : undefined;
  return problemsOf(issue).map((problem) =>
    describeProblem(
      known ? { ...problem, message: `${problem.message}; known: ${known.join(", ")}` } : problem,
    ),
  );
}

/**
 * Validates the stack's non-secret `voice-edge:*` values (already decoded from YAML or JSON).
 * `source` names where they came from, for the message.
 */
export function parseStackSettings(
  stack: string,
  source: string,
  values: Record<string, unknown>,
): StackSettings {
  const secretsInPlaintext = Object.keys(values).filter(isSecretKey);
  const withoutSecrets = Object.fromEntries(
    Object.entries(values).filter(([key]) => !isSecretKey(key)),
  );
  const result = stackSettingsSchema.safeParse(withoutSecrets);
  const problems = secretsInPlaintext.map((key) => plaintextSecretProblem(`${PROJECT}:${key}`));
  if (!result.success) problems.push(...result.error.issues.flatMap(describeSettingsIssue));
  if (problems.length > 0 || !result.success) throw new StackConfigError(stack, source, problems);
  return result.data;
}

/** Validates the secrets against the settings that need them. Messages never include a secret's value. */
export function parseStackSecrets(
  stack: string,
  source: string,
  settings: StackSettings,
  values: Record<string, unknown>,
): StackSecrets {
  const problems: string[] = [];
  const result = stackSecretsSchema.safeParse(values);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? "");
      const hint = isSecretKey(key) ? ` — ${SECRET_KEYS[key]}; ${setSecretHint(key)}` : "";
      problems.push(...problemsOf(issue).map((problem) => `${describeProblem(problem)}${hint}`));
    }
  }
  problems.push(...validateStackSecrets(settings, values).map(describeProblem));
  if (problems.length > 0 || !result.success) throw new StackConfigError(stack, source, problems);
  return result.data;
}

export interface StackConfig {
  settings: StackSettings;
  secrets: StackSecrets;
}

import { z } from "zod";
import {
  jwtSecretSchema,
  type EdgeKeyNames,
  type EdgeRuleInput,
  type HmacSecretsInput,
} from "../../worker/src/config/rules";
import { PROJECT, type Problem } from "./errors";

/** `cloudflare:apiToken`: read by the provider module; a secret like the project's own. */
export const API_TOKEN_KEY = "cloudflare:apiToken";

/** The one wording for a secret found in plaintext, wherever it was found (stack file, Pulumi config). */
export function plaintextSecretProblem(key: string): string {
  return `${key}: is a secret stored in plaintext; remove it from the stack file and set it with \`pulumi config set --secret ${key}\``;
}

/** Secret keys: only ever set with `pulumi config set --secret`; never in a stack file in plaintext. */
export const SECRET_KEYS = {
  jwtSecret: "HS* signing key shared with whoever issues the tokens (at least 32 characters)",
  jwtSecretPrevious:
    "only during an HS* secret rotation: the secret being replaced, accepted until edge.auth.previousSecretAcceptedUntil",
  tunnelSecret: "the tunnel's secret: at least 32 random bytes, base64 (openssl rand -base64 32)",
  alertWebhookUrl:
    "where alerts go besides email: an https:// webhook (a Slack incoming-webhook URL works); required for bridge_probe, the Free plan's 5XX alert",
  alertWebhookSecret: "optional: sent with each webhook notification as cf-webhook-auth",
  analyticsVisitorKey:
    "optional, with voice-edge:analytics: the key of the points' visitor hash (at least 32 characters, e.g. openssl rand -base64 32)",
  analyticsReadToken:
    "only with alerts.turnedAwayShare or alerts.waitedShare: an API token with Account Analytics: Read, for the bridge watch's SQL API queries",
} as const;
export type SecretKey = keyof typeof SECRET_KEYS;

export const isSecretKey = (key: string): key is SecretKey => key in SECRET_KEYS;

/** How to set a secret, for the end of a message about it. */
export function setSecretHint(key: SecretKey): string {
  return `set it with \`pulumi config set --secret ${PROJECT}:${key}\``;
}

/** How the stack names the keys the rules shared with the Worker speak of. */
export const STACK_KEY_NAMES: EdgeKeyNames = {
  edge: "edge",
  jwtSecret: "jwtSecret",
  jwtSecretPrevious: "jwtSecretPrevious",
};

/**
 * How the rules between secrets and settings name what they speak of: a stack file's
 * `voice-edge:` keys set with `pulumi config`, or the `secrets` and `settings` arguments of a
 * VoiceEdge in a program of one's own.
 */
export interface SecretNaming {
  /** A secret as the user writes it: `voice-edge:jwtSecret`, `secrets.jwtSecret`. */
  name(key: SecretKey): string;
  /** How to give it, to end a message with. */
  howToSet(key: SecretKey): string;
  /** The names the rules shared with the Worker use. */
  edgeKeys: EdgeKeyNames;
}

export const STACK_SECRET_NAMING: SecretNaming = {
  name: (key) => `${PROJECT}:${key}`,
  howToSet: setSecretHint,
  edgeKeys: STACK_KEY_NAMES,
};

const base64Secret = z.string().refine((value) => {
  const bytes = Buffer.from(value, "base64");
  return (
    bytes.length >= 32 && bytes.toString("base64").replace(/=+$/, "") === value.replace(/=+$/, "")
  );
}, "must be at least 32 random bytes in base64 (openssl rand -base64 32)");

export const stackSecretsSchema = z.strictObject({
  jwtSecret: z.optional(jwtSecretSchema),
  jwtSecretPrevious: z.optional(jwtSecretSchema),
  tunnelSecret: base64Secret,
  alertWebhookUrl: z.url({ protocol: /^https$/, error: "must be an https:// URL" }).optional(),
  alertWebhookSecret: z.string().min(1).optional(),
  analyticsVisitorKey: z
    .string()
    .min(32, "must be at least 32 characters (openssl rand -base64 32)")
    .optional(),
  analyticsReadToken: z.string().min(1).optional(),
});
export type StackSecrets = z.infer<typeof stackSecretsSchema>;

/** A rotation window without the secret it is for accepts nothing the current secret would not. */
export function validateRotationWindowHasSecret(
  edge: EdgeRuleInput,
  secrets: HmacSecretsInput,
  naming: SecretNaming = STACK_SECRET_NAMING,
): Problem[] {
  const until = edge.auth.mode === "jwt" ? edge.auth.previousSecretAcceptedUntil : undefined;
  if (!until || secrets.jwtSecretPrevious) return [];
  return [
    {
      path: ["edge", "auth", "previousSecretAcceptedUntil"],
      message: `is set but the secret ${naming.name("jwtSecretPrevious")} is not`,
    },
  ];
}

/** The previous secret is the one being replaced, so never the current one. */
export function validatePreviousSecretDiffers(secrets: HmacSecretsInput): Problem[] {
  if (!secrets.jwtSecretPrevious || secrets.jwtSecretPrevious !== secrets.jwtSecret) return [];
  return [
    {
      path: ["jwtSecretPrevious"],
      message: "equals jwtSecret; it must be the secret being replaced",
    },
  ];
}

/** The webhook secret authenticates the webhook's notifications, so it needs the webhook. */
export function validateWebhookSecretHasUrl(
  secrets: { alertWebhookUrl?: unknown; alertWebhookSecret?: unknown },
  naming: SecretNaming = STACK_SECRET_NAMING,
): Problem[] {
  if (!secrets.alertWebhookSecret || secrets.alertWebhookUrl) return [];
  return [
    {
      path: ["alertWebhookSecret"],
      message: `is set but ${naming.name("alertWebhookUrl")} is not`,
    },
  ];
}

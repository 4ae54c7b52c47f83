import * as pulumi from "@pulumi/pulumi";
import {
  API_TOKEN_KEY,
  PROJECT,
  SECRET_KEYS,
  StackConfigError,
  parseStackSecrets,
  parseStackSettings,
  plaintextSecretProblem,
  zoneOwnerConflict,
  type StackConfig,
} from "./schema";
import { otherZoneOwner, stackFileName } from "./stackFiles";

// Pulumi's own check of which config keys were set with --secret (public at run time, untyped).
const isConfigSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean })
  .isConfigSecret;

function decode(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * The only reader of Pulumi config: every `voice-edge:*` key, validated before any resource
 * is declared. Structured values arrive as JSON strings, as `pulumi config` stores them.
 */
export function loadStackConfig(): StackConfig & { apiToken?: pulumi.Output<string> } {
  const stack = pulumi.getStack();
  const source = stackFileName(stack);
  const all = pulumi.runtime.allConfig();
  const settingsValues: Record<string, unknown> = {};
  const secretValues: Record<string, unknown> = {};
  const plaintextSecrets: string[] = [];

  for (const [key, raw] of Object.entries(all)) {
    if (!key.startsWith(`${PROJECT}:`)) continue;
    const name = key.slice(PROJECT.length + 1);
    if (name in SECRET_KEYS) {
      secretValues[name] = raw;
      if (isConfigSecret && !isConfigSecret(key)) plaintextSecrets.push(key);
    } else {
      settingsValues[name] = decode(raw);
    }
  }
  if (all[API_TOKEN_KEY] !== undefined && isConfigSecret && !isConfigSecret(API_TOKEN_KEY))
    plaintextSecrets.push(API_TOKEN_KEY);
  if (plaintextSecrets.length > 0)
    throw new StackConfigError(stack, source, plaintextSecrets.map(plaintextSecretProblem));

  const settings = parseStackSettings(stack, source, settingsValues);
  const secrets = parseStackSecrets(stack, source, settings, secretValues);
  if (settings.zone.owner) {
    const owner = otherZoneOwner(stack, settings.zone);
    if (owner) throw new StackConfigError(stack, source, [zoneOwnerConflict(settings, owner)]);
  }
  const apiToken = all[API_TOKEN_KEY];
  return {
    settings,
    secrets,
    apiToken: apiToken === undefined ? undefined : pulumi.secret(apiToken),
  };
}

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, YAMLParseError } from "yaml";
import {
  API_TOKEN_KEY,
  PROJECT,
  SECRET_KEYS,
  StackConfigError,
  parseStackSettings,
  plaintextSecretProblem,
  type StackSettings,
} from "./schema";
import { yamlSyntaxProblem } from "./yamlErrors";

/** The Pulumi project's directory: where Pulumi.yaml and the `Pulumi.<stack>.yaml` files are. */
export const PROJECT_ROOT = join(import.meta.dirname, "..", "..");

/**
 * Where the `Pulumi.<stack>.yaml` files are read from: the project's directory, or the directory
 * `VOICE_EDGE_STACK_DIR` names (tests point it at their own fixtures; a user may keep stacks
 * elsewhere). The Pulumi CLI itself reads the project's directory.
 */
export const STACK_DIR_ENV = "VOICE_EDGE_STACK_DIR";

export function stackDirectory(): string {
  return process.env[STACK_DIR_ENV] || PROJECT_ROOT;
}

export function stackFileName(stack: string): string {
  return `Pulumi.${stack}.yaml`;
}

/** The stacks that have a file in the project. */
export function knownStacks(root = stackDirectory()): string[] {
  return readdirSync(root)
    .map((name) => name.match(/^Pulumi\.(.+)\.yaml$/)?.[1])
    .filter((stack): stack is string => stack !== undefined);
}

/** The raw `config:` map of a stack file: keys as written (`voice-edge:zone`), values as decoded from YAML. */
export function readStackFile(stack: string, root = stackDirectory()): Record<string, unknown> {
  const path = join(root, stackFileName(stack));
  if (!existsSync(path))
    throw new Error(
      `No stack file ${stackFileName(stack)}: the stacks here are ${knownStacks(root).join(", ")}`,
    );
  const text = readFileSync(path, "utf8");
  let document: { config?: Record<string, unknown> } | null;
  try {
    document = parse(text) as typeof document;
  } catch (error) {
    if (!(error instanceof YAMLParseError)) throw error;
    throw new StackConfigError(stack, stackFileName(stack), [yamlSyntaxProblem(text, error)]);
  }
  return document?.config ?? {};
}

/** How `pulumi config set --secret` stores a value in a stack file: encrypted, as `{secure: "v1:…"}`. */
export function isEncryptedValue(value: unknown): value is { secure: string } {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { secure?: unknown }).secure === "string" &&
    Object.keys(value).length === 1
  );
}

/** Every secret key of the project, fully qualified, plus the provider's API token. */
export const SECRET_CONFIG_KEYS: readonly string[] = [
  ...Object.keys(SECRET_KEYS).map((key) => `${PROJECT}:${key}`),
  API_TOKEN_KEY,
];

/** Secret keys a stack file holds in plaintext (written by hand, or set without `--secret`). */
export function plaintextSecretsIn(config: Record<string, unknown>): string[] {
  return SECRET_CONFIG_KEYS.filter((key) => key in config && !isEncryptedValue(config[key]));
}

/** The project's keys without their `voice-edge:` prefix; secrets set properly (encrypted) are left out. */
export function projectValues(config: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith(`${PROJECT}:`) && !isEncryptedValue(value))
      values[key.slice(PROJECT.length + 1)] = value;
  }
  return values;
}

/**
 * The stack file (other than `stack`'s own) that already declares ownership of the zone, if any.
 * Only the `voice-edge:zone` key of the other files is read: they may be invalid in other ways.
 */
export function otherZoneOwner(
  stack: string,
  zone: { id: string; name: string },
  root = stackDirectory(),
): string | undefined {
  for (const other of knownStacks(root)) {
    if (other === stack) continue;
    let otherZone: unknown;
    try {
      otherZone = readStackFile(other, root)[`${PROJECT}:zone`];
    } catch {
      continue;
    }
    const { id, name, owner } = (otherZone ?? {}) as {
      id?: unknown;
      name?: unknown;
      owner?: unknown;
    };
    if (owner === true && id === zone.id && name === zone.name) return stackFileName(other);
  }
  return undefined;
}

/**
 * Reads `Pulumi.<stack>.yaml` and validates its settings with the stack schema. Secrets set with
 * `pulumi config set --secret` (encrypted in the file) are fine and not read; a secret in
 * plaintext is refused with the same words the Pulumi program uses.
 */
export function loadStackSettings(stack: string, root = stackDirectory()): StackSettings {
  const config = readStackFile(stack, root);
  const plaintext = plaintextSecretsIn(config);
  if (plaintext.length > 0)
    throw new StackConfigError(stack, stackFileName(stack), plaintext.map(plaintextSecretProblem));
  return parseStackSettings(stack, stackFileName(stack), projectValues(config));
}

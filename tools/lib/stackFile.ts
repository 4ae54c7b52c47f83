import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT, parseStackSettings, type StackSettings } from "../../infra/config/schema";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");

export function stackFileName(stack: string): string {
  return `Pulumi.${stack}.yaml`;
}

/** The stacks that have a file in the repository. */
export function knownStacks(): string[] {
  return readdirSync(REPO_ROOT)
    .map((name) => name.match(/^Pulumi\.(.+)\.yaml$/)?.[1])
    .filter((stack): stack is string => stack !== undefined);
}

/** The raw `config:` map of a stack file: keys as written (`voice-edge:zone`), values as decoded from YAML. */
export function readStackFile(stack: string): Record<string, unknown> {
  const path = join(REPO_ROOT, stackFileName(stack));
  if (!existsSync(path)) throw new Error(`No stack file ${stackFileName(stack)}: the stacks here are ${knownStacks().join(", ")}`);
  const document = (parse(readFileSync(path, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  return document.config ?? {};
}

/** The project's keys without their `voice-edge:` prefix. */
export function projectValues(config: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith(`${PROJECT}:`)) values[key.slice(PROJECT.length + 1)] = value;
  }
  return values;
}

/** Reads `Pulumi.<stack>.yaml` and validates its settings with the stack schema (secrets live in Pulumi, not here). */
export function loadStackSettings(stack: string): StackSettings {
  return parseStackSettings(stack, stackFileName(stack), projectValues(readStackFile(stack)));
}

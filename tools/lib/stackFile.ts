import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT, parseStackConfig, type StackConfig } from "../../infra/config/schema";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");

export function stackFilePath(stack: string): string {
  return join(REPO_ROOT, `Pulumi.${stack}.yaml`);
}

/** Reads `Pulumi.<stack>.yaml` the way Pulumi does and validates the project's keys with the stack schema. */
export function loadStackConfig(stack: string): StackConfig {
  const path = stackFilePath(stack);
  const fileName = `Pulumi.${stack}.yaml`;
  if (!existsSync(path)) throw new Error(`No stack file ${fileName}: stacks here are ${["staging", "prod"].join(", ")}`);
  const document = (parse(readFileSync(path, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(document.config ?? {})) {
    if (key.startsWith(`${PROJECT}:`)) values[key.slice(PROJECT.length + 1)] = value;
  }
  return parseStackConfig(stack, fileName, values);
}

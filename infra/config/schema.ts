import { z } from "zod";
import { edgeSettingsSchema } from "../../worker/src/bindings";

export const PROJECT = "voice-edge";

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "must be a lowercase DNS hostname such as mycosoft.com");

/** The stack configuration, keyed without the `voice-edge:` namespace. */
export const stackConfigSchema = z.strictObject({
  publicHostname: hostname,
  workerName: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be lowercase letters, digits and dashes (a Worker script name)"),
  compatibilityDate: z.iso.date("must be a date written YYYY-MM-DD"),
  edge: edgeSettingsSchema,
});

export type StackConfig = z.infer<typeof stackConfigSchema>;

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
  if (issue.code === "invalid_value") return `${key}: ${issue.message}`;
  if (issue.code === "unrecognized_keys") return `${key}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return `${key}: ${issue.message}`;
}

/**
 * Validates the stack's `voice-edge:*` config values (already decoded from YAML or JSON).
 * `source` names where they came from, for the error message.
 */
export function parseStackConfig(stack: string, source: string, values: Record<string, unknown>): StackConfig {
  const result = stackConfigSchema.safeParse(values);
  if (!result.success) throw new StackConfigError(stack, source, result.error.issues.map(describeIssue));
  return result.data;
}

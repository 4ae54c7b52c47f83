import type { z } from "zod";
import type { Problem } from "../../worker/src/config/rules";

export type { Problem };

/** The Pulumi project, and so the namespace of every key below (`voice-edge:<key>`). */
export const PROJECT = "voice-edge";

export class StackConfigError extends Error {
  constructor(
    readonly stack: string,
    readonly source: string,
    readonly problems: string[],
  ) {
    super(
      `Invalid configuration for stack "${stack}" (${source}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "StackConfigError";
  }
}

/** A key path as messages write it: `voice-edge:rateLimit → rules.0.period`. */
export function keyName(path: readonly PropertyKey[]): string {
  const [first, ...rest] = path.map(String);
  return `${PROJECT}:${first}${rest.length ? ` → ${rest.join(".")}` : ""}`;
}

/** One line per problem: the key at fault, then why. */
export function describeProblem(problem: Problem): string {
  return `${keyName(problem.path)}: ${problem.message}`;
}

/** A zod issue as problems; an unknown key is named itself, one line each. */
export function problemsOf(issue: z.core.$ZodIssue): Problem[] {
  if (issue.code === "unrecognized_keys")
    return issue.keys.map((key) => ({
      path: [...issue.path.map(String), key],
      message: "unknown key",
    }));
  return [{ path: issue.path.map(String), message: issue.message }];
}

/** Adds each validator's problems to a zod refinement, under `prefix`. */
export function addProblems(
  ctx: z.core.$RefinementCtx,
  problems: Problem[],
  prefix: (string | number)[] = [],
): void {
  for (const problem of problems)
    ctx.addIssue({ code: "custom", path: [...prefix, ...problem.path], message: problem.message });
}

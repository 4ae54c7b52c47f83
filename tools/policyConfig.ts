/**
 * `npm run --silent policy-config -- --stack <name>`: the policy pack's config for a stack, from the
 * stack files. A stack that does not own its zone lists its route as covered by the owner's rate
 * limit — only when the owner's rules really cover it.
 */
import { routeViolations } from "../policy/rules";
import { rateLimitExpression } from "../infra/rateLimitExpression";
import { routePattern } from "../infra/worker";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";
import { StackConfigError } from "../infra/config/errors";
import type { StackSettings } from "../infra/config/schema";
import { knownStacks, loadStackSettings } from "../infra/config/stackFiles";

/** Another stack's settings, or undefined when its file is invalid: that is its own command's problem, not this stack's. */
function settingsOrUndefined(stack: string): StackSettings | undefined {
  try {
    return loadStackSettings(stack);
  } catch {
    return undefined;
  }
}

export function policyConfigFor(stack: string): Record<string, unknown> {
  const settings = loadStackSettings(stack);
  const route = routePattern(settings.publicHostname);
  const owner = knownStacks()
    .filter((name) => name !== stack)
    .map(settingsOrUndefined)
    .concat(settings)
    .find(
      (other) =>
        other?.zone.owner &&
        other.zone.id === settings.zone.id &&
        other.zone.name === settings.zone.name,
    );
  const ownerRules = (owner?.rateLimit?.rules ?? []).map((rule) => ({
    expression: rateLimitExpression(rule),
  }));
  const coveredElsewhere =
    !settings.zone.owner && routeViolations([route], ownerRules).length === 0 ? [route] : [];
  return { "worker-routes-rate-limited": { coveredElsewhere } };
}

const command = defineCommand({
  name: "policy-config",
  invocation: "npm run --silent policy-config --",
  options: {
    stack: {
      type: "string",
      value: "<name>",
      required: true,
      description: `the stack whose policy config to print (${knownStacks().join(", ")})`,
    },
  },
  notes: [
    "prints the JSON for `pulumi preview --policy-pack-config`; exit 2 when the stack file is invalid or for a usage mistake",
  ],
});

export function run(args: string[]): number {
  const { stack } = command.parse(args);
  if (!knownStacks().includes(stack))
    throw new UsageError(
      `unknown stack "${stack}": the stacks here are ${knownStacks().join(", ")}`,
    );
  let config: Record<string, unknown>;
  try {
    config = policyConfigFor(stack);
  } catch (error) {
    if (error instanceof StackConfigError) throw error;
    throw new CommandFailure((error as Error).message);
  }
  console.log(JSON.stringify(config, null, 2));
  return 0;
}

if (isEntryPoint(import.meta.url)) void main(command, run);

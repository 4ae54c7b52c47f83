/**
 * `npm run --silent policy-config -- --stack <name>`: the policy pack's config for a stack, from the
 * stack files. A stack that does not own its zone lists its route as covered by the owner's rate
 * limit — only when the owner's rules really cover it.
 */
import { parseArgs } from "node:util";
import { routeViolations } from "../policy/rules";
import { rateLimitExpression } from "../infra/rateLimitExpression";
import { routePattern } from "../infra/worker";
import { knownStacks, loadStackSettings } from "./lib/stackFile";

export function policyConfigFor(stack: string): Record<string, unknown> {
  const settings = loadStackSettings(stack);
  const route = routePattern(settings.publicHostname);
  const owner = knownStacks()
    .map((name) => loadStackSettings(name))
    .find((other) => other.zone.owner && other.zone.id === settings.zone.id && other.zone.name === settings.zone.name);
  const ownerRules = (owner?.rateLimit?.rules ?? []).map((rule) => ({ expression: rateLimitExpression(rule) }));
  const coveredElsewhere = !settings.zone.owner && routeViolations([route], ownerRules).length === 0 ? [route] : [];
  return { "worker-routes-rate-limited": { coveredElsewhere } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { stack: { type: "string" } } });
  if (!values.stack || !knownStacks().includes(values.stack)) {
    console.error(`policy-config: --stack must be one of ${knownStacks().join(", ")}`);
    process.exit(2);
  }
  console.log(JSON.stringify(policyConfigFor(values.stack), null, 2));
}

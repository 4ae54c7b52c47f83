/**
 * `npm run preflight -- --stack <name>`: read-only checks of the real Cloudflare account before
 * `pulumi up` (token and its permissions, Zero Trust, zone and plan, the rate-limit entry point,
 * DNS, the Worker route, the tunnel name, ssl). One line per check; exit 1 when anything is a
 * problem. `--carry-rules` prints the `keepRules:` block for the zone's existing rate-limit rules.
 */
import { stackGaps } from "../infra/config/gaps";
import type { StackSettings } from "../infra/config/schema";
import type { PreflightContext } from "../infra/preflight/check";
import {
  carriedRules,
  carriedRulesYaml,
  carryOverflow,
  rateLimitEntryPoint,
} from "../infra/preflight/rateLimit";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";
import {
  apiFailure,
  formatResult,
  problem,
  warning,
  type CheckResult,
} from "../infra/preflight/result";
import { DEFAULT_BOUND_MS, preflightClient, runPreflight } from "../infra/preflight/run";
import { tunnelIdFromPulumi } from "../infra/preflight/tunnel";
import { idSubjectOf, placeholderIdProblems } from "../infra/preflight/ids";
import { plannedResources } from "../infra/preflight/writes";
import { requiredPermission, requiredPermissionsFor } from "../infra/preflight/permissions";
import { knownStacks, loadStackSettings } from "../infra/config/stackFiles";

const command = defineCommand({
  name: "preflight",
  options: {
    stack: {
      type: "string",
      value: "<name>",
      required: true,
      description: `the stack to check (${knownStacks().join(", ")})`,
    },
    json: { type: "boolean", description: "print the results as a JSON array instead of lines" },
    "tunnel-id": {
      type: "string",
      value: "<id>",
      defaultText: "`pulumi stack output tunnelId` when the pulumi CLI is on PATH",
      description: "this stack's own tunnel ID",
    },
    "carry-rules": {
      type: "boolean",
      description:
        "print the keepRules: block (and adoptRulesetId:) for the zone's existing rate-limit rules instead of checking",
    },
    "timeout-ms": {
      type: "string",
      value: "<ms>",
      default: String(DEFAULT_BOUND_MS),
      description: "bound for the whole run",
    },
  },
  notes: [
    "environment: CLOUDFLARE_API_TOKEN (required), CLOUDFLARE_BASE_URL (optional API base URL)",
    "exit: 0 no problem (warnings allowed), 1 a problem, 2 a usage mistake",
  ],
});
function print(results: CheckResult[], json: boolean): number {
  if (json) console.log(JSON.stringify(results, null, 2));
  else for (const result of results) console.log(formatResult(result));
  return results.some((r) => r.status === "problem") ? 1 : 0;
}

export async function run(argv: string[]): Promise<number> {
  const args = command.parse(argv);
  const stack = args.stack;
  const boundMs = Number(args["timeout-ms"]);
  if (!Number.isInteger(boundMs) || boundMs < 100 || boundMs > 600_000)
    throw new UsageError(
      `--timeout-ms "${args["timeout-ms"]}" must be a whole number of milliseconds between 100 and 600000`,
    );
  if (!knownStacks().includes(stack))
    throw new UsageError(
      `unknown stack "${stack}": the stacks here are ${knownStacks().join(", ")}`,
    );
  let settings: StackSettings;
  try {
    settings = loadStackSettings(stack);
  } catch (error) {
    throw new CommandFailure((error as Error).message, 2);
  }
  const finish = (results: CheckResult[]) => print(results, args.json);

  // Decided from the stack file and the environment alone: no request is sent before both are usable.
  const apiToken = process.env.CLOUDFLARE_API_TOKEN;
  const unusable = placeholderIdProblems(settings, stack);
  if (!apiToken)
    unusable.push(
      problem(
        "token",
        "CLOUDFLARE_API_TOKEN is not set",
        `create an API token (dashboard → My Profile → API Tokens) with ${requiredPermissionsFor(
          settings,
        )
          .map((p) => `"${p.group}"`)
          .join(", ")} and export CLOUDFLARE_API_TOKEN`,
      ),
    );
  // What the stack's files leave undeclared: said whatever the account answers.
  const gaps = stackGaps(settings, stack).map((gap) => warning("stack", gap.message, gap.action));
  if (unusable.length > 0 || !apiToken) return finish([...gaps, ...unusable]);

  const abort = new AbortController();
  const deadline = new Promise<void>((resolve) =>
    setTimeout(() => {
      abort.abort();
      resolve();
    }, boundMs).unref(),
  );
  const client = preflightClient({
    apiToken,
    baseURL: process.env.CLOUDFLARE_BASE_URL || undefined,
    boundMs,
    signal: abort.signal,
  });

  if (args["carry-rules"]) {
    if (!settings.zone.owner)
      return finish([
        problem(
          "carry-rules",
          `stack ${stack} has zone.owner: false`,
          "run --carry-rules for the stack that owns the zone",
        ),
      ]);
    let entryPoint;
    try {
      entryPoint = await Promise.race([
        rateLimitEntryPoint(client, settings.zone.id),
        deadline.then(() => Promise.reject(new Error(`no answer within ${boundMs / 1000} s`))),
      ]);
    } catch (error) {
      return finish([
        apiFailure(
          "carry-rules",
          error,
          "the zone's http_ratelimit entry point",
          requiredPermission("Zone WAF Write"),
          idSubjectOf("zone", settings, stack),
        ),
      ]);
    }
    if (!entryPoint)
      return finish([
        problem(
          "carry-rules",
          `${settings.zone.name} has no http_ratelimit entry point: there are no rules to carry`,
          "nothing to paste; `pulumi up` creates the entry point",
        ),
      ]);
    let carried;
    try {
      carried = carriedRules(entryPoint);
    } catch (error) {
      return finish([
        problem(
          "carry-rules",
          `a rule of entry point ${entryPoint.id} cannot be carried as it is: ${(error as Error).message.split("\n")[0]}`,
          "edit or remove that rule in the dashboard (Security → WAF → Rate limiting rules), then run --carry-rules again",
        ),
      ]);
    }
    // A block the schema would refuse (more rules than the plan allows) is no help: say what fits.
    const overflow = carryOverflow(settings, stack, entryPoint.id, {
      kept: 0,
      toCarry: carried.keepRules.length,
    });
    if (overflow)
      return finish([
        problem(
          "carry-rules",
          `${entryPoint.id} holds ${carried.keepRules.length} rule(s) that are not this project's; ${overflow.message}`,
          overflow.action,
        ),
      ]);
    console.log(args.json ? JSON.stringify(carried, null, 2) : carriedRulesYaml(stack, carried));
    return 0;
  }

  const tunnelIdOption = args["tunnel-id"];
  let pulumiTunnelId: Promise<string | undefined> | undefined;
  const context: PreflightContext = {
    client,
    stack,
    settings,
    tunnelId: () =>
      tunnelIdOption !== undefined
        ? Promise.resolve(tunnelIdOption)
        : (pulumiTunnelId ??= tunnelIdFromPulumi(stack)),
    plannedResources: () => plannedResources(stack),
  };
  return finish([...gaps, ...(await runPreflight(context, boundMs, deadline))]);
}

if (isEntryPoint(import.meta.url)) void main(command, run);

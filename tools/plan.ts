/**
 * `npm run plan -- --stack <name> [--json]`: what the stack declares, from the real program run
 * under Pulumi's mocks. No Cloudflare API is called; `pulumi preview` gives the real diff.
 */
import { PLACEHOLDER_ID } from "../infra/config/fields";
import { stackGaps } from "../infra/config/gaps";
import { StackConfigError } from "../infra/config/schema";
import {
  BRIDGE_WATCH_BINDINGS,
  type BridgeWatchSettings,
} from "../worker/src/bridgeWatch/bindings";
import { LINE_BINDINGS } from "../worker/src/line/contract";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";
import { runProgramOffline, Secret, type DeclaredResource } from "../infra/offlineRun";
import { RESOURCE_TYPES, shortType } from "../infra/resourceTypes";
import { knownStacks, loadStackSettings, stackFileName } from "../infra/config/stackFiles";

const SECRET_MASK = "[secret]";

interface Binding {
  name: string;
  type: string;
  text?: unknown;
  json?: string;
  className?: string;
  scriptName?: string;
}

/** Secrets become [secret]; a secret binding list keeps its names and types (Pulumi marks the whole list secret). */
export function displayValue(value: unknown, key = ""): unknown {
  if (value instanceof Secret) {
    if (key === "bindings" && Array.isArray(value.value)) {
      return (value.value as Binding[]).map((binding) =>
        binding.type === "secret_text" ? { ...binding, text: SECRET_MASK } : displayValue(binding),
      );
    }
    return SECRET_MASK;
  }
  if (Array.isArray(value)) return value.map((item) => displayValue(item));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, displayValue(v, k)]));
  return value;
}

/** A Worker script's bindings, which the program passes as one secret. */
function bindingsOf(script: DeclaredResource): Binding[] {
  return script.inputs.bindings instanceof Secret
    ? (script.inputs.bindings.value as Binding[])
    : [];
}

const {
  script: WORKERS_SCRIPT,
  notification: NOTIFICATION_POLICY,
  cron: CRON_TRIGGER,
} = RESOURCE_TYPES;

/** One line per alert: what fires it and where it goes (the reviewer's question about alerts). */
export function alertSummary(resources: DeclaredResource[]): string[] {
  const lines = resources
    .filter((r) => r.type === NOTIFICATION_POLICY)
    .map(
      (r) =>
        `${r.inputs.alertType}: ${r.inputs.description} → ${Object.keys((r.inputs.mechanisms as object) ?? {}).join(", ")}`,
    );
  if (resources.some((r) => r.type === CRON_TRIGGER)) {
    const watch = JSON.parse(
      resources
        .filter((r) => r.type === WORKERS_SCRIPT)
        .flatMap(bindingsOf)
        .find((b) => b.name === BRIDGE_WATCH_BINDINGS.settings)?.json ?? "{}",
    ) as Partial<BridgeWatchSettings>;
    lines.push(
      `bridge_probe: the edge Worker probes every bridge every minute through its tunnel and POSTs the webhook after ${watch.failuresBeforeAlert} consecutive failures of one${watch.notifyRecovery ? ", and when it recovers" : ""}, and after ${watch.busyMinutesBeforeAlert} minutes with no bridge free → webhook`,
    );
    const users = watch.users;
    if (users) {
      const percent = (share: number) => `${Math.round(share * 100)} %`;
      const shares = [
        ...(users.turnedAwayShare !== undefined
          ? [`${percent(users.turnedAwayShare)} or more of visitors were turned away`]
          : []),
        ...(users.waitedShare !== undefined
          ? [
              `${percent(users.waitedShare)} or more of ended waits in line were longer than ${users.waitedLongerThanS} s`,
            ]
          : []),
      ];
      lines.push(
        `what users feel: every minute the edge Worker asks dataset ${users.dataset} (SQL API, the secret ANALYTICS_READ_TOKEN) and POSTs the webhook once when ${shares.join(", or when ")} over the last ${users.turnedAwayMinutes} minutes (with at least ${users.minVisitors}) → webhook`,
      );
    }
  }
  return lines;
}

/**
 * The waiting line in a few lines: its script and class, its settings and the migrations this
 * upload would carry. Offline, the account's live migration tag is not read: the run is a first `up`.
 */
export function lineSummary(resources: DeclaredResource[]): string[] {
  const edge = resources.find((r) => r.type === WORKERS_SCRIPT && r.name.endsWith("-worker"));
  const coordinator = edge && bindingsOf(edge).find((b) => b.name === LINE_BINDINGS.coordinator);
  const script = resources.find(
    (r) =>
      r.type === WORKERS_SCRIPT &&
      coordinator?.scriptName !== undefined &&
      r.inputs.scriptName === coordinator.scriptName,
  );
  if (!coordinator || !script)
    return ["off (voice-edge:line.enabled is false): the edge admits as it always has"];
  const settings = bindingsOf(script).find((b) => b.name === LINE_BINDINGS.settings)?.json ?? "{}";
  const migrations = script.inputs.migrations as
    { newTag?: string; steps?: Record<string, string[]>[] } | undefined;
  const steps = (migrations?.steps ?? [])
    .flatMap((step) =>
      Object.entries(step).map(([kind, classes]) => `${kind} ${classes.join(", ")}`),
    )
    .join("; ");
  return [
    `${coordinator.scriptName}: the coordinator, Durable Object class ${coordinator.className}, bound to the edge Worker as ${coordinator.name}`,
    `settings (${LINE_BINDINGS.settings}): ${Object.entries(
      JSON.parse(settings) as Record<string, unknown>,
    )
      .map(([key, value]) => `${key} ${value}`)
      .join(", ")}`,
    migrations
      ? `migrations this upload carries: up to ${migrations.newTag} (${steps}); offline, no live tag is read, so this is a first \`up\`: \`pulumi up\` reads the script's migration tag and sends only what is pending`
      : "migrations this upload carries: none (the live tag is the last one)",
  ];
}

interface BridgeLine {
  name: string;
  hostname: string;
  tunnelName: string;
  tunnelId: string;
}

/** One line per bridge: its hostname, the service its tunnel reaches, and its tunnel's name. */
export function fleetSummary(
  resources: DeclaredResource[],
  outputs: Record<string, unknown>,
): string[] {
  const bridges = (outputs.bridges as BridgeLine[] | undefined) ?? [];
  return bridges.map((bridge) => {
    const config = resources.find(
      (r) => r.type === RESOURCE_TYPES.tunnelConfig && r.inputs.tunnelId === bridge.tunnelId,
    );
    const ingresses =
      (config?.inputs.config as { ingresses?: { hostname?: string; service: string }[] })
        ?.ingresses ?? [];
    const service = ingresses.find((rule) => rule.hostname === bridge.hostname)?.service ?? "?";
    return `${bridge.name}: ${bridge.hostname} → ${service} (tunnel ${bridge.tunnelName})`;
  });
}

/** A resource's inputs as a reviewer reads them: secrets masked, the Worker's bundle as its size. */
export function displayInputs(resource: DeclaredResource): Record<string, unknown> {
  const inputs = displayValue(resource.inputs) as Record<string, unknown>;
  if (resource.type === WORKERS_SCRIPT && typeof inputs.content === "string")
    inputs.content = `<bundle, ${Buffer.byteLength(inputs.content)} bytes>`;
  return inputs;
}

function formatInputs(resource: DeclaredResource): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(displayInputs(resource))) {
    if (key === "bindings" && Array.isArray(value)) {
      lines.push("bindings:");
      for (const binding of value as Binding[])
        lines.push(
          `  ${binding.name} (${binding.type}) = ${binding.className ? `${binding.className} in ${binding.scriptName}` : (binding.json ?? JSON.stringify(binding.text))}`,
        );
    } else {
      lines.push(`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
    }
  }
  return lines;
}

const command = defineCommand({
  name: "plan",
  options: {
    stack: {
      type: "string",
      value: "<name>",
      required: true,
      description: `the stack to show (${knownStacks().join(", ")})`,
    },
    json: {
      type: "boolean",
      description: "print the resources as a JSON array of {type, name, inputs}",
    },
  },
  notes: ["exit: 0 printed, 1 the program failed, 2 a usage mistake or an invalid stack file"],
});

export async function run(argv: string[]): Promise<number> {
  const args = command.parse(argv);
  if (!knownStacks().includes(args.stack))
    throw new UsageError(
      `no stack file ${stackFileName(args.stack)}: the stacks here are ${knownStacks().join(", ")}`,
    );

  let resources: DeclaredResource[];
  let outputs: Record<string, unknown>;
  try {
    ({ resources, outputs } = await runProgramOffline(args.stack));
    resources.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
  } catch (error) {
    if (error instanceof StackConfigError) throw error;
    throw new CommandFailure(`the program failed: ${(error as Error).message}`);
  }

  if (args.json) {
    console.log(
      JSON.stringify(
        resources.map((r) => ({ type: r.type, name: r.name, inputs: displayInputs(r) })),
        null,
        2,
      ),
    );
  } else {
    const placeholders = resources.some((r) =>
      Object.entries(r.inputs).some(
        ([key, value]) =>
          /(account|zone)Id$/.test(key) && typeof value === "string" && PLACEHOLDER_ID.test(value),
      ),
    );
    console.log(`voice-edge plan for stack "${args.stack}" (${stackFileName(args.stack)})
Offline: the real program ran under Pulumi's mocks. No Cloudflare API was called; IDs and
tokens below are stand-ins and secrets are masked. \`pulumi preview --stack ${args.stack}\` shows the real diff.`);
    if (placeholders)
      console.log(
        `\nwarning: ${stackFileName(args.stack)} still has placeholder account/zone IDs (all zeros); set yours before \`pulumi up\`.`,
      );
    for (const gap of stackGaps(loadStackSettings(args.stack), args.stack))
      console.log(`\nwarning: ${gap.message} → ${gap.action}`);
    console.log(`\n${resources.length} resources:`);
    const print = (resource: DeclaredResource, indent: string) => {
      console.log(
        `\n${indent}+ ${shortType(resource.type)}  ${resource.name}   (${resource.type})`,
      );
      for (const line of formatInputs(resource)) console.log(`${indent}    ${line}`);
      for (const child of resources.filter((r) => r.parent === resource.name && r !== resource))
        print(child, `${indent}    `);
    };
    for (const resource of resources.filter((r) => r.parent === undefined)) print(resource, "");
    const fleet = fleetSummary(resources, outputs);
    console.log(`\nbridges (${fleet.length}):`);
    for (const line of fleet) console.log(`    ${line}`);
    console.log("\nline:");
    for (const line of lineSummary(resources)) console.log(`    ${line}`);
    console.log("\nalerts:");
    for (const line of alertSummary(resources)) console.log(`    ${line}`);
    console.log("\noutputs:");
    for (const [name, value] of Object.entries(outputs))
      console.log(`    ${name}: ${JSON.stringify(displayValue(value))}`);
  }
  return 0;
}

if (isEntryPoint(import.meta.url)) {
  process.stdout.on("error", (error: NodeJS.ErrnoException) =>
    process.exit(error.code === "EPIPE" ? 0 : 1),
  );
  void main(command, run);
}

import { randomBytes } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT, type SecretKey } from "./config/schema";
import { isEncryptedValue, SECRET_CONFIG_KEYS } from "./config/stackFiles";
import { readStackFile } from "./config/stackFiles";
import type { WorkerBundle } from "../worker/build";
import { answerLineInputsOffline, buildLineBundle } from "./lineInputs";
import type { LiveLineScript } from "./lineMigrations";
import { INVOKE_TOKENS, RESOURCE_TYPES } from "./resourceTypes";

/** Pulumi's wire marker for a secret value (sdk/nodejs/runtime/rpc.ts). */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** A value the program passed as a Pulumi secret. */
export class Secret {
  constructor(readonly value: unknown) {}
  toJSON(): string {
    return "[secret]";
  }
}

export interface DeclaredResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** Names of the resources this one waits for (`dependsOn` and inputs taken from them). */
  dependsOn: string[];
  /** The `import` option: the ID of an existing resource to adopt instead of creating one. */
  importId?: string;
  ignoreChanges: string[];
  /** `retainOnDelete`: `pulumi destroy` leaves the resource in Cloudflare. */
  retainOnDelete: boolean;
  /** The name of the resource this one is a child of (the component), if any. */
  parent?: string;
  /** The provider reference (`<urn>::<id>`) a custom resource was registered with. */
  provider?: string;
  /** The resource's URN as the mocks form it (`urn:pulumi:<stack>::<project>::<parent type>$<type>::<name>`). */
  urn: string;
  /** The URNs its `aliases` option stands for, formed the same way: what an existing stack may know it as. */
  aliases: string[];
  /** A component's `registerOutputs`, secrets as `Secret`s. */
  registeredOutputs?: Record<string, unknown>;
}

export interface ProgramRun {
  resources: DeclaredResource[];
  outputs: Record<string, unknown>;
}

export interface RunOptions {
  /** The program to run; default the stack program, infra/index.ts. */
  entry?: URL;
  /** Stack-file keys to replace (`voice-edge:zone`); `undefined` removes a key. */
  override?: Record<string, unknown>;
  /** Secret config, as `pulumi config set --secret` would hold it. Defaults to fresh random values. */
  secrets?: Partial<Record<SecretKey | "cloudflare:apiToken", string>>;
  /** Keys given in `secrets` to store in plaintext instead, as a careless `pulumi config set` would. */
  plaintext?: string[];
  /** Receives each resource as it is declared (also when the program then fails). */
  declared?: DeclaredResource[];
  /** With the line on: the line script as the account would hold it. Default: no script yet (a first `up`). */
  liveLineScript?: LiveLineScript | (() => Promise<LiveLineScript>);
  /** With the line on: the coordinator's bundle. Default: built from worker/src/line/index.ts. */
  lineBundle?: WorkerBundle;
}

/** What the offline run assumes of the account when told nothing: the line script does not exist yet. */
export const OFFLINE_LIVE_LINE_SCRIPT: LiveLineScript = { exists: false };

/** Fresh, valid, random values for the secrets every stack here needs: the plan shows them only as [secret]. */
export function placeholderSecrets(): Partial<Record<SecretKey, string>> {
  return {
    jwtSecret: randomBytes(32).toString("base64url"),
    tunnelSecret: randomBytes(32).toString("base64"),
    alertWebhookUrl: `https://hooks.example.com/placeholder/${randomBytes(8).toString("hex")}`,
  };
}

function revealSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revealSecrets);
  if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (record[SECRET_SIG_KEY] === SECRET_SIG) return new Secret(revealSecrets(record.value));
    return Object.fromEntries(
      Object.entries(record).map(([key, inner]) => [key, revealSecrets(inner)]),
    );
  }
  return value;
}

/** Fakes the values Cloudflare computes, so dependent inputs resolve to recognisable strings. */
function computedState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  if (type === RESOURCE_TYPES.serviceToken) {
    return { ...inputs, clientId: `${name}.access`, clientSecret: `${name}-client-secret` };
  }
  if (type === RESOURCE_TYPES.d1) return { ...inputs, uuid: `${name}-uuid` };
  return inputs;
}

const promiseOf = <T>(output: pulumi.Output<T>) =>
  new Promise<T>((resolve) => output.apply(resolve));

let runs = 0;

type ResourceOptions = Pick<
  DeclaredResource,
  "dependsOn" | "importId" | "ignoreChanges" | "retainOnDelete" | "parent" | "urn" | "aliases"
>;

interface AliasSpec {
  getName(): string;
  getType(): string;
  getStack(): string;
  getProject(): string;
  getParenturn(): string;
  getNoparent(): boolean;
}

interface RegisterResourceRequest {
  getType(): string;
  getName(): string;
  getDependenciesList(): string[];
  getImportid(): string;
  getIgnorechangesList(): string[];
  getRetainondelete(): boolean;
  getParent(): string;
  getAliasesList(): { getUrn(): string; getSpec(): AliasSpec | undefined }[];
}

interface RegisterOutputsRequest {
  getUrn(): string;
  getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined;
}

/** The stack itself is every resource's root; only a component counts as a parent here. */
function parentName(urn: string): string | undefined {
  if (!urn || urn.includes("::pulumi:pulumi:Stack::")) return undefined;
  return urn.split("::").at(-1);
}

/** A URN as the mock monitor forms it: the parent's own type (not its whole chain) qualifies the child's. */
export function mockUrn(stack: string, parentUrn: string, type: string, name: string): string {
  const qualified = parentUrn ? `${parentUrn.split("::")[2].split("$").at(-1)}$${type}` : type;
  return `urn:pulumi:${stack}::${PROJECT}::${qualified}::${name}`;
}

/** An alias spec leaves out what stays the same: the SDK fills in the parent, the engine the rest. */
function aliasUrns(stack: string, req: RegisterResourceRequest): string[] {
  return req.getAliasesList().map((alias) => {
    const spec = alias.getSpec();
    if (!spec) return alias.getUrn();
    const parent = spec.getNoparent() ? "" : spec.getParenturn() || req.getParent();
    const urn = mockUrn(
      spec.getStack() || stack,
      parent,
      spec.getType() || req.getType(),
      spec.getName() || req.getName(),
    );
    return spec.getProject() && spec.getProject() !== PROJECT
      ? urn.replace(`::${PROJECT}::`, `::${spec.getProject()}::`)
      : urn;
  });
}

/**
 * The mocks' `newResource` sees only inputs; the options that order, adopt and rename resources
 * (`dependsOn`, `import`, `ignoreChanges`, `aliases`) travel in the register request, read here.
 * Two resources with one URN are recorded in `clashes`: the engine refuses such a program.
 */
function recordResourceOptions(
  stack: string,
  requests: Map<string, ResourceOptions[]>,
  clashes: string[],
  resources: DeclaredResource[],
): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource: (req: RegisterResourceRequest, callback: unknown) => unknown;
    registerResourceOutputs: (req: RegisterOutputsRequest, callback: unknown) => unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req, callback) => {
    const resource = resources.find((r) => r.urn === req.getUrn());
    if (resource)
      resource.registeredOutputs = revealSecrets(req.getOutputs()?.toJavaScript() ?? {}) as Record<
        string,
        unknown
      >;
    return registerOutputs(req, callback);
  };
  const urns = new Set<string>();
  monitor.registerResource = (req, callback) => {
    const urn = mockUrn(stack, req.getParent(), req.getType(), req.getName());
    if (urns.has(urn)) clashes.push(urn);
    urns.add(urn);
    const key = `${req.getType()}::${req.getName()}`;
    requests.set(key, [
      ...(requests.get(key) ?? []),
      {
        dependsOn: req
          .getDependenciesList()
          .map((dependency) => dependency.split("::").at(-1) ?? dependency),
        importId: req.getImportid() || undefined,
        ignoreChanges: req.getIgnorechangesList(),
        retainOnDelete: req.getRetainondelete(),
        parent: parentName(req.getParent()),
        urn,
        aliases: aliasUrns(stack, req),
      },
    ]);
    return register(req, callback);
  };
}

/**
 * Runs the real program (infra/index.ts) under Pulumi's mocks with a stack file's config:
 * no CLI, no Cloudflare API. Returns every resource declared with its inputs, and the outputs.
 */
export async function runProgramOffline(
  stack: string,
  options: RunOptions = {},
): Promise<ProgramRun> {
  const config: Record<string, string> = {};
  const stackFile = { ...readStackFile(stack), ...options.override };
  const encrypted: string[] = [];
  for (const [key, value] of Object.entries(stackFile)) {
    if (value === undefined) continue;
    if (isEncryptedValue(value)) encrypted.push(key);
    else config[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  const secrets = options.secrets ?? placeholderSecrets();
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(secrets)) {
    if (value === undefined) continue;
    const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
    // A secret written into the stack file in plaintext stays as Pulumi would pass it: in plaintext.
    if (SECRET_CONFIG_KEYS.includes(fullKey) && fullKey in config) continue;
    config[fullKey] = value;
    if (!options.plaintext?.includes(key)) secretKeys.push(fullKey);
  }
  // Encrypted values (`secure:` in the file) stand for secrets set properly: random stand-ins.
  for (const key of encrypted) {
    if (key in config) continue;
    config[key] = randomBytes(32).toString("base64");
    secretKeys.push(key);
  }
  pulumi.runtime.setAllConfig(config, secretKeys);

  const resources: DeclaredResource[] = options.declared ?? [];
  const requests = new Map<string, ResourceOptions[]>();
  const clashes: string[] = [];
  const unanswered: string[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = revealSecrets(args.inputs) as Record<string, unknown>;
        const request = requests.get(`${args.type}::${args.name}`)?.shift();
        if (!request)
          throw new Error(
            `the offline run saw ${args.type} ${args.name} without its register request`,
          );
        resources.push({
          type: args.type,
          name: args.name,
          inputs,
          ...request,
          ...(args.provider ? { provider: args.provider } : {}),
        });
        return { id: `${args.name}-id`, state: computedState(args.type, args.name, args.inputs) };
      },
      call(args) {
        if (args.token === INVOKE_TOKENS.tunnelToken)
          return { ...args.inputs, token: "mock-connector-token" };
        // Thrown here, the error would reject an output no one awaits (an unhandled rejection, not a
        // failed run): the run fails once the program has been read, naming every such invoke.
        unanswered.push(args.token);
        return {};
      },
    },
    PROJECT,
    stack,
    false,
  );

  recordResourceOptions(stack, requests, clashes, resources);

  runs += 1;
  // A fresh module instance per run: the program's top level is what declares the resources.
  const entry = `${(options.entry ?? new URL("./index.ts", import.meta.url)).href}?stack=${stack}&run=${runs}`;
  const { liveLineScript = OFFLINE_LIVE_LINE_SCRIPT, lineBundle } = options;
  const restoreLineInputs = answerLineInputsOffline({
    bundle: () => (lineBundle ? Promise.resolve(lineBundle) : buildLineBundle()),
    liveScript: () =>
      typeof liveLineScript === "function" ? liveLineScript() : Promise.resolve(liveLineScript),
  });
  let program: Record<string, unknown>;
  try {
    program = (await import(/* @vite-ignore */ entry)) as Record<string, unknown>;
  } finally {
    restoreLineInputs();
  }
  const outputs: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(program)) {
    if (pulumi.Output.isInstance(value)) {
      const resolved = await promiseOf(value);
      outputs[name] = (await (value as unknown as { isSecret: Promise<boolean> }).isSecret)
        ? new Secret(resolved)
        : resolved;
    } else {
      outputs[name] = value;
    }
  }
  await pulumi.runtime.disconnect();
  if (unanswered.length > 0)
    throw new Error(
      `the offline run has no answer for the invoke ${[...new Set(unanswered)].join(", ")}; add one to infra/offlineRun.ts if the program now calls it`,
    );
  if (clashes.length > 0)
    throw new Error(
      `Duplicate resource URN${clashes.length > 1 ? "s" : ""} (the engine refuses the program): ${clashes.join(", ")}`,
    );
  return { resources, outputs };
}

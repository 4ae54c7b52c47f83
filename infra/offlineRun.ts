import { randomBytes } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT, type SecretKey } from "./config/schema";
import { isEncryptedValue, SECRET_CONFIG_KEYS } from "./config/stackFiles";
import { readStackFile } from "./config/stackFiles";

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
}

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
    return Object.fromEntries(Object.entries(record).map(([key, inner]) => [key, revealSecrets(inner)]));
  }
  return value;
}

/** Fakes the values Cloudflare computes, so dependent inputs resolve to recognisable strings. */
function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  if (type === "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken") {
    return { ...inputs, clientId: `${name}.access`, clientSecret: `${name}-client-secret` };
  }
  if (type === "cloudflare:index/d1Database:D1Database") return { ...inputs, uuid: `${name}-uuid` };
  return inputs;
}

const promiseOf = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve));

let runs = 0;

type ResourceOptions = Pick<DeclaredResource, "dependsOn" | "importId" | "ignoreChanges" | "retainOnDelete" | "parent">;

interface RegisterResourceRequest {
  getType(): string;
  getName(): string;
  getDependenciesList(): string[];
  getImportid(): string;
  getIgnorechangesList(): string[];
  getRetainondelete(): boolean;
  getParent(): string;
}

/**
 * The mocks' `newResource` sees only inputs; the options that order and adopt resources
 * (`dependsOn`, `import`, `ignoreChanges`) travel in the register request, read here.
 */
/** The stack itself is every resource's root; only a component counts as a parent here. */
function parentName(urn: string): string | undefined {
  if (!urn || urn.includes("::pulumi:pulumi:Stack::")) return undefined;
  return urn.split("::").at(-1);
}

function recordResourceOptions(requests: Map<string, ResourceOptions>): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: (req: RegisterResourceRequest, callback: unknown) => unknown };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    requests.set(`${req.getType()}::${req.getName()}`, {
      dependsOn: req.getDependenciesList().map((urn) => urn.split("::").at(-1) ?? urn),
      importId: req.getImportid() || undefined,
      ignoreChanges: req.getIgnorechangesList(),
      retainOnDelete: req.getRetainondelete(),
      parent: parentName(req.getParent()),
    });
    return register(req, callback);
  };
}

/**
 * Runs the real program (infra/index.ts) under Pulumi's mocks with a stack file's config:
 * no CLI, no Cloudflare API. Returns every resource declared with its inputs, and the outputs.
 */
export async function runProgramOffline(stack: string, options: RunOptions = {}): Promise<ProgramRun> {
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
  const requests = new Map<string, ResourceOptions>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = revealSecrets(args.inputs) as Record<string, unknown>;
        const request = requests.get(`${args.type}::${args.name}`) ?? { dependsOn: [], ignoreChanges: [], retainOnDelete: false };
        resources.push({ type: args.type, name: args.name, inputs, ...request, ...(args.provider ? { provider: args.provider } : {}) });
        return { id: `${args.name}-id`, state: computedState(args.type, args.name, args.inputs) };
      },
      call(args) {
        if (args.token === "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken") {
          return { ...args.inputs, token: "mock-connector-token" };
        }
        return args.inputs;
      },
    },
    PROJECT,
    stack,
    false,
  );

  recordResourceOptions(requests);

  runs += 1;
  // A fresh module instance per run: the program's top level is what declares the resources.
  const entry = `${(options.entry ?? new URL("./index.ts", import.meta.url)).href}?stack=${stack}&run=${runs}`;
  const program = (await import(/* @vite-ignore */ entry)) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(program)) {
    if (pulumi.Output.isInstance(value)) {
      const resolved = await promiseOf(value);
      outputs[name] = (await (value as unknown as { isSecret: Promise<boolean> }).isSecret) ? new Secret(resolved) : resolved;
    } else {
      outputs[name] = value;
    }
  }
  await pulumi.runtime.disconnect();
  return { resources, outputs };
}

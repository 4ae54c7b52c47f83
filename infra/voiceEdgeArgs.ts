import type { z } from "zod";
import type { WorkerBundle } from "../worker/build";
import {
  stackSecretsSchema,
  stackSettingsSchema,
  validateStackSecrets,
  type StackSecrets,
  type StackSettings,
} from "./config/schema";
import { isSecretKey, type SecretNaming } from "./config/secrets";
import type { LineDeployment } from "./line";
import { lineScriptName } from "../worker/src/line/contract";
import { pendingLineMigrations, type LiveLineScript } from "./lineMigrations";

/** The edge's settings as plain values: a stack file's `voice-edge:*` keys without the prefix. */
export type VoiceEdgeSettings = z.input<typeof stackSettingsSchema>;
/** Its secrets as plain strings; the component hands them to Cloudflare only as Pulumi secrets. */
export type VoiceEdgeSecrets = z.input<typeof stackSecretsSchema>;

export interface VoiceEdgeArgs {
  settings: VoiceEdgeSettings;
  secrets: VoiceEdgeSecrets;
  /** The Worker bundle: `await buildWorkerBundle()` from worker/build.ts. */
  bundle: WorkerBundle;
  /** Only with `settings.line.enabled`: what the line script is uploaded from. */
  line?: VoiceEdgeLineArgs;
}

export interface VoiceEdgeLineArgs {
  /** The coordinator's bundle: `await buildLineBundle()` from infra/lineInputs.ts. */
  bundle: WorkerBundle;
  /**
   * The line script as the account holds it now (`readLiveLineScript`): which Durable Object
   * migrations it still needs. Read it just before declaring, on every run.
   */
  liveScript: LiveLineScript;
}

export interface ValidVoiceEdgeArgs {
  settings: StackSettings;
  secrets: StackSecrets;
  bundle: WorkerBundle;
  line: LineDeployment | undefined;
}

/** Arguments a VoiceEdge cannot be built from; each problem starts with the argument at fault (`settings.zone.id: …`). */
export class VoiceEdgeArgsError extends Error {
  constructor(
    readonly component: string,
    readonly problems: string[],
  ) {
    super(
      `VoiceEdge "${component}": invalid arguments:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "VoiceEdgeArgsError";
  }
}

type Validated<T> = { value: T; problems: [] } | { value?: undefined; problems: string[] };

function argumentPath(root: string, path: readonly PropertyKey[]): string {
  return [root, ...path.map(String)].join(".");
}

function describe(root: string, issue: z.core.$ZodIssue): string {
  const at = argumentPath(root, issue.path);
  if (issue.code === "unrecognized_keys")
    return `${at}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return `${at}: ${issue.message}`;
}

/** The component's own name: every child's name starts with it. */
export function validateName(name: unknown): string[] {
  return typeof name === "string" && name.trim() !== ""
    ? []
    : ["name: must be a non-empty string (every child's name starts with it)"];
}

/** `settings`: the stack settings schema with its cross-field rules, problems addressed as `settings.<path>`. */
export function validateSettings(settings: unknown): Validated<StackSettings> {
  const result = stackSettingsSchema.safeParse(settings);
  return result.success
    ? { value: result.data, problems: [] }
    : { problems: result.error.issues.map((issue) => describe("settings", issue)) };
}

/** The rules between secrets and settings, in the words of the component's own arguments. */
const ARGUMENT_NAMING: SecretNaming = {
  name: (key) => `secrets.${key}`,
  howToSet: (key) => `pass it as secrets.${key}`,
  edgeKeys: {
    edge: "settings.edge",
    jwtSecret: "jwtSecret",
    jwtSecretPrevious: "jwtSecretPrevious",
  },
};

/**
 * `secrets`: each value, then against the settings that need them (an HS* algorithm needs
 * `jwtSecret`, the Free plan's probe a webhook, …). Messages never include a secret's value. The
 * cross-field rules are the stack's own (validateStackSecrets), so a program of one's own and a
 * stack file are held to the same ones.
 */
export function validateSecrets(
  settings: StackSettings,
  secrets: unknown,
): Validated<StackSecrets> {
  if (!secrets || typeof secrets !== "object" || Array.isArray(secrets))
    return {
      problems: ["secrets: must be an object of plain strings (jwtSecret, tunnelSecret, …)"],
    };
  const result = stackSecretsSchema.safeParse(secrets);
  if (!result.success)
    return { problems: result.error.issues.map((issue) => describe("secrets", issue)) };
  const problems = validateStackSecrets(settings, result.data, ARGUMENT_NAMING).map(
    ({ path, message }) =>
      `${argumentPath(isSecretKey(String(path[0])) ? "secrets" : "settings", path)}: ${message}`,
  );
  return problems.length > 0 ? { problems } : { value: result.data, problems: [] };
}

/** `bundle`: what `buildWorkerBundle()` returns; a hand-made object that does not match would upload a broken Worker. */
export function validateBundle(
  bundle: unknown,
  at = "bundle",
  builder = "buildWorkerBundle",
): string[] {
  const b = bundle as Partial<WorkerBundle> | undefined;
  if (!b || typeof b !== "object") return [`${at}: must be the result of \`await ${builder}()\``];
  const problems: string[] = [];
  if (typeof b.code !== "string" || b.code.length === 0)
    problems.push(`${at}.code: must be the bundled Worker's source (\`await ${builder}()\`)`);
  if (typeof b.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(b.sha256))
    problems.push(`${at}.sha256: must be the bundle's SHA-256 in hex`);
  if (typeof b.code === "string" && b.sizeBytes !== Buffer.byteLength(b.code))
    problems.push(`${at}.sizeBytes: must be the byte length of ${at}.code`);
  return problems;
}

function isLiveLineScript(value: unknown): value is LiveLineScript {
  const v = value as { exists?: unknown; migrationTag?: unknown } | undefined;
  if (!v || typeof v !== "object") return false;
  if (v.exists === false) return true;
  return v.exists === true && (v.migrationTag === null || typeof v.migrationTag === "string");
}

/**
 * `line`: given exactly when `settings.line.enabled`; its live script decides the migrations the
 * line script is uploaded with (pendingLineMigrations), so a tag this program does not know is
 * refused here, before anything is declared.
 */
export function validateLine(
  settings: StackSettings,
  line: unknown,
): Validated<LineDeployment | undefined> {
  if (!settings.line.enabled)
    return line === undefined
      ? { value: undefined, problems: [] }
      : { problems: ["line: settings.line.enabled is false: leave line out, or turn the line on"] };
  if (!line || typeof line !== "object")
    return {
      problems: [
        "line: settings.line.enabled is true: pass line: { bundle: await buildLineBundle(), liveScript: await readLiveLineScript(…) }",
      ],
    };
  const { bundle, liveScript } = line as Partial<VoiceEdgeLineArgs>;
  const problems = validateBundle(bundle, "line.bundle", "buildLineBundle");
  if (!isLiveLineScript(liveScript))
    problems.push(
      "line.liveScript: must be { exists: false } or { exists: true, migrationTag: string | null } (`await readLiveLineScript(…)`)",
    );
  else {
    try {
      const migrations = pendingLineMigrations(lineScriptName(settings.workerName), liveScript);
      if (problems.length === 0)
        return { value: { bundle: bundle as WorkerBundle, migrations }, problems: [] };
    } catch (error) {
      problems.push(`line.liveScript.migrationTag: ${(error as Error).message}`);
    }
  }
  return { problems };
}

/** Every argument of a VoiceEdge, checked before the component or any child is declared. */
export function validateVoiceEdgeArgs(name: string, args: VoiceEdgeArgs): ValidVoiceEdgeArgs {
  const problems = [...validateName(name)];
  if (!args || typeof args !== "object")
    throw new VoiceEdgeArgsError(String(name), [
      ...problems,
      "args: must be { settings, secrets, bundle, line? }",
    ]);
  const settings = validateSettings(args.settings);
  problems.push(...settings.problems);
  const secrets = settings.value ? validateSecrets(settings.value, args.secrets) : undefined;
  problems.push(...(secrets?.problems ?? []));
  problems.push(...validateBundle(args.bundle));
  const line = settings.value ? validateLine(settings.value, args.line) : undefined;
  problems.push(...(line?.problems ?? []));
  if (problems.length > 0 || !settings.value || !secrets?.value || !line)
    throw new VoiceEdgeArgsError(String(name), problems);
  return {
    settings: settings.value,
    secrets: secrets.value,
    bundle: args.bundle,
    line: line.value,
  };
}

/**
 * `npm run guard`: HAProxy in front of a PersonaPlex server, as each GPU VM runs it.
 *
 *   npm run guard -- --upstream <http(s)://host:port> --port <p> [--capacity <n>]
 *       [--upstream-ca <file> | --upstream-insecure] [--voices <file> | --voices-dir <dir>]
 *       [--max-session-minutes <n>]
 *     probes the upstream once (refusing a definite protocol or certificate mismatch), then runs the
 *     guard in the foreground on 127.0.0.1 (config, voices and socket in a private folder of its own,
 *     removed on exit); HAProxy's session lines go to stdout.
 *   npm run guard -- --drain --port <p>   /   --ready --port <p>
 *     no new sessions (the live ones continue) / sessions again, through the running guard's socket.
 *   npm run guard -- --print-config --stack <name> [--bridge <name>]
 *     the files for the VM, each after a `### <path>` line (for a stack that lists bridges: that
 *     bridge's, with its capacity; with --voices-dir, the voices installed there).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StackConfigError } from "../infra/config/errors";
import { guardOfBridge, guardSchema } from "../infra/config/guard";
import { knownStacks, loadStackSettings } from "../infra/config/stackFiles";
import {
  BACKEND,
  DRAINED_KEY,
  drainedMap,
  GuardConfigError,
  haproxyConfig,
  parseUpstream,
  SERVER,
  SERVER_REF,
  sessionCapLua,
  stateCommands,
  VM_PATHS,
  vmFiles,
  voicesFile,
  type GuardConfigInput,
  type UpstreamTls,
} from "../infra/guard/haproxyConfig";
import { sessionRecordsLua } from "../infra/guard/sessionRecords";
import { isVoiceFileName, STOCK_VOICES, VOICE_FILE_NAME_EXAMPLE } from "../worker/src/voices";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";
import { haproxyBinary, HAPROXY_MISSING } from "./lib/guardProcess";
import { whenLauncherExits } from "./lib/parentWatch";
import {
  createPrivateDirectory,
  exists,
  privateDirectoryProblem,
  socketProblem,
} from "./lib/privateRunDirectory";
import { caFileProblem, probeUpstream } from "./lib/upstreamProbe";

/**
 * Where the real PersonaPlex server (moshi/moshi/server.py) keeps its voice files: its
 * --voice-prompt-dir, else voices.tgz from its Hugging Face repo, unpacked beside the download.
 */
export const PERSONAPLEX_VOICES_DIR =
  "~/.cache/huggingface/hub/models--nvidia--personaplex-7b-v1/snapshots/<revision>/voices";

const command = defineCommand({
  name: "guard",
  options: {
    upstream: {
      type: "string",
      value: "<url>",
      description: "the PersonaPlex server, http(s)://host:port (https when it runs with --ssl)",
    },
    port: {
      type: "string",
      value: "<port>",
      description: "the guard's port on 127.0.0.1 (with --drain/--ready: the running guard's)",
    },
    capacity: {
      type: "string",
      value: "<n>",
      default: "1",
      description: "sessions at once; one more gets 503 + Retry-After before the upgrade",
    },
    "retry-after": {
      type: "string",
      value: "<s>",
      default: "5",
      description: "seconds a refused client is told to wait",
    },
    "max-session-minutes": {
      type: "string",
      value: "<n>",
      description:
        "end each session after this many minutes (1-1440), frames or not; without it only 10 minutes idle end one",
    },
    "upstream-ca": {
      type: "string",
      value: "<file>",
      description:
        "verify an https upstream against this certificate: the CA that issued the server's (mkcert: $(mkcert -CAROOT)/rootCA.pem), or the server's own when self-signed",
    },
    "upstream-insecure": {
      type: "boolean",
      description: "reach an https upstream without verifying its certificate",
    },
    voices: {
      type: "string",
      value: "<file>",
      description: `the voice_prompt values to admit, one file name a line (e.g. ${VOICE_FILE_NAME_EXAMPLE}); without it and --voices-dir: the ${STOCK_VOICES.length} voices of the stock PersonaPlex client`,
    },
    "voices-dir": {
      type: "string",
      value: "<dir>",
      description: `admit the *.pt files in the server's voice directory: its --voice-prompt-dir, else ${PERSONAPLEX_VOICES_DIR}`,
    },
    drain: {
      type: "boolean",
      description: "tell the running guard to take no new sessions (the live ones continue)",
    },
    ready: { type: "boolean", description: "tell the running guard to take sessions again" },
    socket: {
      type: "string",
      value: "<path>",
      description: `with --drain/--ready: the guard's socket instead of --port (on the VM: ${VM_PATHS.socket})`,
    },
    "print-config": {
      type: "boolean",
      description: "print the VM's files (haproxy.cfg, systemd drop-in) from --stack",
    },
    stack: {
      type: "string",
      value: "<name>",
      description: `with --print-config: the stack (${knownStacks().join(", ")})`,
    },
    bridge: {
      type: "string",
      value: "<name>",
      description:
        "with --print-config, for a stack that lists voice-edge:bridges: the bridge whose VM gets the files",
    },
  },
  notes: [
    "HAPROXY_PATH: the haproxy binary (default: haproxy on PATH; Debian/Ubuntu package haproxy)",
    "answers: 503 bridge_busy + Retry-After when full or draining, 400 session_options_invalid, 404 beyond /api/chat, /health and /sessions (the last ended sessions), 503 bridge_unavailable",
  ],
});

type Args = ReturnType<typeof command.parse>;

function tcpPort(value: string | undefined, flag = "--port"): number {
  const port = Number(value);
  if (value === undefined) throw new UsageError(`${flag} is required`);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`${flag} "${value}" is not a TCP port`);
  return port;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1)
    throw new UsageError(`${flag} "${value}" must be a whole number from 1`);
  return n;
}

/** `--max-session-minutes`, in the stack key's range (`guard.maxSessionMinutes`). */
function maxSessionMinutes(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const minutes = /^\d+$/.test(value) ? Number(value) : NaN;
  const checked = guardSchema.shape.maxSessionMinutes.safeParse(minutes);
  if (!checked.success || checked.data === undefined)
    throw new UsageError(
      `--max-session-minutes "${value}" must be a whole number of minutes (${checked.error?.issues[0].message ?? "got none"})`,
    );
  return checked.data;
}

/**
 * Where a guard on `port` keeps its files: known from the port alone, so --drain finds the socket;
 * trusted only when private to this user (tools/lib/privateRunDirectory.ts).
 */
export function runDirectory(port: number): string {
  return join(tmpdir(), `voice-edge-guard-${port}`);
}

/** Sends one runtime API command; resolves with HAProxy's answer. */
export function adminCommand(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let answer = "";
    conn.setTimeout(5_000, () => conn.destroy(new Error(`no answer on ${socket} within 5 s`)));
    conn.on("connect", () => conn.write(`${line}\n`));
    conn.on("data", (chunk) => (answer += chunk));
    conn.on("end", () => resolve(answer.trim()));
    conn.on("error", reject);
  });
}

/** The server's admin state flags in `show servers state` (HAProxy's SRV_ADMF_*): forced maintenance, forced drain. */
const ADMIN_FORCED_MAINTENANCE = 0x01;
const ADMIN_FORCED_DRAIN = 0x08;

/**
 * The guard server's admin state from `show servers state <backend>`, or undefined when the answer
 * has no such table or row (whatever answered is not a voice-edge guard).
 */
export function adminStateOf(answer: string): number | undefined {
  const lines = answer.split("\n").map((line) => line.trim());
  const header = lines.find((line) => line.startsWith("# be_id "));
  if (!header) return undefined;
  const columns = header.slice(2).split(/\s+/);
  const [backend, server, admin] = ["be_name", "srv_name", "srv_admin_state"].map((name) =>
    columns.indexOf(name),
  );
  if (backend < 0 || server < 0 || admin < 0) return undefined;
  const row = lines
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => line.split(/\s+/))
    .find((fields) => fields[backend] === BACKEND && fields[server] === SERVER);
  const state = row ? Number(row[admin]) : NaN;
  return Number.isInteger(state) ? state : undefined;
}

/** The drain mark's value in a `get map` answer (`… value="true" …`), or undefined without one. */
export function drainMarkOf(answer: string): boolean | undefined {
  const value = /\bfound=yes\b.*\bvalue="(true|false)"/.exec(answer)?.[1];
  return value === undefined ? undefined : value === "true";
}

/** Where a local guard keeps the map file of its drain mark. */
const drainedFileIn = (dir: string) => join(dir, "drained.map");

/**
 * The socket of the guard --drain/--ready talks to, after checking that it is this user's own, and
 * the map file of its drain mark (with --socket: the VM's).
 */
function trustedSocket(args: Args): { socket: string; drainedFile: string } {
  if (args.socket) {
    const problem = socketProblem(args.socket);
    if (problem) throw new CommandFailure(`--socket ${args.socket} ${problem}`);
    return { socket: args.socket, drainedFile: VM_PATHS.drained };
  }
  const port = tcpPort(args.port);
  const dir = runDirectory(port);
  if (!exists(dir)) throw new CommandFailure(`no guard runs on port ${port} (no folder ${dir})`);
  const folder = privateDirectoryProblem(dir);
  if (folder)
    throw new CommandFailure(
      `run folder ${dir} ${folder}: not a guard of this user's; nothing sent to it`,
    );
  const socket = join(dir, "admin.sock");
  const problem = socketProblem(socket);
  if (problem)
    throw new CommandFailure(
      problem === "does not exist"
        ? `no guard runs on port ${port} (no socket ${socket})`
        : `${socket} ${problem}; nothing sent to it`,
    );
  return { socket, drainedFile: drainedFileIn(dir) };
}

async function setState(args: Args): Promise<number> {
  const state = args.drain ? "drain" : "ready";
  const { socket, drainedFile } = trustedSocket(args);
  const where = args.socket ? socket : `port ${args.port} (${socket})`;
  const send = async (line: string) => {
    try {
      return await adminCommand(socket, line);
    } catch (error) {
      throw new CommandFailure(`no guard answers on ${where} (${(error as Error).message})`);
    }
  };
  for (const line of stateCommands(state, drainedFile)) {
    const answer = await send(line);
    if (answer.startsWith("Unknown map identifier"))
      throw new CommandFailure(
        `the guard on ${where} has no drain mark ${drainedFile} (its files predate it): its server is set to ${state}, but /health says draining only while the server is up; install the files of npm run guard -- --print-config`,
      );
    if (answer) throw new CommandFailure(`the guard refused "${line}": ${answer}`);
  }
  const servers = await send(`show servers state ${BACKEND}`);
  const mark = drainMarkOf(await send(`get map ${drainedFile} ${DRAINED_KEY}`));
  const admin = adminStateOf(servers);
  if (admin === undefined)
    throw new CommandFailure(
      `what answers on ${where} is not a voice-edge guard: "show servers state ${BACKEND}" has no server ${SERVER_REF} (answer: ${JSON.stringify(servers.slice(0, 80))})`,
    );
  const drained = (admin & ADMIN_FORCED_DRAIN) !== 0;
  if (args.drain ? !drained : drained || (admin & ADMIN_FORCED_MAINTENANCE) !== 0)
    throw new CommandFailure(
      `the guard on ${where} did not change state: ${SERVER_REF} admin state is ${admin} after "state ${state}"`,
    );
  if (mark !== args.drain)
    throw new CommandFailure(
      `the guard on ${where} did not change its drain mark: "${DRAINED_KEY}" in ${drainedFile} reads ${mark ?? "nothing"} after "${state}"`,
    );
  console.log(
    args.drain
      ? "guard: draining: new sessions get 503 bridge_busy, the live ones continue; --ready takes sessions again"
      : "guard: ready: taking sessions",
  );
  return 0;
}

/** `voices`: a list from --voices or --voices-dir, which replaces the stack's `guard.voices`. */
function printConfig(stack: string | undefined, bridgeName: string | undefined): number {
  if (!stack) throw new UsageError("--print-config needs --stack <name>");
  if (!knownStacks().includes(stack))
    throw new UsageError(
      `unknown stack "${stack}": the stacks here are ${knownStacks().join(", ")}`,
    );
  let files;
  try {
    const chosen = guardOfBridge(stack, loadStackSettings(stack), bridgeName);
    if ("problem" in chosen) throw new UsageError(chosen.problem);
    files = vmFiles(chosen.guard);
  } catch (error) {
    if (error instanceof UsageError || error instanceof StackConfigError) throw error;
    throw new CommandFailure((error as Error).message);
  }
  console.log(files.map((file) => `### ${file.path}\n${file.content}`).join("\n"));
  return 0;
}

function upstreamTls(args: Args): UpstreamTls | undefined {
  const ca = args["upstream-ca"];
  const insecure = args["upstream-insecure"];
  if (ca && insecure)
    throw new UsageError("--upstream-ca and --upstream-insecure exclude each other");
  let https: boolean;
  try {
    https = parseUpstream(args.upstream!).tls;
  } catch (error) {
    throw new UsageError(`--${(error as Error).message}`);
  }
  if (!https) {
    if (ca || insecure)
      throw new UsageError(
        `--${ca ? "upstream-ca" : "upstream-insecure"} applies to an https upstream only`,
      );
    return undefined;
  }
  if (insecure) return { verify: "none" };
  if (!ca)
    throw new UsageError(
      `--upstream ${args.upstream} is https: pass --upstream-ca <file> (the CA that issued the server's certificate) or --upstream-insecure`,
    );
  if (!existsSync(ca)) throw new UsageError(`--upstream-ca "${ca}": no such file`);
  const problem = caFileProblem(ca);
  if (problem) throw new UsageError(`--upstream-ca "${ca}" ${problem}`);
  return { verify: "ca-file", caFile: ca };
}

interface VoiceList {
  names: readonly string[];
  /** For the start line: "18 stock voices", "12 voices from <dir>", "1 voice from <file>". */
  source: string;
}

function notAVoice(where: string, name: string): UsageError {
  return new UsageError(
    `${where}: "${name}" is not a voice file name such as ${VOICE_FILE_NAME_EXAMPLE} (<name>.pt, no path)`,
  );
}

const voiceCount = (names: readonly string[]) =>
  `${names.length} voice${names.length === 1 ? "" : "s"}`;

function voicesFromFile(file: string): VoiceList {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new UsageError(`--voices "${file}": no such file`);
  }
  const names = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const bad = names.find((name) => !isVoiceFileName(name));
  if (bad !== undefined) throw notAVoice(`--voices "${file}"`, bad);
  if (names.length === 0) throw new UsageError(`--voices "${file}" lists no voice`);
  return { names, source: `${voiceCount(names)} from ${file}` };
}

/** Every `*.pt` file in the server's voice directory, as the server would find it by name. */
function voicesFromDirectory(dir: string): VoiceList {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--voices-dir "${dir}": ${code === "ENOENT" ? "no such directory" : code === "ENOTDIR" ? "not a directory" : (code ?? (error as Error).message)}`,
    );
  }
  const names = entries
    .filter((entry) => entry.name.endsWith(".pt") && !entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const bad = names.find((name) => !isVoiceFileName(name));
  if (bad !== undefined) throw notAVoice(`--voices-dir "${dir}"`, bad);
  if (names.length === 0)
    throw new UsageError(
      `--voices-dir "${dir}" holds no *.pt voice file: is it the server's voice directory?`,
    );
  return { names, source: `${voiceCount(names)} from ${dir}` };
}

function voiceList(args: Args): VoiceList {
  if (args.voices !== undefined && args["voices-dir"] !== undefined)
    throw new UsageError("--voices and --voices-dir exclude each other");
  if (args.voices !== undefined) return voicesFromFile(args.voices);
  if (args["voices-dir"] !== undefined) return voicesFromDirectory(args["voices-dir"]);
  return { names: STOCK_VOICES, source: `${STOCK_VOICES.length} stock voices` };
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect(port, "127.0.0.1");
    conn.on("connect", () => (conn.destroy(), resolve(true)));
    conn.on("error", () => resolve(false));
  });
}

/** The first ALERT HAProxy printed, as one line (e.g. the port it could not bind). */
function alertOf(stderr: string): string {
  const alert = stderr.split("\n").find((line) => line.startsWith("[ALERT]"));
  return alert ? alert.replace(/^\[ALERT\]\s+\(\d+\)\s*:\s*/, "") : stderr.trim().split("\n")[0];
}

/**
 * Leaves the way clear for a fresh run folder: refuses one this user does not own privately (left
 * untouched) or one whose guard still answers; removes a stale one of its own.
 */
async function clearStaleRunDirectory(dir: string, port: number): Promise<void> {
  if (!exists(dir)) return;
  const problem = privateDirectoryProblem(dir);
  if (problem)
    throw new CommandFailure(
      `run folder ${dir} ${problem}: not made by a guard of this user's; remove it, or set TMPDIR to a folder of your own`,
    );
  const socket = join(dir, "admin.sock");
  if (exists(socket) && !socketProblem(socket)) {
    const info = await adminCommand(socket, "show info").catch(() => "");
    if (/^Name: HAProxy$/m.test(info))
      throw new CommandFailure(`a guard already runs on port ${port} (${dir})`);
  }
  rmSync(dir, { recursive: true, force: true });
}

async function serve(args: Args): Promise<void> {
  if (!args.upstream) throw new UsageError("--upstream is required");
  const port = tcpPort(args.port);
  const capacity = positiveInt(args.capacity, "--capacity");
  const retryAfterS = positiveInt(args["retry-after"], "--retry-after");
  const capMinutes = maxSessionMinutes(args["max-session-minutes"]);
  const tls = upstreamTls(args);
  const voices = voiceList(args);

  const haproxy = haproxyBinary();
  if (!haproxy) throw new CommandFailure(HAPROXY_MISSING);

  const dir = runDirectory(port);
  const socket = join(dir, "admin.sock");
  const voicesPath = join(dir, "voices.txt");
  const drainedPath = drainedFileIn(dir);
  const input: GuardConfigInput = {
    listen: { host: "127.0.0.1", port },
    upstream: args.upstream,
    tls,
    capacity,
    retryAfterS,
    voicesFile: voicesPath,
    drainedFile: drainedPath,
    statsSocket: socket,
    sessionCap:
      capMinutes === undefined
        ? undefined
        : { seconds: capMinutes * 60, luaFile: join(dir, "session-cap.lua") },
    sessionRecords: {
      luaFile: join(dir, "session-records.lua"),
      socket: join(dir, "session-log.sock"),
    },
  };
  let config: string;
  try {
    config = haproxyConfig(input);
  } catch (error) {
    if (error instanceof GuardConfigError) throw new UsageError(error.message);
    throw error;
  }

  const probe = await probeUpstream({
    upstream: args.upstream,
    caFile: tls?.verify === "ca-file" ? tls.caFile : undefined,
  });
  if (probe.verdict === "refuse") throw new CommandFailure(probe.line);
  (probe.verdict === "ok" ? console.log : console.error)(`guard: ${probe.line}`);

  await clearStaleRunDirectory(dir, port);

  // Before the run directory exists: a stop at any moment from here on removes it (without a
  // handler, SIGTERM would end the process between mkdir and the spawn, leaving it behind).
  let child: ChildProcess | undefined;
  let ownsDir = false;
  let stopping = false;
  const cleanUp = () => {
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
  };
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (running()) child!.kill("SIGTERM");
    else {
      cleanUp();
      process.exit(0);
    }
  };
  process.on("exit", () => {
    if (running()) child!.kill("SIGKILL");
    cleanUp();
  });
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("SIGHUP", stop);
  whenLauncherExits(stop);

  try {
    createPrivateDirectory(dir);
  } catch (error) {
    throw new CommandFailure((error as Error).message);
  }
  ownsDir = true;
  writeFileSync(voicesPath, voicesFile(voices.names));
  writeFileSync(drainedPath, drainedMap());
  const configPath = join(dir, "haproxy.cfg");
  writeFileSync(configPath, config);
  if (input.sessionCap) writeFileSync(input.sessionCap.luaFile, sessionCapLua(input));
  writeFileSync(input.sessionRecords!.luaFile, sessionRecordsLua());

  const haproxyChild = spawn(haproxy, ["-db", "-f", configPath], {
    stdio: ["ignore", "inherit", "pipe"],
  });
  child = haproxyChild;
  let started = false;
  let stderr = "";
  haproxyChild.stderr!.on("data", (chunk: Buffer) => {
    if (started) process.stderr.write(chunk);
    else stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => haproxyChild.once("exit", resolve));
  void exited.then((code) => {
    cleanUp();
    if (stopping) process.exit(0);
    if (!started) return;
    command.fail(`haproxy exited (code ${code}): ${alertOf(stderr)}`);
  });

  for (let attempt = 0; attempt < 100 && !started; attempt++) {
    if (haproxyChild.exitCode !== null) break;
    if (await portAnswers(port)) started = true;
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!started) {
    if (haproxyChild.exitCode === null) haproxyChild.kill("SIGKILL");
    await exited;
    const alert = alertOf(stderr);
    throw new CommandFailure(
      /Address already in use/.test(alert)
        ? `port ${port} is in use: stop what holds it or pass another --port`
        : `haproxy did not start: ${alert}`,
    );
  }
  if (stderr) process.stderr.write(stderr);
  console.log(
    `guard: http://127.0.0.1:${port}/api/chat → ${args.upstream} (capacity ${capacity}${capMinutes === undefined ? "" : `, sessions end after ${capMinutes} min`}${tls ? `, TLS ${tls.verify === "none" ? "unverified" : `verified against ${tls.caFile}`}` : ""}, ${voices.source}); /health; /sessions; npm run guard -- --drain --port ${port} drains it`,
  );
}

export async function run(args: string[]): Promise<number | void> {
  const parsed = command.parse(args);
  if (parsed["print-config"]) {
    const flag =
      parsed["voices-dir"] !== undefined
        ? "voices-dir"
        : parsed.voices !== undefined
          ? "voices"
          : undefined;
    // The VM's list has one home, the stack: guard.voicesDir rebuilds it at every HAProxy start.
    if (flag)
      throw new UsageError(
        `--${flag} goes with a running guard; for the VM's files set voice-edge:guard.voicesDir (the list rebuilt from the server's voice directory at each start) or guard.voices in the stack file`,
      );
    if (parsed["max-session-minutes"] !== undefined)
      throw new UsageError(
        "--max-session-minutes goes with a running guard; for the VM's files set voice-edge:guard.maxSessionMinutes (or line.maxSessionMinutes) in the stack file",
      );
    return printConfig(parsed.stack, parsed.bridge);
  }
  if (parsed.bridge !== undefined || parsed.stack !== undefined)
    throw new UsageError(
      `--${parsed.bridge !== undefined ? "bridge" : "stack"} goes with --print-config`,
    );
  if (parsed.drain && parsed.ready) throw new UsageError("--drain and --ready exclude each other");
  if (parsed.drain || parsed.ready) return setState(parsed);
  return serve(parsed);
}

if (isEntryPoint(import.meta.url)) void main(command, run);

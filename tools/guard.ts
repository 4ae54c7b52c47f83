/**
 * `npm run guard`: HAProxy in front of a PersonaPlex server, as each GPU VM runs it.
 *
 *   npm run guard -- --upstream <http(s)://host:port> --port <p> [--capacity <n>]
 *       [--upstream-ca <file> | --upstream-insecure] [--voices <file>]
 *     runs the guard in the foreground on 127.0.0.1 (config, voices and socket in a temp dir, removed
 *     on exit); HAProxy's session lines go to stdout.
 *   npm run guard -- --drain --port <p>   /   --ready --port <p>
 *     no new sessions (the live ones continue) / sessions again, through the running guard's socket.
 *   npm run guard -- --print-config --stack <name> [--bridge <name>]
 *     the files for the VM, each after a `### <path>` line (for a stack that lists bridges: that
 *     bridge's, with its capacity).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StackConfigError } from "../infra/config/errors";
import { STOCK_VOICES } from "../worker/src/voices";
import { guardOfBridge, voiceName } from "../infra/config/guard";
import { knownStacks, loadStackSettings } from "../infra/config/stackFiles";
import {
  GuardConfigError,
  haproxyConfig,
  parseUpstream,
  SERVER_REF,
  VM_PATHS,
  vmFiles,
  voicesFile,
  type UpstreamTls,
} from "../infra/guard/haproxyConfig";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";
import { haproxyBinary, HAPROXY_MISSING } from "./lib/guardProcess";
import { whenLauncherExits } from "./lib/parentWatch";

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
    "upstream-ca": {
      type: "string",
      value: "<file>",
      description:
        "verify an https upstream against this certificate (the server's own, or its CA)",
    },
    "upstream-insecure": {
      type: "boolean",
      description: "reach an https upstream without verifying its certificate",
    },
    voices: {
      type: "string",
      value: "<file>",
      description:
        "the server's voice files, one name a line (e.g. NATF0.pt); without it any voice_prompt",
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
    "answers: 503 bridge_busy + Retry-After when full or draining, 400 session_options_invalid, 404 beyond /api/chat and /health, 503 bridge_unavailable",
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

/** Where a guard on `port` keeps its files: known from the port alone, so --drain finds the socket. */
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

async function setState(args: Args): Promise<number> {
  const state = args.drain ? "drain" : "ready";
  const socket = args.socket ?? join(runDirectory(tcpPort(args.port)), "admin.sock");
  let answer: string;
  try {
    answer = await adminCommand(socket, `set server ${SERVER_REF} state ${state}`);
  } catch (error) {
    const where = args.socket ? socket : `port ${args.port}`;
    throw new CommandFailure(`no guard answers on ${where} (${(error as Error).message})`);
  }
  if (answer) throw new CommandFailure(`the guard refused: ${answer}`);
  console.log(
    args.drain
      ? "guard: draining: new sessions get 503 bridge_busy, the live ones continue; --ready takes sessions again"
      : "guard: ready: taking sessions",
  );
  return 0;
}

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
      `--upstream ${args.upstream} is https: pass --upstream-ca <file> (the server's certificate) or --upstream-insecure`,
    );
  if (!existsSync(ca)) throw new UsageError(`--upstream-ca "${ca}": no such file`);
  return { verify: "ca-file", caFile: ca };
}

function readVoices(file: string): string[] {
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
  const bad = names.find((name) => !voiceName.safeParse(name).success);
  if (bad !== undefined)
    throw new UsageError(`--voices "${file}": "${bad}" is not a voice file name such as NATF0.pt`);
  if (names.length === 0) throw new UsageError(`--voices "${file}" lists no voice`);
  return names;
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

async function serve(args: Args): Promise<void> {
  if (!args.upstream) throw new UsageError("--upstream is required");
  const port = tcpPort(args.port);
  const capacity = positiveInt(args.capacity, "--capacity");
  const retryAfterS = positiveInt(args["retry-after"], "--retry-after");
  const tls = upstreamTls(args);
  const voices = args.voices ? readVoices(args.voices) : undefined;

  const haproxy = haproxyBinary();
  if (!haproxy) throw new CommandFailure(HAPROXY_MISSING);

  const dir = runDirectory(port);
  const socket = join(dir, "admin.sock");
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

  if (existsSync(dir)) {
    const guardAnswers = await adminCommand(socket, "show info").then(
      () => true,
      () => false,
    );
    if (guardAnswers) throw new CommandFailure(`a guard already runs on port ${port} (${dir})`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { mode: 0o700 });
  ownsDir = true;
  const voicesPath = join(dir, "voices.txt");
  writeFileSync(voicesPath, voicesFile(voices ?? STOCK_VOICES));
  let config: string;
  try {
    config = haproxyConfig({
      listen: { host: "127.0.0.1", port },
      upstream: args.upstream,
      tls,
      capacity,
      retryAfterS,
      voicesFile: voicesPath,
      statsSocket: socket,
    });
  } catch (error) {
    cleanUp();
    if (error instanceof GuardConfigError) throw new UsageError(error.message);
    throw error;
  }
  const configPath = join(dir, "haproxy.cfg");
  writeFileSync(configPath, config);

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
    `guard: http://127.0.0.1:${port}/api/chat → ${args.upstream} (capacity ${capacity}${tls ? `, TLS ${tls.verify === "none" ? "unverified" : `verified against ${tls.caFile}`}` : ""}${voices ? `, ${voices.length} voices` : ""}); /health; npm run guard -- --drain --port ${port} drains it`,
  );
}

export async function run(args: string[]): Promise<number | void> {
  const parsed = command.parse(args);
  if (parsed["print-config"]) return printConfig(parsed.stack, parsed.bridge);
  if (parsed.bridge !== undefined || parsed.stack !== undefined)
    throw new UsageError(
      `--${parsed.bridge !== undefined ? "bridge" : "stack"} goes with --print-config`,
    );
  if (parsed.drain && parsed.ready) throw new UsageError("--drain and --ready exclude each other");
  if (parsed.drain || parsed.ready) return setState(parsed);
  return serve(parsed);
}

if (isEntryPoint(import.meta.url)) void main(command, run);

import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";
import type { StandinMode } from "../bridge";
import { forkListening } from "./childServer";

export interface StandinBridge {
  port: number;
  mode: StandinMode;
  /** `http://127.0.0.1:<port>` (`https://` with TLS) */
  origin: string;
  /** The PEM certificate it serves with TLS (a client trusts it to connect), else undefined. */
  certificate?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface StandinOptions {
  /**
   * `echo` (the default: what the Worker tests, soak and bench rely on — byte-exact echo, any
   * query, many sessions, /health and the test routes) or `personaplex` (behaves like the real
   * server: one session at a time, options checked after the 101, audio answered with audio).
   */
  mode?: StandinMode;
  port?: number;
  /** echo: subprotocols to select when offered. */
  protocols?: string[];
  /** personaplex: the voice_prompt values it knows. */
  voices?: string[];
  /** personaplex: milliseconds before the 0x00 handshake (the system prompts). */
  promptDelayMs?: number;
  /** personaplex: a directory to serve at / and below. */
  staticDir?: string;
  /** Serve https/wss with a self-signed certificate (see `certificate`). */
  tls?: boolean;
}

function standinArguments(options: StandinOptions): string[] {
  const args = ["--mode", options.mode ?? "echo", "--port", String(options.port ?? 0)];
  if (options.protocols?.length) args.push("--protocols", options.protocols.join(","));
  if (options.voices?.length) args.push("--voices", options.voices.join(","));
  if (options.promptDelayMs !== undefined)
    args.push("--prompt-delay-ms", String(options.promptDelayMs));
  if (options.staticDir !== undefined) args.push("--static", options.staticDir);
  if (options.tls) args.push("--tls");
  return args;
}

/** Starts tools/bridge.ts as a child process (so its sockets never hold up the parent) and waits for its port. */
export async function startStandinBridge(options: StandinOptions = {}): Promise<StandinBridge> {
  const {
    listening,
    process: child,
    stop,
  } = await forkListening<{ certificate?: string }>(
    join(PROJECT_ROOT, "tools", "bridge.ts"),
    standinArguments(options),
    "stand-in bridge",
  );
  return {
    port: listening.port,
    mode: options.mode ?? "echo",
    origin: `${listening.certificate ? "https" : "http"}://127.0.0.1:${listening.port}`,
    certificate: listening.certificate,
    process: child,
    stop,
  };
}

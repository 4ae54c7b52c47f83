/**
 * The Worker bundle in a bare `workerd serve` — no Miniflare dev layer in front — which is the
 * closest local stand-in for the runtime on Cloudflare's edge. Used to measure the edge.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import workerd from "workerd";
import { BUNDLE_MODULE_NAME } from "../worker/build";
import { freePort } from "../test/support/freePort";

export interface WorkerdEdge {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Cap'n Proto binding list: strings become text bindings, anything else a json binding. */
export function capnpBindings(bindings: Record<string, unknown>): string {
  return Object.entries(bindings)
    .map(([name, value]) =>
      typeof value === "string"
        ? `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)})`
        : `(name = ${JSON.stringify(name)}, json = ${JSON.stringify(JSON.stringify(value))})`,
    )
    .join(",\n    ");
}

export interface ServedWorkerd {
  child: ChildProcess;
  /** SIGTERM, then the folder removed once workerd has exited. */
  stop(): Promise<void>;
  /** Resolves once `/voice/health` answers on every port; stops workerd and throws if it never does. */
  untilAnswering(ports: Iterable<number>, withinMs: number, pollMs?: number): Promise<void>;
}

/** `workerd serve <dir>/config.capnp`: its stdout a line at a time to `onStdoutLine` (else dropped). */
export function serveWorkerd(
  dir: string,
  extraArgs: string[] = [],
  onStdoutLine?: (line: string) => void,
): ServedWorkerd {
  // CommonJS interop: tsx hands over the exports object, vitest its `default` (the binary's path).
  const binary = typeof workerd === "string" ? workerd : workerd.default;
  let stderr = "";
  let child: ChildProcess;
  try {
    child = spawn(binary, ["serve", join(dir, "config.capnp"), ...extraArgs], {
      stdio: ["ignore", onStdoutLine ? "pipe" : "ignore", "pipe"],
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  child.stderr!.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  if (onStdoutLine) {
    let pending = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf("\n")) !== -1) {
        onStdoutLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    });
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once("exit", done);
      child.kill("SIGTERM");
    });
  async function untilAnswering(ports: Iterable<number>, withinMs: number, pollMs = 100) {
    const deadline = Date.now() + withinMs;
    for (const port of ports)
      for (;;) {
        if (child.exitCode !== null) {
          await stop();
          throw new Error(`workerd exited with ${child.exitCode}: ${stderr.trim()}`);
        }
        try {
          await fetch(`http://127.0.0.1:${port}/voice/health`, {
            signal: AbortSignal.timeout(1_000),
          });
          break;
        } catch {
          if (Date.now() > deadline) {
            await stop();
            throw new Error(
              `workerd did not listen on ${port} within ${withinMs / 1000} s: ${stderr.trim()}`,
            );
          }
          await new Promise((r) => setTimeout(r, pollMs));
        }
      }
  }
  return { child, stop, untilAnswering };
}

export async function startWorkerd(options: {
  code: string;
  compatibilityDate: string;
  bindings: Record<string, unknown>;
  pollMs?: number;
  inspectorPort?: number;
  /** Receives each line workerd prints to stdout (the Worker's log lines); stdout is dropped without it. */
  onStdoutLine?: (line: string) => void;
}): Promise<WorkerdEdge> {
  const dir = mkdtempSync(join(tmpdir(), "voice-edge-workerd-"));
  const port = await freePort();
  writeFileSync(join(dir, BUNDLE_MODULE_NAME), options.code);
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "edge", worker = .edge),
    # The default outbound; loopback must be allowed to reach the local bridge.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "edge") ],
);
const edge :Workerd.Worker = (
  modules = [ (name = "${BUNDLE_MODULE_NAME}", esModule = embed "${BUNDLE_MODULE_NAME}") ],
  compatibilityDate = "${options.compatibilityDate}",
  bindings = [
    ${capnpBindings(options.bindings)}
  ],
);
`,
  );
  const inspector = options.inspectorPort
    ? [`--inspector-addr=127.0.0.1:${options.inspectorPort}`]
    : [];
  const served = serveWorkerd(dir, inspector, options.onStdoutLine);
  await served.untilAnswering([port], 15_000, options.pollMs);
  const { child, stop } = served;
  return { port, process: child, stop };
}

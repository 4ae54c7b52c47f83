import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";

export const HAPROXY_MISSING =
  "haproxy is not installed: install the Debian/Ubuntu package haproxy (sudo apt-get install haproxy, or npm run setup:test), or set HAPROXY_PATH";

/** The haproxy binary (HAPROXY_PATH, else haproxy on PATH), or undefined when it cannot be run. */
export function haproxyBinary(): string | undefined {
  const haproxy = process.env.HAPROXY_PATH || "haproxy";
  return spawnSync(haproxy, ["-v"], { encoding: "utf8" }).error ? undefined : haproxy;
}

export interface GuardProcess {
  port: number;
  /** `http://127.0.0.1:<port>`: `/api/chat` for sessions, `/health` for its JSON. */
  origin: string;
  process: ChildProcess;
  /** Everything it printed so far (its session lines among them). */
  output(): string;
  stop(): Promise<void>;
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * `npm run guard -- --port <p> <args>` (HAProxy in front of a PersonaPlex server) as a child process
 * (tsx directly, so SIGTERM reaches it), resolved once it says it listens.
 */
export async function startGuardProcess(
  args: string[],
  options: {
    port?: number;
    withinMs?: number;
    /** Gets the child at once, so a caller stopped while the guard starts can still end it. */
    onSpawn?: (child: ChildProcess) => void;
  } = {},
): Promise<GuardProcess> {
  const port = options.port ?? (await freeLoopbackPort());
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(PROJECT_ROOT, "tools", "guard.ts"), "--port", String(port), ...args],
    { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  options.onSpawn?.(child);
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  const withinMs = options.withinMs ?? 15_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // SIGTERM: the guard then stops its HAProxy too (SIGKILL would leave it running).
      child.kill("SIGTERM");
      reject(new Error(`guard did not listen within ${withinMs} ms: ${output}`));
    }, withinMs);
    const check = () => {
      if (!output.includes("guard: http://")) return;
      clearTimeout(timer);
      child.stdout!.off("data", check);
      child.off("exit", exited);
      resolve();
    };
    const exited = () => {
      clearTimeout(timer);
      reject(new Error(`guard exited: ${output.trim()}`));
    };
    child.stdout!.on("data", check);
    child.stderr!.on("data", check);
    child.once("exit", exited);
  });
  return { port, origin: `http://127.0.0.1:${port}`, process: child, output: () => output, stop };
}

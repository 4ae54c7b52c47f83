import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll } from "vitest";
import { freePort } from "./freePort";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";

export interface DevRun {
  /** npm's process, leader of its own process group (pgid = pid). */
  process: ChildProcess;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
}

/** Whether any process of the group `pgid` is still alive. */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends SIGTERM to npm's own process alone (what a closing terminal or a supervisor does), waits
 * for it to exit, then up to `withinMs` for its whole group: whether every process of it ended.
 */
export async function groupEndsAfterSigterm(
  child: ChildProcess,
  withinMs: number,
): Promise<boolean> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(child.pid!, "SIGTERM");
  await exited;
  for (let waited = 0; waited <= withinMs; waited += 200) {
    if (!processGroupAlive(child.pid!)) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/** Ends every process left in the group `child` leads (npm, tsx, workerd, the stand-in bridge). */
export function killProcessGroup(child: ChildProcess | undefined): void {
  if (child?.pid && processGroupAlive(child.pid)) process.kill(-child.pid, "SIGKILL");
}

/** `npm run dev -- <args>` in its own process group, as a user starts it; resolves once it prints its next steps. */
export function startDev(args: string[], env: NodeJS.ProcessEnv = {}): Promise<DevRun> {
  let output = "";
  const child = spawn("npm", ["run", "dev", ...(args.length ? ["--", ...args] : [])], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`npm run dev was not ready within 45 s:\n${output}`)),
      45_000,
    );
    child.stdout!.on("data", () => {
      if (!output.includes("Ctrl-C stops")) return;
      clearTimeout(timer);
      resolve({ process: child, output: () => output });
    });
    child.once("exit", (code) => reject(new Error(`npm run dev exited with ${code}:\n${output}`)));
  });
}

export interface DevUnderTest {
  port: number;
  /** The demo page's port: free too (the default, the edge's port + 1, may be another's). */
  demoPort: number;
  process: ChildProcess;
  /** What it printed until it was ready. */
  output: string;
}

/**
 * `npm run dev` on a free port for a test file: started before its tests with the arguments and
 * environment `start` builds from the port, and its whole process group ended after them.
 */
export function devForTheseTests(
  start: (port: number) => { args: string[]; env?: NodeJS.ProcessEnv },
): DevUnderTest {
  const dev = { port: 0, demoPort: 0, output: "" } as DevUnderTest;
  beforeAll(async () => {
    dev.port = await freePort();
    dev.demoPort = await freePort();
    const { args, env } = start(dev.port);
    const run = await startDev([...args, "--demo-port", String(dev.demoPort)], env);
    dev.process = run.process;
    dev.output = run.output();
  }, 60_000);
  afterAll(() => killProcessGroup(dev.process));
  return dev;
}

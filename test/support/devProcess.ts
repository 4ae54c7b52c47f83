import { spawn, type ChildProcess } from "node:child_process";
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

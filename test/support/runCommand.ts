import { spawn } from "node:child_process";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";

/** How a command ended: its exit code and everything it printed. */
export interface CommandRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `npm run --silent <script> -- <args>` as a user would, as a process, collecting its output:
 * for what only a process shows (exit codes as the shell sees them, signals, what npm itself does).
 * Everything else runs the command in the test's own process (runInProcess.ts), seconds faster.
 */
export function npmRun(
  script: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; separator?: boolean } = {},
): Promise<CommandRun> {
  const argv = ["run", "--silent", script, ...(options.separator === false ? [] : ["--"]), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn("npm", argv, {
      cwd: options.cwd ?? PROJECT_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

import { spawn } from "node:child_process";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";

export interface CommandRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `npm run --silent <script> -- <args>` as a user would, collecting its output and how long it took. */
export function npmRun(
  script: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; separator?: boolean } = {},
): Promise<CommandRun> {
  const started = performance.now();
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
    child.once("close", (code) =>
      resolve({ code, stdout, stderr, ms: performance.now() - started }),
    );
  });
}

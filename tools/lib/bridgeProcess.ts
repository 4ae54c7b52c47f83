import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";

export interface StandinBridge {
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts tools/bridge.ts as a child process (so its sockets never hold up the parent) and waits for its port. */
export function startStandinBridge(
  options: { port?: number; protocols?: string[] } = {},
): Promise<StandinBridge> {
  const args = ["--port", String(options.port ?? 0)];
  if (options.protocols?.length) args.push("--protocols", options.protocols.join(","));
  const child = fork(join(PROJECT_ROOT, "tools", "bridge.ts"), args, {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("stand-in bridge did not start within 15 s"));
    }, 15_000);
    child.once("error", reject);
    child.once("exit", (code) =>
      reject(new Error(`stand-in bridge exited with code ${code} before listening`)),
    );
    child.on("message", (message: { event?: string; port?: number }) => {
      if (message.event !== "listening" || !message.port) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve({
        port: message.port,
        origin: `http://127.0.0.1:${message.port}`,
        process: child,
        stop,
      });
    });
  });
}

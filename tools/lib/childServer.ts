import { fork, type ChildProcess } from "node:child_process";

export interface ListeningChild<M> {
  /** The child's `{ event: "listening", port, … }` message. */
  listening: M & { port: number };
  process: ChildProcess;
  /** SIGTERM, resolved once it exited. */
  stop(): Promise<void>;
}

/**
 * Forks a TypeScript server (tsx, an IPC channel: its sockets never hold up the parent) and
 * resolves once it reports `{ event: "listening", port }`; `what` names it in the errors.
 */
export function forkListening<M extends object>(
  file: string,
  args: string[],
  what: string,
): Promise<ListeningChild<M>> {
  const child = fork(file, args, {
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
      reject(new Error(`${what} did not start within 15 s`));
    }, 15_000);
    child.once("error", reject);
    child.once("exit", (code) =>
      reject(new Error(`${what} exited with code ${code} before listening`)),
    );
    child.on("message", (message: M & { event?: string; port?: number }) => {
      if (message.event !== "listening" || !message.port) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve({ listening: message as M & { port: number }, process: child, stop });
    });
  });
}

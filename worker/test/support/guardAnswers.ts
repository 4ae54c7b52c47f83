import { fork } from "node:child_process";
import type { IncomingHttpHeaders } from "node:http";
import { fileURLToPath } from "node:url";
import { withSessionOptions } from "../../../test/support/bridge";

export interface GuardAnswers {
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** What plain `/health` answers from now on. */
  setHealth(status: number, body: unknown): Promise<void>;
  upgrades(): Promise<{ path: string; query: string; headers: IncomingHttpHeaders }[]>;
  stop(): Promise<void>;
}

/** A `/health` URL of its own on the stand-in, answering `status` with `body` (JSON unless a string). */
export function healthUrl(origin: string, status: number, body: unknown): string {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return `${origin}/health?status=${status}&body=${encodeURIComponent(text)}`;
}

/**
 * The client's query that makes the stand-in answer the upgrade with `status`, `Retry-After` and
 * `body`, with session options the edge admits (it refuses a query without them before any bridge).
 */
export function answerQuery(status: number, options: { retryAfter?: string; body?: unknown } = {}) {
  const params = new URLSearchParams({ answer: String(status) });
  if (options.retryAfter !== undefined) params.set("retry_after", options.retryAfter);
  if (options.body !== undefined)
    params.set(
      "body",
      typeof options.body === "string" ? options.body : JSON.stringify(options.body),
    );
  return withSessionOptions(params.toString());
}

/** Starts guardAnswersProcess.ts as a child process (optionally on `port`) and waits for its port. */
export function startGuardAnswers(port = 0): Promise<GuardAnswers> {
  const child = fork(
    fileURLToPath(new URL("./guardAnswersProcess.ts", import.meta.url)),
    [String(port)],
    {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) =>
      reject(new Error(`guard stand-in exited with ${code} before listening`)),
    );
    child.on("message", (message: { event?: string; port?: number }) => {
      if (message.event !== "listening" || !message.port) return;
      child.removeAllListeners("exit");
      const origin = `http://127.0.0.1:${message.port}`;
      resolve({
        port: message.port,
        origin,
        async setHealth(status, body) {
          const text = typeof body === "string" ? body : JSON.stringify(body);
          await fetch(`${origin}/control/health`, {
            method: "PUT",
            body: JSON.stringify({ status, body: text }),
          });
        },
        async upgrades() {
          return (await (await fetch(`${origin}/debug/upgrades`)).json()) as Awaited<
            ReturnType<GuardAnswers["upgrades"]>
          >;
        },
        stop: () =>
          new Promise<void>((resolveStop) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
            child.once("exit", () => resolveStop());
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

/**
 * A WebSocket echo server on loopback for the guard's tests, run as a child process:
 * `/api/chat` echoes every frame; with `--cert <file> --key <file>` it speaks https/wss.
 * Reports `{ event: "listening", port }` over IPC and exits when the parent goes away.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createHttp } from "node:http";
import { createServer as createHttps } from "node:https";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import { forkListening } from "../../tools/lib/childServer";

export interface EchoUpstream {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts this file as a child process and waits for its port. */
export async function startEchoUpstream(tls?: {
  cert: string;
  key: string;
}): Promise<EchoUpstream> {
  const args = tls ? ["--cert", tls.cert, "--key", tls.key] : [];
  const {
    listening,
    process: child,
    stop,
  } = await forkListening(import.meta.filename, args, "echo upstream");
  return { port: listening.port, process: child, stop };
}

if (process.send && process.argv[1] === import.meta.filename) {
  const { values } = parseArgs({ options: { cert: { type: "string" }, key: { type: "string" } } });
  const server =
    values.cert && values.key
      ? createHttps({ cert: readFileSync(values.cert), key: readFileSync(values.key) })
      : createHttp();
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    if (!req.url?.startsWith("/api/chat")) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) =>
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })),
    );
  });
  server.on("request", (_req, res) => res.writeHead(404).end());
  server.listen(0, "127.0.0.1", () => {
    process.send?.({ event: "listening", port: (server.address() as { port: number }).port });
  });
  process.on("disconnect", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
}

/**
 * A Moshi-shaped stand-in for the PersonaPlex bridge, on loopback.
 *
 *   /api/chat   WebSocket: sends the 0x00 handshake frame, echoes every frame (binary and text).
 *               A text frame {"standin":"close","code":4000,"reason":"..."} makes it close the session;
 *               ?standin_delay_ms=N answers the upgrade only after N ms (a bridge slow to accept).
 *   /health     200 JSON: open sessions (live sockets), sessions started and upgrades received in all.
 *   /status/N   answers a WebSocket upgrade (or GET) with HTTP status N, never 101.
 *   /hang       accepts the connection and never answers.
 *   /redirect-to/PORT/PATH  answers a WebSocket upgrade (or GET) with 302 to http://127.0.0.1:PORT/PATH.
 *   /debug/sessions  what each upgrade carried (path, query, headers, protocol) and how it closed
 *               (the last 500); /debug/counts  requests to /health and upgrades received.
 *
 * Usage: npm run bridge -- [--port 8999] [--host 127.0.0.1] [--protocols voice.v2,...]
 * Started with an IPC channel (as tests and `npm run dev` do), it reports its port to the
 * parent and exits when the parent goes away.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";

const command = defineCommand({
  name: "bridge",
  options: {
    port: {
      type: "string",
      value: "<port>",
      default: process.env.PORT ?? "8999",
      defaultText: "$PORT or 8999",
      description: "TCP port to listen on (0: any free port)",
    },
    host: {
      type: "string",
      value: "<host>",
      default: "127.0.0.1",
      description: "address to listen on",
    },
    protocols: {
      type: "string",
      value: "<list>",
      default: "",
      defaultText: "none",
      description: "comma-separated subprotocols to select when offered, e.g. voice.v2",
    },
  },
  notes: [
    "a Moshi-shaped stand-in for the bridge: /api/chat echoes, /health, /status/N, /hang, /redirect-to/PORT/PATH, /debug/sessions",
  ],
});
const HANDSHAKE_FRAME = Buffer.from([0x00]);
const MAX_RECORDED_SESSIONS = 500;

interface SessionRecord {
  id: number;
  path: string;
  query: string;
  headers: IncomingMessage["headers"];
  protocol: string;
  framesReceived: number;
  open: boolean;
  closed: { code: number; reason: string } | null;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

/** `/redirect-to/PORT/PATH` → `http://127.0.0.1:PORT/PATH` (loopback only), with the query. */
function redirectTarget(url: URL): string | undefined {
  const match = url.pathname.match(/^\/redirect-to\/(\d{1,5})(\/.*)$/);
  return match ? `http://127.0.0.1:${match[1]}${match[2]}${url.search}` : undefined;
}

function parseCommand(text: string): { code: number; reason: string } | undefined {
  if (!text.startsWith('{"standin"')) return undefined;
  try {
    const command = JSON.parse(text) as { standin?: string; code?: number; reason?: string };
    if (command.standin === "close")
      return { code: command.code ?? 1000, reason: command.reason ?? "" };
  } catch {
    return undefined;
  }
  return undefined;
}

/** The stand-in's HTTP server (not listening yet) and how to end every connection it holds. */
function standinServer(preferredProtocols: string[]): { server: Server; endConnections(): void } {
  const sessions: SessionRecord[] = [];
  let nextSessionId = 1;
  let upgradesReceived = 0;
  let healthRequests = 0;
  const hungSockets = new Set<Socket>();

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://bridge");
    if (url.pathname === "/health") {
      healthRequests++;
      return json(res, 200, {
        status: "ok",
        openSessions: wss.clients.size,
        sessionsStarted: nextSessionId - 1,
        upgradesReceived,
      });
    }
    if (url.pathname === "/debug/sessions") return json(res, 200, sessions);
    if (url.pathname === "/debug/counts")
      return json(res, 200, { healthRequests, upgradesReceived });
    const redirect = redirectTarget(url);
    if (redirect) {
      res.writeHead(302, { Location: redirect });
      return res.end();
    }
    if (url.pathname === "/hang") return hungSockets.add(req.socket);
    const status = url.pathname.match(/^\/status\/(\d{3})$/);
    if (status) return json(res, Number(status[1]), { error: "standin_status" });
    json(res, 404, { error: "not_found" });
  });

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) =>
      preferredProtocols.find((protocol) => offered.has(protocol)) ?? false,
  });

  server.on("upgrade", (req, socket, head) => {
    upgradesReceived++;
    const url = new URL(req.url ?? "/", "http://bridge");
    const status = url.pathname.match(/^\/status\/(\d{3})$/);
    if (status) {
      socket.end(
        `HTTP/1.1 ${status[1]} Refused\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      );
      return;
    }
    if (url.pathname === "/hang") {
      hungSockets.add(socket as Socket);
      return;
    }
    const redirect = redirectTarget(url);
    if (redirect) {
      socket.end(
        `HTTP/1.1 302 Found\r\nLocation: ${redirect}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      return;
    }
    if (url.pathname !== "/api/chat") {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    const delayMs = Math.min(Number(url.searchParams.get("standin_delay_ms")) || 0, 600_000);
    if (delayMs === 0)
      return wss.handleUpgrade(req, socket, head, (ws) => startSession(ws, req, url));
    hungSockets.add(socket as Socket);
    setTimeout(() => {
      hungSockets.delete(socket as Socket);
      wss.handleUpgrade(req, socket, head, (ws) => startSession(ws, req, url));
    }, delayMs).unref();
  });

  function startSession(ws: WebSocket, req: IncomingMessage, url: URL): void {
    const record: SessionRecord = {
      id: nextSessionId++,
      path: url.pathname,
      query: url.search,
      headers: req.headers,
      protocol: ws.protocol,
      framesReceived: 0,
      open: true,
      closed: null,
    };
    sessions.push(record);
    if (sessions.length > MAX_RECORDED_SESSIONS)
      sessions.splice(0, sessions.length - MAX_RECORDED_SESSIONS);

    ws.send(HANDSHAKE_FRAME);
    ws.on("message", (data, isBinary) => {
      record.framesReceived++;
      if (!isBinary) {
        const command = parseCommand(data.toString());
        if (command) return ws.close(command.code, command.reason);
      }
      ws.send(data, { binary: isBinary });
    });
    ws.on("close", (code, reason) => {
      record.open = false;
      record.closed = { code, reason: reason.toString() };
    });
    ws.on("error", () => ws.terminate());
  }

  const endConnections = () => {
    for (const socket of hungSockets) socket.destroy();
    for (const client of wss.clients) client.terminate();
  };
  return { server, endConnections };
}

/** Listens until a signal (or, started with an IPC channel, the parent's going away) ends the process. */
export async function run(argv: string[]): Promise<void> {
  const args = command.parse(argv);
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(
      `--port "${args.port}"${process.env.PORT && args.port === process.env.PORT ? " (from PORT)" : ""} is not a TCP port`,
    );
  const { server, endConnections } = standinServer(args.protocols.split(",").filter(Boolean));

  const shutdown = () => {
    endConnections();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  if (process.send) process.on("disconnect", shutdown);

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE")
        reject(new CommandFailure(`port ${port} is in use: stop what holds it or pass --port`));
      else if (error.code === "EADDRNOTAVAIL")
        reject(new CommandFailure(`--host ${args.host} is not an address of this machine`));
      else
        reject(
          new CommandFailure(
            `cannot listen on ${args.host}:${port}: ${error.code ?? error.message}`,
          ),
        );
    });
    server.listen(port, args.host, resolve);
  });
  const address = server.address();
  const listening = typeof address === "object" && address ? address.port : port;
  if (process.send) process.send({ event: "listening", port: listening });
  else
    console.log(
      `stand-in bridge on ws://${args.host}:${listening}/api/chat (health: http://${args.host}:${listening}/health)`,
    );
}

if (isEntryPoint(import.meta.url)) void main(command, run);

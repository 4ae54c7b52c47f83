/**
 * A stand-in for the voice bridge, on loopback, in one of two modes.
 *
 * personaplex (the default): behaves like NVIDIA PersonaPlex's moshi/moshi/server.py.
 *   GET /api/chat  WebSocket. The 101 goes out first; then (reading the query like aiohttp:
 *                  `&`-separated, percent-decoded) a missing voice_prompt or text_prompt,
 *                  a voice_prompt not in --voices, or any seed parameter drops the connection
 *                  (no close frame: the client sees 1006). One conversation at a time: a second
 *                  client gets its 101 at once, then nothing until the first ends. Holding the
 *                  conversation, it waits --prompt-delay-ms (the system prompts), sends 0x00, and
 *                  answers each 0x01 audio frame with a 0x01 frame of its own bytes (not an echo);
 *                  text frames and other kinds are ignored.
 *   /, /<file>     only with --static <dir>; everything else 404. No /health.
 *
 * echo (for the tests and the bench that need byte-exact frames and many sessions):
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
 * Either mode serves https/wss with --tls (a self-signed certificate made with openssl, its path
 * printed) or --cert/--key. Started with an IPC channel (as tests and `npm run dev` do), it
 * reports its port (and certificate) to the parent and exits when the parent goes away.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type RequestListener,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, resolve, sep } from "node:path";
import { WebSocketServer, WebSocket } from "ws";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";
import { selfSignedCertificate } from "./lib/selfSignedCertificate";
import { STOCK_VOICES } from "../worker/src/voices";

export const MODES = ["personaplex", "echo"] as const;
export type StandinMode = (typeof MODES)[number];

/** The voices it offers: the stock client's 18, as a PersonaPlex install has them. */
export const DEFAULT_VOICES = STOCK_VOICES;

const command = defineCommand({
  name: "bridge",
  options: {
    mode: {
      type: "string",
      value: "<mode>",
      default: "personaplex",
      description:
        "personaplex (behaves like the real server) or echo (echoes frames, any query, many sessions, test routes)",
    },
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
    voices: {
      type: "string",
      value: "<list>",
      default: DEFAULT_VOICES.join(","),
      description: "personaplex: comma-separated voice_prompt values it knows",
    },
    "prompt-delay-ms": {
      type: "string",
      value: "<ms>",
      default: "1000",
      description: "personaplex: how long the system prompts take before the 0x00 handshake",
    },
    static: {
      type: "string",
      value: "<dir>",
      description: "personaplex: serve / (index.html) and the files of this directory",
    },
    protocols: {
      type: "string",
      value: "<list>",
      default: "",
      defaultText: "none",
      description: "echo: comma-separated subprotocols to select when offered, e.g. voice.v2",
    },
    tls: {
      type: "boolean",
      description:
        "serve https/wss with a self-signed certificate made with openssl (path printed)",
    },
    cert: {
      type: "string",
      value: "<file>",
      description: "serve https/wss with this PEM certificate (with --key)",
    },
    key: {
      type: "string",
      value: "<file>",
      description: "the PEM private key of --cert",
    },
  },
  notes: [
    "personaplex: GET /api/chat only (+ / and files with --static), one session at a time, options checked after the 101",
    "echo: /api/chat echoes, /health, /status/N, /hang, /redirect-to/PORT/PATH, /debug/sessions",
  ],
});

const HANDSHAKE_FRAME = Buffer.from([0x00]);
const AUDIO_KIND = 0x01;
const MAX_RECORDED_SESSIONS = 500;

/** One mode's answers to plain requests and to upgrades, and how to end every connection it holds. */
interface StandinHandlers {
  onRequest: RequestListener;
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  endConnections(): void;
}

/**
 * What makes the real server's handler raise after the 101, in the order it reads the query:
 * the voice_prompt (missing or not in its voice directory), the text_prompt, then any seed
 * (it reads `request["seed"]`, a key the request never has). Undefined: the session goes on.
 */
export function sessionOptionsProblem(
  query: URLSearchParams,
  voices: readonly string[],
): string | undefined {
  const voice = query.get("voice_prompt");
  if (voice === null) return "voice_prompt is missing";
  if (!voices.includes(voice)) return `voice_prompt ${JSON.stringify(voice)} is not a known voice`;
  if (query.get("text_prompt") === null) return "text_prompt is missing";
  if (query.has("seed")) return "seed is not readable";
  return undefined;
}

/**
 * The query as aiohttp reads it (`request.query`): everything after the first `?`, split on `&`
 * only, names and values percent-decoded, a bad escape left as it is — URLSearchParams's reading.
 */
export function serverQuery(target: string): URLSearchParams {
  const start = target.indexOf("?");
  return new URLSearchParams(start < 0 ? "" : target.slice(start + 1).split("#")[0]);
}

/** The stand-in's answer to one audio payload: a 0x01 frame of its own bytes, never the payload back. */
export function generatedAudio(payload: Buffer): Buffer {
  const bytes = randomBytes(Math.max(payload.length, 1));
  if (bytes.equals(payload)) bytes[0] ^= 0xff;
  return Buffer.concat([Buffer.from([AUDIO_KIND]), bytes]);
}

function plainAnswer(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(body);
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** The file `pathname` names inside `root` (`/` is index.html), or undefined if none. */
function staticFile(root: string, pathname: string): string | undefined {
  let relative: string;
  try {
    relative = decodeURIComponent(pathname === "/" ? "/index.html" : pathname);
  } catch {
    return undefined;
  }
  const file = resolve(root, `.${relative}`);
  if (!file.startsWith(resolve(root) + sep)) return undefined;
  return existsSync(file) && statSync(file).isFile() ? file : undefined;
}

/** One conversation at a time, in arrival order, like the real server's `asyncio.Lock`. */
class ConversationLock {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves with the release function once every earlier holder has released. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolveRelease) => (release = resolveRelease));
    const acquired = this.tail.then(() => release);
    this.tail = this.tail.then(() => released);
    return acquired;
  }
}

function personaplexHandlers(options: {
  voices: string[];
  promptDelayMs: number;
  staticDir?: string;
}): StandinHandlers {
  const lock = new ConversationLock();
  const wss = new WebSocketServer({ noServer: true });

  const onRequest: RequestListener = (req, res) => {
    const url = new URL(req.url ?? "/", "http://bridge");
    if (url.pathname === "/api/chat") {
      if (req.method !== "GET" && req.method !== "HEAD")
        return text(res, 405, "405: Method Not Allowed");
      return text(res, 400, "No WebSocket UPGRADE hdr");
    }
    const file = options.staticDir && staticFile(options.staticDir, url.pathname);
    if (!file || (req.method !== "GET" && req.method !== "HEAD"))
      return text(res, 404, "404: Not Found");
    res.writeHead(200, {
      "Content-Type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
    });
    res.end(req.method === "HEAD" ? undefined : readFileSync(file));
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://bridge");
    if (url.pathname !== "/api/chat") return plainAnswer(socket, "404 Not Found");
    if (req.method !== "GET") return plainAnswer(socket, "405 Method Not Allowed");
    wss.handleUpgrade(req, socket, head, (ws) => {
      // What the real server logs as "Incoming connection": tests count the sessions that reached it
      // and read what each carried (its request target and headers).
      process.send?.({ event: "upgrade", target: req.url, headers: req.headers });
      ws.on("error", () => ws.terminate());
      // The real handler raises here, after the 101: the transport closes without a close frame.
      if (sessionOptionsProblem(serverQuery(req.url ?? ""), options.voices)) return socket.end();
      void converse(ws);
    });
  };

  async function converse(ws: WebSocket): Promise<void> {
    const closed = new Promise<void>((resolveClosed) => ws.once("close", () => resolveClosed()));
    const release = await lock.acquire();
    try {
      if (ws.readyState !== WebSocket.OPEN) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        closed,
        new Promise<void>((done) => (timer = setTimeout(done, options.promptDelayMs))),
      ]);
      clearTimeout(timer);
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(HANDSHAKE_FRAME);
      ws.on("message", (data, isBinary) => {
        const frame = data as Buffer;
        if (isBinary && frame.length > 0 && frame[0] === AUDIO_KIND)
          ws.send(generatedAudio(frame.subarray(1)));
      });
      await closed;
    } finally {
      release();
    }
  }

  return {
    onRequest,
    onUpgrade,
    endConnections: () => {
      for (const client of wss.clients) client.terminate();
    },
  };
}

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

function parseCloseCommand(text: string): { code: number; reason: string } | undefined {
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

function echoHandlers(preferredProtocols: string[]): StandinHandlers {
  const sessions: SessionRecord[] = [];
  let nextSessionId = 1;
  let upgradesReceived = 0;
  let healthRequests = 0;
  const hungSockets = new Set<Socket>();

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) =>
      preferredProtocols.find((protocol) => offered.has(protocol)) ?? false,
  });

  const onRequest: RequestListener = (req, res) => {
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
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
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
    if (url.pathname !== "/api/chat") return plainAnswer(socket, "404 Not Found");
    const delayMs = Math.min(Number(url.searchParams.get("standin_delay_ms")) || 0, 600_000);
    if (delayMs === 0)
      return wss.handleUpgrade(req, socket, head, (ws) => startSession(ws, req, url));
    hungSockets.add(socket as Socket);
    setTimeout(() => {
      hungSockets.delete(socket as Socket);
      wss.handleUpgrade(req, socket, head, (ws) => startSession(ws, req, url));
    }, delayMs).unref();
  };

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
        const command = parseCloseCommand(data.toString());
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

  return {
    onRequest,
    onUpgrade,
    endConnections: () => {
      for (const socket of hungSockets) socket.destroy();
      for (const client of wss.clients) client.terminate();
    },
  };
}

/** A self-signed certificate made with openssl in a new temporary directory. */
function temporaryCertificate(): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "standin-bridge-tls-"));
  try {
    return { dir, ...selfSignedCertificate(dir) };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new CommandFailure(
      missing
        ? "--tls needs openssl: install the openssl package, or pass --cert and --key"
        : `openssl could not make a certificate: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`,
    );
  }
}

function parseArguments(argv: string[]) {
  const args = command.parse(argv);
  const mode = args.mode as StandinMode;
  if (!MODES.includes(mode))
    throw new UsageError(`--mode "${args.mode}" is not one of ${MODES.join(", ")}`);
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(
      `--port "${args.port}"${process.env.PORT && args.port === process.env.PORT ? " (from PORT)" : ""} is not a TCP port`,
    );
  const promptDelayMs = Number(args["prompt-delay-ms"]);
  if (!Number.isInteger(promptDelayMs) || promptDelayMs < 0)
    throw new UsageError(`--prompt-delay-ms "${args["prompt-delay-ms"]}" is not a whole number`);
  const voices = args.voices.split(",").filter(Boolean);
  if (voices.length === 0) throw new UsageError("--voices lists no voice");
  if (
    args.static !== undefined &&
    !(existsSync(args.static) && statSync(args.static).isDirectory())
  )
    throw new UsageError(`--static "${args.static}" is not a directory`);
  if (mode === "echo" && args.static !== undefined)
    throw new UsageError("--static is for --mode personaplex");
  if (mode === "personaplex" && args.protocols)
    throw new UsageError("--protocols is for --mode echo (the real server selects no subprotocol)");
  if ((args.cert === undefined) !== (args.key === undefined))
    throw new UsageError("--cert and --key go together");
  if (args.tls && args.cert !== undefined)
    throw new UsageError("--tls makes its own certificate: pass either --tls or --cert/--key");
  for (const option of ["cert", "key"] as const) {
    const file = args[option];
    if (file !== undefined && !existsSync(file))
      throw new UsageError(`--${option} "${file}" does not exist`);
  }
  return { ...args, mode, port, promptDelayMs, voices };
}

/** Listens until a signal (or, started with an IPC channel, the parent's going away) ends the process. */
export async function run(argv: string[]): Promise<void> {
  const args = parseArguments(argv);
  const handlers =
    args.mode === "echo"
      ? echoHandlers(args.protocols.split(",").filter(Boolean))
      : personaplexHandlers({
          voices: args.voices,
          promptDelayMs: args.promptDelayMs,
          staticDir: args.static,
        });
  const generated = args.tls ? temporaryCertificate() : undefined;
  const certFile = generated?.cert ?? args.cert;
  const keyFile = generated?.key ?? args.key;
  const server =
    certFile && keyFile
      ? createHttpsServer(
          { cert: readFileSync(certFile), key: readFileSync(keyFile) },
          handlers.onRequest,
        )
      : createHttpServer(handlers.onRequest);
  server.on("upgrade", handlers.onUpgrade);

  const removeCertificate = () => {
    if (generated) rmSync(generated.dir, { recursive: true, force: true });
  };
  const shutdown = () => {
    handlers.endConnections();
    removeCertificate();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  if (process.send) process.on("disconnect", shutdown);

  await new Promise<void>((resolveListening, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      removeCertificate();
      if (error.code === "EADDRINUSE")
        reject(
          new CommandFailure(`port ${args.port} is in use: stop what holds it or pass --port`),
        );
      else if (error.code === "EADDRNOTAVAIL")
        reject(new CommandFailure(`--host ${args.host} is not an address of this machine`));
      else
        reject(
          new CommandFailure(
            `cannot listen on ${args.host}:${args.port}: ${error.code ?? error.message}`,
          ),
        );
    });
    server.listen(args.port, args.host, resolveListening);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : args.port;
  if (process.send) {
    process.send({ event: "listening", port, certificate: certFile });
    return;
  }
  const scheme = certFile ? "s" : "";
  const origin = `${args.host}:${port}`;
  console.log(
    args.mode === "echo"
      ? `stand-in bridge (echo) on ws${scheme}://${origin}/api/chat (health: http${scheme}://${origin}/health)`
      : `stand-in bridge (personaplex: one session at a time, 0x00 after ${args.promptDelayMs} ms) on ws${scheme}://${origin}/api/chat?text_prompt=…&voice_prompt=${args.voices[0]}`,
  );
  if (args.mode === "personaplex") console.log(`voices: ${args.voices.join(", ")}`);
  if (certFile)
    console.log(
      `certificate: ${certFile}${generated ? " (self-signed for localhost and 127.0.0.1; removed on exit)" : ""}`,
    );
}

if (isEntryPoint(import.meta.url)) void main(command, run);

/**
 * `npm run smoke -- --url <wss url> [--token <jwt>]`: connects the way a browser does, with a query
 * the real PersonaPlex server accepts, and checks the edge end to end. Prints timings; on any
 * failure, one line saying why (a close before the handshake with its code and JSON reason), and
 * exit code 1. A busy fleet with the waiting line on (`1013` with `"line":true`): it joins the line
 * as a page does and reports its position; with `--wait` it waits for its turn and goes on with
 * the turn's ticket.
 */
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import WebSocket from "ws";
import { BEARER_PROTOCOL_PREFIX } from "../worker/src/headers";
import { HEALTH_PATH, WS_PATH } from "../worker/src/routes";
import {
  LINE_PATH,
  SESSION_LIMIT_CLOSE_CODE,
  TICKET_PROTOCOL_PREFIX,
  TICKET_REFUSED_CLOSE_CODE,
  type LineMessage,
} from "../worker/src/line/contract";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";

class SmokeFailure extends Error {
  /** The socket's close, when the failure is one: the code and the reason as they came. */
  close?: { code: number; reason: string };
}
const fail = (reason: string): never => {
  throw new SmokeFailure(reason);
};

/** What the real server needs before it sends 0x00: a text prompt and a voice it has. */
const DEFAULT_TEXT_PROMPT = "You enjoy having a good conversation.";
const DEFAULT_VOICE_PROMPT = "NATF2.pt";

const command = defineCommand({
  name: "smoke",
  options: {
    url: {
      type: "string",
      value: "<ws(s)://host/voice/ws>",
      required: true,
      description: "the edge's WebSocket URL",
    },
    token: {
      type: "string",
      value: "<jwt>",
      defaultText: "$VOICE_EDGE_TOKEN",
      description: 'the bearer token (locally: --token "$(npm run --silent token)")',
    },
    "no-token": { type: "boolean", description: "connect without a token (a stack with auth off)" },
    origin: {
      type: "string",
      value: "<origin>",
      defaultText: "the URL's http(s) origin",
      description: "the Origin header, as a browser page would send it",
    },
    protocol: {
      type: "string",
      value: "<subprotocol>",
      default: "voice.v1",
      description: "the subprotocol the edge must select",
    },
    "text-prompt": {
      type: "string",
      value: "<text>",
      default: DEFAULT_TEXT_PROMPT,
      description: "the text_prompt query parameter (unless the URL has one)",
    },
    "voice-prompt": {
      type: "string",
      value: "<file>",
      default: DEFAULT_VOICE_PROMPT,
      description:
        "the voice_prompt query parameter, a voice the server knows (unless the URL has one)",
    },
    wait: {
      type: "boolean",
      description:
        "with every bridge busy and the waiting line on: wait in line for the turn, then connect with its ticket",
    },
    "no-handshake": {
      type: "boolean",
      description: "do not wait for the bridge's 0x00 handshake frame",
    },
    "timeout-ms": {
      type: "string",
      value: "<ms>",
      default: "10000",
      description: "bound for each step",
    },
  },
  notes: [
    'a busy fleet with the line on (close 1013 with "line":true): joins /voice/line, prints the position and estimated wait, and fails as busy unless --wait',
    "exit: 0 ok, 1 the edge failed a step (or every bridge is busy), 2 a usage mistake",
  ],
});
/** A JWS in compact form: three base64url parts. Anything else is named before it reaches a subprotocol header. */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;
export function tokenProblem(token: string): string | undefined {
  if (JWT_SHAPE.test(token)) return undefined;
  const why = /\s/.test(token)
    ? "it contains spaces or line breaks"
    : "it is not three base64url parts joined by dots";
  return `is not a JWT (${why}): use npm run --silent token (without --silent, npm prints its own lines into the token)`;
}

type Timings = [string, number][];

async function timed<T>(timings: Timings, label: string, step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await step();
  timings.push([label, performance.now() - started]);
  return result;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>(
      (_, reject) =>
        (timer = setTimeout(() => reject(new SmokeFailure(`${what} within ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

/** Whether something on host:port completes a TLS handshake (certificate unchecked): the answer to "ws:// but the server wanted TLS?". */
function speaksTls(url: URL, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: url.hostname,
      port: Number(url.port || 80),
      ...(isIP(url.hostname) ? {} : { servername: url.hostname }),
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.once("secureConnect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

const TLS_PROBE_AFTER_MS = 500;
const TLS_TO_PLAIN = /wrong version number|packet length too long|unknown protocol|http request/i;
const PLAIN_TO_TLS_BODY = /plain HTTP request was sent to HTTPS port/i;

/** Whether host:port answers plain HTTP (and is not a TLS server saying it wants TLS): the answer to "wss:// but the server is plain?". */
async function answersPlainHttp(url: URL, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(`http://${url.host}${HEALTH_PATH}`, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    return !PLAIN_TO_TLS_BODY.test(await response.text());
  } catch {
    return false;
  }
}

function tlsToPlain(url: URL): string {
  return `${url.host} answers without TLS but the URL is wss://: use ws://${url.host}${url.pathname} (the local edge is plain ws://)`;
}

function plainToTls(url: URL): string {
  return `${url.host} speaks TLS but the URL is ws://: use wss://${url.host}${url.pathname}`;
}

function describeSocketError(error: NodeJS.ErrnoException, url: URL): string {
  if (
    url.protocol === "wss:" &&
    (error.code === "EPROTO" || error.code?.startsWith("ERR_SSL_")) &&
    TLS_TO_PLAIN.test(`${error.code} ${error.message}`)
  ) {
    return tlsToPlain(url);
  }
  if (error.code === "ECONNREFUSED")
    return `cannot connect to ${url.host}: connection refused (is the edge running?)`;
  if (error.code === "ENOTFOUND") return `cannot resolve ${url.hostname}`;
  return `connection to ${url.host} failed: ${error.code ?? error.message}`;
}

function open(
  url: URL,
  protocols: string[],
  origin: string,
  timeoutMs: number,
): Promise<{ socket: WebSocket; frames: Frames }> {
  const socket = new WebSocket(url, protocols, {
    headers: { Origin: origin },
    handshakeTimeout: timeoutMs,
  });
  const frames = new Frames(socket);
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve({ socket, frames }));
    // A plain server handed a TLS ClientHello often just waits for more: half a second without a handshake, ask it in plain HTTP.
    if (url.protocol === "wss:") {
      const probe = setTimeout(async () => {
        if (socket.readyState === WebSocket.CONNECTING && (await answersPlainHttp(url, 500))) {
          socket.terminate();
          reject(new SmokeFailure(tlsToPlain(url)));
        }
      }, TLS_PROBE_AFTER_MS);
      socket.once("open", () => clearTimeout(probe));
      socket.once("error", () => clearTimeout(probe));
    }
    socket.once("unexpected-response", (_request, response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      response.on("end", () => {
        let code = "";
        try {
          code = (JSON.parse(body) as { error?: string }).error ?? "";
        } catch {
          code = body.slice(0, 80).replace(/\s+/g, " ");
        }
        socket.terminate();
        if (url.protocol === "ws:" && response.statusCode === 400 && PLAIN_TO_TLS_BODY.test(body))
          return reject(new SmokeFailure(plainToTls(url)));
        reject(
          new SmokeFailure(`upgrade refused: HTTP ${response.statusCode}${code ? ` ${code}` : ""}`),
        );
      });
    });
    socket.once("error", async (error: NodeJS.ErrnoException) => {
      if (error instanceof SmokeFailure) return reject(error);
      // A TLS server handed plain HTTP resets the connection or answers with TLS bytes: ask it for a handshake.
      const garbled =
        error.code === "ECONNRESET" ||
        error.code?.startsWith("HPE_") ||
        /socket hang up/.test(error.message);
      if (url.protocol === "ws:" && garbled && (await speaksTls(url, Math.min(timeoutMs, 1000))))
        return reject(new SmokeFailure(plainToTls(url)));
      reject(new SmokeFailure(describeSocketError(error, url)));
    });
  });
}

/** The edge's close codes after a 101 (docs/edge-contract.md), said with the code and JSON reason as they came. */
export function describeClose(code: number, reason: string): string {
  let parsed: {
    error?: string;
    retryAfterS?: number;
    parameter?: string;
    line?: boolean;
    limit?: number;
    ticket?: string;
  } = {};
  try {
    parsed = JSON.parse(reason) as typeof parsed;
  } catch {
    // not one of the edge's reasons
  }
  const said = `close ${code}${reason ? ` ${reason}` : ""}`;
  if (code === 1013 && parsed.error === "bridge_busy")
    return `the bridge is busy (${said}): retry after ${parsed.retryAfterS ?? "a few"} s`;
  if (code === 4400 && parsed.error === "session_options_invalid") {
    const flag = parsed.parameter?.endsWith("_prompt")
      ? ` (--${parsed.parameter.replace("_", "-")})`
      : "";
    return `the bridge refused the session options (${said})${parsed.parameter ? `: check ${parsed.parameter}${flag}` : ""}`;
  }
  if (code === 1014) return `the bridge is unavailable (${said})`;
  if (code === SESSION_LIMIT_CLOSE_CODE && parsed.error === "session_limit")
    return `this token's subject already holds ${parsed.limit ?? "its"} session(s), turn(s) or place(s) in line (${said}): end it (a place in line is kept a while after its socket closes), or use a token with another subject (npm run token -- --sub <subject>)`;
  if (code === TICKET_REFUSED_CLOSE_CODE && parsed.error === "ticket_refused")
    return `the line's ticket was refused (${said})`;
  if (code === 1006)
    return "the session dropped (close 1006, no reason): a server without a guard drops a session whose options it cannot use";
  return `the session closed early (${said})`;
}

/**
 * Collects frames from the moment the socket exists: the bridge's handshake frame (or the line's
 * first message) can arrive in the same packet as the 101, before any later listener is attached.
 * Binary frames and text frames (the line's JSON messages) queue apart.
 */
class Frames {
  private readonly queues = { binary: [] as Buffer[], text: [] as string[] };
  private readonly waiters: {
    binary?: { resolve: (frame: Buffer) => void; reject: (error: Error) => void };
    text?: { resolve: (frame: string) => void; reject: (error: Error) => void };
  } = {};
  private closed?: SmokeFailure;

  constructor(socket: WebSocket) {
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (this.waiters.binary) this.waiters.binary.resolve(data);
        else this.queues.binary.push(data);
        this.waiters.binary = undefined;
      } else {
        const text = data.toString("utf8");
        if (this.waiters.text) this.waiters.text.resolve(text);
        else this.queues.text.push(text);
        this.waiters.text = undefined;
      }
    });
    socket.on("close", (code: number, reason: Buffer) => {
      this.closed = new SmokeFailure(describeClose(code, reason.toString()));
      this.closed.close = { code, reason: reason.toString() };
      this.waiters.binary?.reject(this.closed);
      this.waiters.text?.reject(this.closed);
    });
  }

  next(): Promise<Buffer> {
    return this.take("binary");
  }

  nextText(): Promise<string> {
    return this.take("text");
  }

  private take<K extends "binary" | "text">(kind: K): Promise<(typeof this.queues)[K][number]> {
    const queued = this.queues[kind].shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      (this.waiters as Record<string, unknown>)[kind] = { resolve, reject };
    });
  }
}

/** Whether `failure` is the edge's `1013` that offers a place in the waiting line. */
function offersLine(failure: unknown): boolean {
  if (!(failure instanceof SmokeFailure) || failure.close?.code !== 1013) return false;
  try {
    return (JSON.parse(failure.close.reason) as { line?: unknown }).line === true;
  } catch {
    return false;
  }
}

function sessionLimited(failure: unknown): boolean {
  return failure instanceof SmokeFailure && failure.close?.code === SESSION_LIMIT_CLOSE_CODE;
}

/** A position as a person reads it. */
function describePosition(message: Extract<LineMessage, { type: "position" }>): string {
  return `position ${message.position}, ${message.etaS === null ? "no estimated wait yet (no session has ended since the line started)" : `estimated wait ${message.etaS} s`}`;
}

/** The page sends a text `ping` at least this often: Cloudflare closes a socket idle for about 100 s. */
const LINE_KEEPALIVE_MS = 25_000;
/** How long leaving the line waits for the close handshake before it drops the connection. */
const LINE_CLOSE_WAIT_MS = 1_000;

/**
 * Takes a place in the waiting line at `lineUrl` as a page does (the same subprotocols and Origin)
 * and prints what it hears. Without `wait`: the first position, then it leaves and fails as busy.
 * With `wait`: every position until its turn, whose ticket it returns (the line socket is left
 * for the coordinator to close once the ticket is redeemed).
 */
async function waitInLine(
  lineUrl: URL,
  protocols: string[],
  origin: string,
  timeoutMs: number,
  busy: SmokeFailure,
  wait: boolean,
): Promise<{ ticket: string; leave: () => void }> {
  console.log(
    sessionLimited(busy)
      ? `line: ${busy.close?.code} ${busy.close?.reason}: rejoining the waiting line at ${lineUrl.href}, which gives back a place this subject left less than its grace period ago`
      : `line: ${busy.message}; joining the waiting line at ${lineUrl.href}`,
  );
  const { socket, frames } = await withTimeout(
    open(lineUrl, protocols, origin, timeoutMs),
    timeoutMs,
    "no 101 from the line",
  );
  const keepalive = setInterval(() => socket.send("ping"), LINE_KEEPALIVE_MS);
  const leave = () => {
    clearInterval(keepalive);
    socket.terminate();
  };
  try {
    for (let first = true; ; first = false) {
      const text = await (first
        ? withTimeout(frames.nextText(), timeoutMs, "no position from the line")
        : frames.nextText());
      if (text === "pong") continue;
      const message = JSON.parse(text) as LineMessage;
      if (message.type === "turn") {
        console.log(
          `line: turn — a bridge is held for this visitor for ${message.expiresInS} s${message.maxSessionMinutes === undefined ? "" : ` (a session lasts at most ${message.maxSessionMinutes} min)`}; connecting with its ticket`,
        );
        return { ticket: message.ticket, leave };
      }
      console.log(`line: ${describePosition(message)}`);
      if (!wait) {
        // The close frame goes out at once; the runtime may hold the connection open after the
        // close handshake, so the wait for it is short and its end is not awaited.
        await withTimeout(
          new Promise<void>((resolve) => {
            socket.once("close", () => resolve());
            socket.close(1000, "smoke test done");
          }),
          Math.min(timeoutMs, LINE_CLOSE_WAIT_MS),
          "no close handshake from the line",
        ).catch(() => undefined);
        leave();
        return fail(
          `every bridge is busy: in line at ${describePosition(message)}; left the line (--wait waits for the turn)`,
        );
      }
    }
  } catch (error) {
    leave();
    throw error instanceof SmokeFailure && error.close
      ? new SmokeFailure(`the line closed before a turn: ${error.message}`)
      : error;
  }
}

/** The selected subprotocol and, unless `--no-handshake`, the bridge's 0x00 (returned). */
async function handshake(
  args: ReturnType<typeof command.parse>,
  socket: WebSocket,
  frames: Frames,
  timings: Timings,
  timeoutMs: number,
): Promise<Buffer | undefined> {
  if (socket.protocol !== args.protocol)
    fail(`the 101 selected subprotocol "${socket.protocol}", expected "${args.protocol}"`);
  if (args["no-handshake"]) return undefined;
  const first = await timed(timings, "bridge handshake frame", () =>
    withTimeout(frames.next(), timeoutMs, "no 0x00 handshake frame from the bridge"),
  );
  if (first.length !== 1 || first[0] !== 0x00)
    fail(
      `the bridge's first frame was not the 0x00 handshake (got ${first.length} bytes starting ${first[0]})`,
    );
  return first;
}

async function smoke(args: ReturnType<typeof command.parse>): Promise<void> {
  const timings: Timings = [];
  let url: URL;
  try {
    url = new URL(args.url);
  } catch {
    throw new UsageError(`--url "${args.url}" is not a URL`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:")
    throw new UsageError(`--url must start with ws:// or wss://, got ${url.protocol}`);
  if (url.pathname !== WS_PATH)
    throw new UsageError(`--url path must be ${WS_PATH}, got ${url.pathname}`);
  const timeoutMs = Number(args["timeout-ms"]);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new UsageError(`--timeout-ms "${args["timeout-ms"]}" is not a positive integer`);
  const httpOrigin = `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
  const origin = args.origin ?? httpOrigin;
  const token = args.token ?? process.env.VOICE_EDGE_TOKEN;
  if (!token && !args["no-token"])
    throw new UsageError(
      'no token: pass --token <jwt> or set VOICE_EDGE_TOKEN (locally: --token "$(npm run --silent token)"), or --no-token for a stack with auth off',
    );
  const problem = token ? tokenProblem(token) : undefined;
  if (problem)
    throw new UsageError(`${args.token !== undefined ? "--token" : "VOICE_EDGE_TOKEN"} ${problem}`);

  for (const [name, value] of [
    ["text_prompt", args["text-prompt"]],
    ["voice_prompt", args["voice-prompt"]],
  ] as const)
    if (!url.searchParams.has(name)) url.searchParams.set(name, value);
  const protocols = [args.protocol, ...(token ? [`${BEARER_PROTOCOL_PREFIX}${token}`] : [])];
  const session = (ticket?: string) =>
    timed(timings, ticket ? "upgrade with the ticket" : "upgrade to 101", () =>
      withTimeout(
        open(
          url,
          ticket ? [...protocols, `${TICKET_PROTOCOL_PREFIX}${ticket}`] : protocols,
          origin,
          timeoutMs,
        ),
        timeoutMs,
        "no 101",
      ),
    );
  let { socket, frames } = await session();
  let line: { ticket: string; leave: () => void } | undefined;
  try {
    let first: Buffer | undefined;
    try {
      first = await handshake(args, socket, frames, timings, timeoutMs);
    } catch (error) {
      // 4409 may be this subject's own place, kept a while after its line socket closed: rejoining takes it up.
      if (!offersLine(error) && !(args.wait && sessionLimited(error))) throw error;
      socket.terminate();
      const lineUrl = new URL(LINE_PATH, url);
      lineUrl.search = "";
      line = await timed(timings, "wait in line for the turn", () =>
        waitInLine(lineUrl, protocols, origin, timeoutMs, error as SmokeFailure, args.wait),
      );
      ({ socket, frames } = await session(line.ticket));
      first = await handshake(args, socket, frames, timings, timeoutMs);
      console.log(
        `line: connected with the turn's ticket (bridge handshake ${first ? "0x00" : "not awaited"})`,
      );
    }
    const frame = Buffer.concat([Buffer.from([0x01]), randomBytes(639)]);
    const reply = await timed(timings, "binary round trip (640 B)", () => {
      socket.send(frame);
      return withTimeout(frames.next(), timeoutMs, "no binary frame back");
    });
    if (!reply.equals(frame))
      console.log("note: the bridge answered with a different frame (not an echo)");
    await timed(timings, "close 1000", () => {
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      socket.close(1000, "smoke test done");
      return withTimeout(closed, timeoutMs, "no close handshake");
    });
  } finally {
    socket.terminate();
    line?.leave();
  }

  const health = await timed(timings, "GET /voice/health", async () => {
    try {
      return await fetch(`${httpOrigin}${HEALTH_PATH}`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      return fail(`health check failed: ${(error as Error).message}`);
    }
  });
  const body = (await health.json().catch(() => ({}))) as {
    status?: string;
    bridges?: { total?: number; up?: number; free?: number };
  };
  // busy: another session holds the bridge now, which is not an outage.
  if (health.status !== 200 || (body.status !== "ok" && body.status !== "busy"))
    fail(`health answered ${health.status} ${body.status ?? ""}`.trim());

  console.log(
    `smoke: ok — ${url.origin}${WS_PATH} (protocol ${socket.protocol}, bridge health ${body.status}: ${body.bridges?.up ?? "?"} of ${body.bridges?.total ?? "?"} up, ${body.bridges?.free ?? "?"} free)`,
  );
  for (const [label, ms] of timings)
    console.log(`  ${label.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms`);
}

export async function run(argv: string[]): Promise<number> {
  const args = command.parse(argv);
  try {
    await smoke(args);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new CommandFailure(`FAIL ${(error as Error).message}`);
  }
  return 0;
}

if (isEntryPoint(import.meta.url)) void main(command, run);

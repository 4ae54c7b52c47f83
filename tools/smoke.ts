/**
 * `npm run smoke -- --url <wss url> [--token <jwt>]`: connects the way a browser does and checks
 * the edge end to end. Prints timings; on any failure, one line saying why, and exit code 1.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { BEARER_PROTOCOL_PREFIX } from "../worker/src/headers";
import { HEALTH_PATH, WS_PATH } from "../worker/src/routes";

const USAGE = "usage: npm run smoke -- --url <ws(s)://host/voice/ws> [--token <jwt> | VOICE_EDGE_TOKEN] [--origin <origin>] [--protocol voice.v1] [--no-handshake] [--timeout-ms 10000]";

class SmokeFailure extends Error {}
const fail = (reason: string): never => {
  throw new SmokeFailure(reason);
};

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    token: { type: "string" },
    origin: { type: "string" },
    protocol: { type: "string", default: "voice.v1" },
    "no-handshake": { type: "boolean", default: false },
    "no-token": { type: "boolean", default: false },
    "timeout-ms": { type: "string", default: "10000" },
  },
});

const timings: [string, number][] = [];
async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await step();
  timings.push([label, performance.now() - started]);
  return result;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new SmokeFailure(`${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

function describeSocketError(error: NodeJS.ErrnoException, url: URL): string {
  if (error.code === "ECONNREFUSED") return `cannot connect to ${url.host}: connection refused (is the edge running?)`;
  if (error.code === "ENOTFOUND") return `cannot resolve ${url.hostname}`;
  return `connection to ${url.host} failed: ${error.code ?? error.message}`;
}

function open(url: URL, protocols: string[], origin: string, timeoutMs: number): Promise<{ socket: WebSocket; frames: BinaryFrames }> {
  const socket = new WebSocket(url, protocols, { headers: { Origin: origin }, handshakeTimeout: timeoutMs });
  const frames = new BinaryFrames(socket);
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve({ socket, frames }));
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
        reject(new SmokeFailure(`upgrade refused: HTTP ${response.statusCode}${code ? ` ${code}` : ""}`));
      });
    });
    socket.once("error", (error) => reject(error instanceof SmokeFailure ? error : new SmokeFailure(describeSocketError(error as NodeJS.ErrnoException, url))));
  });
}

/**
 * Collects binary frames from the moment the socket exists: the bridge's handshake frame can
 * arrive in the same packet as the 101, before any later listener would be attached.
 */
class BinaryFrames {
  private readonly frames: Buffer[] = [];
  private waiter?: { resolve: (frame: Buffer) => void; reject: (error: Error) => void };
  private closed?: SmokeFailure;

  constructor(socket: WebSocket) {
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      if (this.waiter) this.waiter.resolve(data);
      else this.frames.push(data);
      this.waiter = undefined;
    });
    socket.on("close", (code: number, reason: Buffer) => {
      this.closed = new SmokeFailure(`the session closed early with ${code}${reason.length ? ` ${reason.toString()}` : ""}`);
      this.waiter?.reject(this.closed);
    });
  }

  next(): Promise<Buffer> {
    const queued = this.frames.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }
}

async function smoke(): Promise<void> {
  if (!args.url) fail(`--url is required\n${USAGE}`);
  let url: URL;
  try {
    url = new URL(args.url!);
  } catch {
    return fail(`--url "${args.url}" is not a URL`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") fail(`--url must start with ws:// or wss://, got ${url.protocol}`);
  if (url.pathname !== WS_PATH) fail(`--url path must be ${WS_PATH}, got ${url.pathname}`);
  const timeoutMs = Number(args["timeout-ms"]);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) fail(`--timeout-ms "${args["timeout-ms"]}" is not a positive integer`);
  const httpOrigin = `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
  const origin = args.origin ?? httpOrigin;
  const token = args.token ?? process.env.VOICE_EDGE_TOKEN;
  if (!token && !args["no-token"]) fail("no token: pass --token <jwt> or set VOICE_EDGE_TOKEN (locally: --token \"$(npm run --silent token)\"), or --no-token for a stack with auth off");

  const protocols = [args.protocol, ...(token ? [`${BEARER_PROTOCOL_PREFIX}${token}`] : [])];
  const { socket, frames } = await timed("upgrade to 101", () => withTimeout(open(url, protocols, origin, timeoutMs), timeoutMs, "no 101"));
  try {
    if (socket.protocol !== args.protocol) fail(`the 101 selected subprotocol "${socket.protocol}", expected "${args.protocol}"`);
    if (!args["no-handshake"]) {
      const first = await timed("bridge handshake frame", () => withTimeout(frames.next(), timeoutMs, "no 0x00 handshake frame from the bridge"));
      if (first.length !== 1 || first[0] !== 0x00) fail(`the bridge's first frame was not the 0x00 handshake (got ${first.length} bytes starting ${first[0]})`);
    }
    const frame = Buffer.concat([Buffer.from([0x01]), randomBytes(639)]);
    const reply = await timed("binary round trip (640 B)", () => {
      socket.send(frame);
      return withTimeout(frames.next(), timeoutMs, "no binary frame back");
    });
    if (!reply.equals(frame)) console.log("note: the bridge answered with a different frame (not an echo)");
    await timed("close 1000", () => {
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      socket.close(1000, "smoke test done");
      return withTimeout(closed, timeoutMs, "no close handshake");
    });
  } finally {
    socket.terminate();
  }

  const health = await timed("GET /voice/health", async () => {
    try {
      return await fetch(`${httpOrigin}${HEALTH_PATH}`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      return fail(`health check failed: ${(error as Error).message}`);
    }
  });
  const body = (await health.json().catch(() => ({}))) as { status?: string; bridge?: { latencyMs?: number } };
  if (health.status !== 200 || body.status !== "ok") fail(`health answered ${health.status} ${body.status ?? ""}`.trim());

  console.log(`smoke: ok — ${url.origin}${WS_PATH} (protocol ${socket.protocol}, bridge health ${body.bridge?.latencyMs ?? "?"} ms)`);
  for (const [label, ms] of timings) console.log(`  ${label.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms`);
}

try {
  await smoke();
} catch (error) {
  console.error(`smoke: FAIL ${error instanceof SmokeFailure ? error.message : (error as Error).message}`);
  process.exit(1);
}

/** Client-side measurements over real WebSockets: handshake, sequential round trips, pipelined throughput, idle sessions. */
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { percentile, sortedAscending } from "../test/support/stats";

export interface Target {
  url: string;
  protocols: string[];
  headers: Record<string, string>;
}

export const FRAME_BYTES = 640;

/** A socket that has finished its upgrade, with its frames queued from the very first one. */
interface OpenSocket {
  ws: WebSocket;
  next(): Promise<Buffer>;
}

export function openSocket(target: Target, timeoutMs = 10_000): Promise<OpenSocket> {
  const ws = new WebSocket(target.url, target.protocols, {
    headers: target.headers,
    perMessageDeflate: false,
    handshakeTimeout: timeoutMs,
  });
  const queue: Buffer[] = [];
  let waiter: ((frame: Buffer) => void) | undefined;
  ws.on("message", (data: Buffer) => {
    if (waiter) {
      const resolve = waiter;
      waiter = undefined;
      resolve(data);
    } else queue.push(data);
  });
  const next = () => {
    const queued = queue.shift();
    return queued ? Promise.resolve(queued) : new Promise<Buffer>((resolve) => (waiter = resolve));
  };
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, next }));
    ws.once("unexpected-response", (_req, res) =>
      reject(new Error(`${target.url}: HTTP ${res.statusCode}`)),
    );
    ws.once("error", reject);
  });
}

function closed(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once("close", () => resolve());
    ws.close(1000);
    setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2_000).unref();
  });
}

export interface Percentiles {
  p50: number;
  p99: number;
}

/** Nearest-rank p50 and p99 (`test/support/stats.ts`). */
export const percentilesOf = (samples: number[]): Percentiles => {
  const sorted = sortedAscending(samples);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
};

/**
 * How long `run` takes in µs, `warmup + count` times one after another, the first `warmup` not
 * measured; `after` gets each run's value and is not timed.
 */
async function timed<T>(
  count: number,
  run: () => Promise<T>,
  options: { warmup?: number; after?: (value: T) => Promise<void> } = {},
): Promise<Percentiles> {
  const { warmup = 0, after } = options;
  const samples: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const started = performance.now();
    const value = await run();
    if (i >= warmup) samples.push((performance.now() - started) * 1000);
    await after?.(value);
  }
  return percentilesOf(samples);
}

/** Upgrade time in µs, from `new WebSocket` to `open`, one connection after another. */
export function handshakes(target: Target, count: number): Promise<Percentiles> {
  return timed(count, () => openSocket(target), { after: (socket) => closed(socket.ws) });
}

/** Round-trip time in µs of 640-byte binary frames, one at a time, after `warmup` unmeasured ones. */
export async function roundTrips(
  target: Target,
  count: number,
  warmup = 200,
): Promise<Percentiles> {
  const socket = await openSocket(target);
  await socket.next();
  const frame = randomBytes(FRAME_BYTES);
  const rtt = await timed(
    count,
    async () => {
      socket.ws.send(frame);
      const echo = await socket.next();
      if (echo.length !== FRAME_BYTES)
        throw new Error(`${target.url}: echo of ${echo.length} bytes`);
    },
    { warmup },
  );
  await closed(socket.ws);
  return rtt;
}

/** Messages per second echoed with `inFlight` frames outstanding. */
export async function throughput(
  target: Target,
  total: number,
  inFlight = 64,
): Promise<{ messagesPerSecond: number; elapsedMs: number }> {
  const socket = await openSocket(target);
  await socket.next();
  socket.ws.removeAllListeners("message");
  const frame = randomBytes(FRAME_BYTES);
  let sent = 0;
  let received = 0;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${target.url}: throughput run stalled at ${received}/${total}`)),
      60_000,
    );
    socket.ws.on("message", () => {
      received++;
      if (sent < total) {
        socket.ws.send(frame);
        sent++;
      }
      if (received === total) {
        clearTimeout(timer);
        resolve();
      }
    });
    for (; sent < Math.min(inFlight, total); sent++) socket.ws.send(frame);
  });
  const elapsedMs = performance.now() - started;
  await closed(socket.ws);
  return { messagesPerSecond: (total / elapsedMs) * 1000, elapsedMs };
}

/** Opens `count` sessions (in batches), waits until each has its first frame, runs `measure`, then closes them all. */
export async function withIdleSessions<T>(
  target: Target,
  count: number,
  measure: () => Promise<T> | T,
): Promise<T> {
  const sockets: OpenSocket[] = [];
  try {
    for (let i = 0; i < count; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, () => openSocket(target)),
      );
      await Promise.all(batch.map((s) => s.next()));
      sockets.push(...batch);
    }
    await new Promise((r) => setTimeout(r, 1_000));
    return await measure();
  } finally {
    await Promise.all(sockets.map((s) => closed(s.ws)));
  }
}

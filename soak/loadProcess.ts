/**
 * The load generator, forked by soak/load.ts: real `ws` clients against the edge. Receives one
 * task over IPC, answers with its result and exits.
 */
import { randomBytes, randomFillSync } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type WebSocket from "ws";
import { expectOpen, type OpenSession } from "../test/support/edge";
import { carryToken, hs256, TRANSPORTS, type Transport } from "../test/support/tokens";
import type { ChurnResult, ChurnTask, LoadTask, StreamResult, StreamTask } from "./load";
import { summarize } from "../test/support/stats";

const HANDSHAKE = Buffer.from([0x00]);
const AUDIO_KIND = 0x01;
const HEADER_BYTES = 9;
const NS_PER_MS = 1e6;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `worker` over `count` items with at most `concurrency` at once. */
async function pool(
  count: number,
  concurrency: number,
  worker: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await worker(next++);
  });
  await Promise.all(lanes);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    sleep(ms).then(() => Promise.reject(new Error(`${what} took over ${ms} ms`))),
  ]);
}

async function openWithHandshake(
  url: string,
  token: string,
  transport: Transport = "subprotocol",
): Promise<OpenSession> {
  const carried = carryToken(url, token, transport);
  const session = await expectOpen(carried.url, {
    protocols: carried.protocols,
    headers: carried.headers,
  });
  const first = await session.next(10_000);
  if (!first.data.equals(HANDSHAKE)) throw new Error("the bridge's first frame was not 0x00");
  return session;
}

interface Stream {
  index: number;
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  phaseMs: number;
  sent: number;
  nextExpected: number;
  pending: Map<number, { frame: Buffer; sentAt: number }>;
  closedEarly?: string;
}

/** Frame: kind 0x01 (Moshi audio), session index and sequence number (uint32 BE), then random bytes. */
function makeFrame(bytes: number, session: number, seq: number): Buffer {
  const frame = Buffer.allocUnsafe(bytes);
  frame[0] = AUDIO_KIND;
  frame.writeUInt32BE(session, 1);
  frame.writeUInt32BE(seq, 5);
  randomFillSync(frame, HEADER_BYTES);
  return frame;
}

async function stream(task: StreamTask): Promise<StreamResult> {
  const framesPerSession = Math.round(task.framesPerSecond * task.seconds);
  const periodMs = 1000 / task.framesPerSecond;
  const latencies = new Float64Array(task.sessions * framesPerSession);
  let latencyCount = 0;
  const counts = { echoed: 0, reordered: 0, corrupted: 0, unexpected: 0 };
  const openFailures: string[] = [];
  const openMs: number[] = [];
  const streams: Stream[] = [];

  await pool(task.sessions, task.openConcurrency, async (index) => {
    const started = performance.now();
    try {
      const session = await openWithHandshake(task.url, await hs256({ sub: `soak-${index}` }));
      openMs.push(performance.now() - started);
      // From here the stream counts frames itself; the helper's queue would only grow.
      session.ws.removeAllListeners("message");
      streams.push({
        index,
        ws: session.ws,
        closed: session.closed,
        phaseMs: 0,
        sent: 0,
        nextExpected: 0,
        pending: new Map(),
      });
    } catch (error) {
      openFailures.push(error instanceof Error ? error.message : String(error));
    }
  });

  for (const [position, s] of streams.entries()) {
    s.phaseMs = (position / streams.length) * periodMs;
    s.ws.on("message", (data: Buffer, isBinary: boolean) => {
      const received = performance.now();
      if (!isBinary || data.length < HEADER_BYTES) return void counts.unexpected++;
      const seq = data.readUInt32BE(5);
      const pending = s.pending.get(seq);
      if (seq !== s.nextExpected) counts.reordered++;
      s.nextExpected = seq + 1;
      if (!pending) return void counts.unexpected++;
      s.pending.delete(seq);
      if (!data.equals(pending.frame)) counts.corrupted++;
      latencies[latencyCount++] = received - pending.sentAt;
      counts.echoed++;
    });
    void s.closed.then(({ code }) => {
      if (s.sent < framesPerSession || s.pending.size > 0)
        s.closedEarly = `session ${s.index} closed with ${code} after ${s.sent} frames`;
    });
  }

  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  let sendLateMaxMs = 0;
  const startAt = performance.now() + 50;
  await new Promise<void>((resolve) => {
    const ticker = setInterval(() => {
      const now = performance.now();
      let done = true;
      for (const s of streams) {
        if (s.closedEarly) continue;
        while (s.sent < framesPerSession) {
          const due = startAt + s.phaseMs + s.sent * periodMs;
          if (due > now) break;
          const frame = makeFrame(task.frameBytes, s.index, s.sent);
          s.pending.set(s.sent, { frame, sentAt: performance.now() });
          s.ws.send(frame);
          sendLateMaxMs = Math.max(sendLateMaxMs, now - due);
          s.sent++;
        }
        if (s.sent < framesPerSession) done = false;
      }
      if (done) {
        clearInterval(ticker);
        resolve();
      }
    }, 2);
  });
  const streamSeconds = (performance.now() - startAt) / 1000;
  const drainUntil = performance.now() + task.drainMs;
  while (
    streams.some((s) => s.pending.size > 0 && !s.closedEarly) &&
    performance.now() < drainUntil
  )
    await sleep(10);
  loopDelay.disable();

  let closedWith1000 = 0;
  await Promise.all(
    streams.map(async (s) => {
      s.ws.close(1000, "soak done");
      const { code } = await withTimeout(s.closed, 10_000, "closing").catch(() => ({ code: 0 }));
      if (code === 1000) closedWith1000++;
    }),
  );

  const sent = streams.reduce((sum, s) => sum + s.sent, 0);
  return {
    sessions: {
      requested: task.sessions,
      opened: streams.length,
      openFailures: openFailures.slice(0, 5),
      closedWith1000,
      closedEarly: streams.flatMap((s) => s.closedEarly ?? []).slice(0, 5),
    },
    frames: {
      sent,
      echoed: counts.echoed,
      lost: streams.reduce((sum, s) => sum + s.pending.size, 0),
      reordered: counts.reordered,
      corrupted: counts.corrupted,
      unexpected: counts.unexpected,
    },
    latencyMs: summarize(latencies.subarray(0, latencyCount)),
    openMs: summarize(openMs),
    sendLateMaxMs,
    clientLoopDelayMs: {
      p99: loopDelay.percentile(99) / NS_PER_MS,
      max: loopDelay.max / NS_PER_MS,
    },
    streamSeconds,
  };
}

async function churnCycle(task: ChurnTask, index: number, transport: Transport): Promise<void> {
  const session = await withTimeout(
    openWithHandshake(task.url, await hs256({ sub: `churn-${index}` }), transport),
    15_000,
    "opening",
  );
  try {
    const frame = randomBytes(task.frameBytes);
    session.ws.send(frame);
    const echoed = await session.next(5_000);
    if (!echoed.data.equals(frame)) throw new Error("echo differs from the frame sent");
    session.ws.close(1000);
    const { code } = await withTimeout(session.closed, 5_000, "closing");
    if (code !== 1000) throw new Error(`closed with ${code}`);
  } finally {
    session.ws.terminate();
  }
}

async function churn(task: ChurnTask): Promise<ChurnResult> {
  const started = performance.now();
  const cycleMs: number[] = [];
  const failures: Record<string, number> = {};
  const byTransport: Record<string, number> = {};
  await pool(task.cycles, task.concurrency, async (index) => {
    const cycleStarted = performance.now();
    const transport = TRANSPORTS[index % TRANSPORTS.length];
    try {
      await churnCycle(task, index, transport);
      cycleMs.push(performance.now() - cycleStarted);
      byTransport[transport] = (byTransport[transport] ?? 0) + 1;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      failures[reason] = (failures[reason] ?? 0) + 1;
    }
  });
  return {
    cycles: task.cycles,
    succeeded: cycleMs.length,
    failures,
    byTransport,
    cycleMs: summarize(cycleMs),
    seconds: (performance.now() - started) / 1000,
  };
}

process.once("message", async (task: LoadTask) => {
  try {
    const result = task.kind === "stream" ? await stream(task) : await churn(task);
    process.send!({ kind: "result", result }, () => process.exit(0));
  } catch (error) {
    process.send!(
      { kind: "error", message: error instanceof Error ? error.message : String(error) },
      () => process.exit(1),
    );
  }
});
process.on("disconnect", () => process.exit(0));

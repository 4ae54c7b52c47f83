import { fork } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../infra/config/stackFiles";
import type { Summary } from "../test/support/stats";

/** Sessions that stream sequence-numbered binary frames at a fixed cadence through the edge to the echo bridge. */
export interface StreamTask {
  kind: "stream";
  /** ws://host:port/voice/ws */
  url: string;
  sessions: number;
  framesPerSecond: number;
  seconds: number;
  frameBytes: number;
  /** Upgrades in flight at once while the sessions open. */
  openConcurrency: number;
  /** How long to wait for the last echoes after the last frame was sent. */
  drainMs: number;
}

export interface StreamResult {
  sessions: {
    requested: number;
    opened: number;
    openFailures: string[];
    closedWith1000: number;
    closedEarly: string[];
  };
  frames: {
    sent: number;
    echoed: number;
    lost: number;
    reordered: number;
    corrupted: number;
    unexpected: number;
  };
  /** Send to echo, in milliseconds, over every echoed frame. */
  latencyMs: Summary;
  /** Upgrade plus the bridge's 0x00 frame, per session. */
  openMs: Summary;
  /** How far behind its 20 ms schedule the sender fell at worst. */
  sendLateMaxMs: number;
  /** The load process's own event-loop delay while streaming: high values mean the client, not the edge, was late. */
  clientLoopDelayMs: { p99: number; max: number };
  streamSeconds: number;
}

/** Connect, authenticate, exchange one frame, close: again and again, rotating through the four token transports. */
export interface ChurnTask {
  kind: "churn";
  url: string;
  cycles: number;
  concurrency: number;
  frameBytes: number;
}

export interface ChurnResult {
  cycles: number;
  succeeded: number;
  /** Failure reason → count. */
  failures: Record<string, number>;
  byTransport: Record<string, number>;
  cycleMs: Summary;
  seconds: number;
}

export type LoadTask = StreamTask | ChurnTask;
type ResultOf<T extends LoadTask> = T extends StreamTask ? StreamResult : ChurnResult;

export interface RunningLoad<T extends LoadTask> {
  /** The load process, for CPU readings. */
  pid: number;
  result: Promise<ResultOf<T>>;
}

function boundMs(task: LoadTask): number {
  return task.kind === "stream"
    ? (task.seconds + 60) * 1000 + task.drainMs
    : 60_000 + task.cycles * 50;
}

/**
 * Runs a load task in a child process (soak/loadProcess.ts): its sockets and timers never share
 * an event loop with the test runner or with the soak's measurements. Bounded in time.
 */
export function startLoad<T extends LoadTask>(task: T): RunningLoad<T> {
  const child = fork(join(PROJECT_ROOT, "soak", "loadProcess.ts"), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const result = new Promise<ResultOf<T>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${task.kind} load did not finish within ${boundMs(task)} ms`));
    }, boundMs(task));
    child.on("message", (message: { kind: string; result?: ResultOf<T>; message?: string }) => {
      clearTimeout(timer);
      if (message.kind === "result") resolve(message.result!);
      else reject(new Error(`${task.kind} load failed: ${message.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${task.kind} load process exited (${signal ?? code}) without a result`));
    });
    child.once("error", reject);
  });
  child.send(task);
  return { pid: child.pid!, result };
}

export function runLoad<T extends LoadTask>(task: T): Promise<ResultOf<T>> {
  return startLoad(task).result;
}

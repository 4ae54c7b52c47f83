import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bridgeUrlProblem, MAX_BRIDGES } from "../../worker/src/bindings";
import { DEFAULT_VOICES } from "../bridge";
import { startStandinBridge, type StandinBridge } from "./bridgeProcess";
import { UsageError } from "./cli";
import { startGuardProcess, type GuardProcess } from "./guardProcess";
import type { LocalBridge } from "./localBindings";

/** Where `npm run dev` finds its bridges, from its flags and `BRIDGE_URL`. */
export type BridgeSource =
  /** Plain `npm run dev`: one PersonaPlex stand-in, behind a guard when HAProxy is installed. */
  | { kind: "standin" }
  /** `BRIDGE_URL=<url>`: one bridge already running (checked as today, after the build). */
  | { kind: "env"; url: string }
  /** `--bridges N`: N stand-ins, each behind its own guard. */
  | { kind: "fleet"; count: number }
  /** `--bridge-url <url>`, repeatable: bridges or guards already running, in the order given. */
  | { kind: "given"; urls: string[] };

/**
 * Reads `--bridges`, `--bridge-url` and `BRIDGE_URL` (empty counts as unset); throws UsageError
 * naming the mistake: both flags, a flag with BRIDGE_URL, a count outside 1–20, a URL the Worker
 * would refuse (its own `bridgeUrlProblem`), the same URL twice, more than 20 URLs.
 */
export function bridgeSource(
  flags: { bridges?: string; bridgeUrls: string[] },
  envBridgeUrl: string | undefined,
): BridgeSource {
  const { bridges, bridgeUrls } = flags;
  if (bridges !== undefined && bridgeUrls.length > 0)
    throw new UsageError(
      "--bridges and --bridge-url exclude each other: --bridges starts stand-ins, --bridge-url uses bridges already running",
    );
  const flag = bridges !== undefined ? "--bridges" : bridgeUrls.length > 0 ? "--bridge-url" : "";
  if (envBridgeUrl && flag)
    throw new UsageError(
      `BRIDGE_URL is set and ${flag} given: use one of the two (unset BRIDGE_URL, or pass its URL as --bridge-url)`,
    );
  if (bridges !== undefined) {
    const count = /^\d+$/.test(bridges) ? Number(bridges) : NaN;
    if (!(count >= 1 && count <= MAX_BRIDGES))
      throw new UsageError(
        `--bridges "${bridges}" must be a whole number from 1 to ${MAX_BRIDGES}`,
      );
    return { kind: "fleet", count };
  }
  if (bridgeUrls.length > 0) {
    if (bridgeUrls.length > MAX_BRIDGES)
      throw new UsageError(
        `--bridge-url is given ${bridgeUrls.length} times: the edge takes at most ${MAX_BRIDGES} bridges`,
      );
    const seen = new Set<string>();
    for (const url of bridgeUrls) {
      const problem = bridgeUrlProblem(url);
      if (problem) throw new UsageError(`--bridge-url "${url}": ${problem}`);
      const normalized = new URL(url).origin + new URL(url).pathname;
      if (seen.has(normalized))
        throw new UsageError(`--bridge-url "${url}" is given twice: give each bridge once`);
      seen.add(normalized);
    }
    return { kind: "given", urls: bridgeUrls };
  }
  return envBridgeUrl ? { kind: "env", url: envBridgeUrl } : { kind: "standin" };
}

/** The fleet's names, `bridge-1` … `bridge-<count>`: valid bridge names, in start order. */
export function fleetNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `bridge-${i + 1}`);
}

/** Bridges given by URL, named `bridge-1` … in the order given. */
export function namedBridges(urls: string[]): LocalBridge[] {
  const names = fleetNames(urls.length);
  return urls.map((url, i) => ({ name: names[i], url }));
}

/** One PersonaPlex stand-in behind its own guard, as one GPU VM of the fleet. */
export interface GuardedStandin extends LocalBridge {
  standin: StandinBridge;
  guard: GuardProcess;
}

export interface StandinFleet {
  /**
   * Starts `count` stand-ins, each behind its own guard (at most `PARALLEL_STARTS` at once: each is
   * two node processes on a small machine), and resolves with them in name order. `onReady` hears
   * of each as it is up. Rejects on the first failure; `stop()` then ends what did start.
   */
  start(
    count: number,
    onReady?: (member: GuardedStandin, ready: number) => void,
  ): Promise<GuardedStandin[]>;
  /** Ends every guard (also those still starting) and stand-in; no new one starts after it. */
  stop(): Promise<void>;
}

/** How many stand-in + guard pairs start at once. */
const PARALLEL_STARTS = 4;
/** A guard that ignores SIGTERM this long is left to its own launcher watch. */
const STOP_WITHIN_MS = 5_000;

function endChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(resolve, STOP_WITHIN_MS);
    child.once("exit", () => (clearTimeout(timer), resolve()));
    // SIGTERM, never SIGKILL: the guard then stops its HAProxy too.
    child.kill("SIGTERM");
  });
}

/** PersonaPlex stand-ins (`promptDelayMs` before the 0x00), each behind a guard that knows the stand-in's voices. */
export function standinFleet(options: { promptDelayMs: number }): StandinFleet {
  let stopped = false;
  let dir: string | undefined;
  const standins: StandinBridge[] = [];
  const guardChildren: ChildProcess[] = [];

  async function startMember(name: string, voices: string): Promise<GuardedStandin> {
    const standin = await startStandinBridge({
      mode: "personaplex",
      promptDelayMs: options.promptDelayMs,
    });
    standins.push(standin);
    if (stopped) throw new Error("stopped");
    // The guard as each GPU VM runs it: one session at a time, bad options refused before the 101, /health.
    const guard = await startGuardProcess(["--upstream", standin.origin, "--voices", voices], {
      onSpawn: (child) => guardChildren.push(child),
    });
    return { name, url: `${guard.origin}/api/chat`, standin, guard };
  }

  // Miniflare ends the process on SIGINT/SIGTERM before an async stop could finish: what is left
  // is ended here, synchronously (each guard then stops its HAProxy).
  const atExit = () => {
    for (const child of [...guardChildren, ...standins.map((standin) => standin.process)])
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", atExit);

  return {
    async start(count, onReady) {
      dir = mkdtempSync(join(tmpdir(), "voice-edge-dev-guard-"));
      const voices = join(dir, "voices.txt");
      writeFileSync(voices, `${DEFAULT_VOICES.join("\n")}\n`);
      const names = fleetNames(count);
      const members: GuardedStandin[] = [];
      let next = 0;
      let ready = 0;
      const startNext = async (): Promise<void> => {
        while (!stopped && next < count) {
          const i = next++;
          members[i] = await startMember(names[i], voices);
          onReady?.(members[i], ++ready);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_STARTS, count) }, startNext));
      if (stopped) throw new Error("stopped");
      return members;
    },
    async stop() {
      stopped = true;
      await Promise.all(guardChildren.map(endChild));
      await Promise.all(standins.map((standin) => standin.stop()));
      if (dir) rmSync(dir, { recursive: true, force: true });
      process.off("exit", atExit);
    },
  };
}

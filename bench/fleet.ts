/**
 * The fleet table of `npm run bench` (`-- --fleet` runs it alone): the edge in bare workerd in front
 * of four PersonaPlex stand-ins, each behind a real guard of capacity 1 (`npm run guard`), against
 * the single-bridge path (`BRIDGE_URL` to a fifth guard) in the same rounds. A bridge is made busy by
 * holding one session open on its guard, straight from this process; every upgrade is timed from a
 * real `ws` client and matched with the Worker's log line (its `tries`).
 */
import { randomBytes } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { loadavg } from "node:os";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { startStandinBridge } from "../tools/lib/bridgeProcess";
import { startGuardProcess, type GuardProcess } from "../tools/lib/guardProcess";
import { freePort } from "../test/support/freePort";
import {
  BENCH_AUTH,
  BENCH_BRIDGE_PATH,
  benchEdgeBindings,
  benchEdgeTarget,
  GUARD_OPTIONS,
} from "./floor";
import { FRAME_BYTES, openSocket, percentilesOf, type Target } from "./measure";
import { startWorkerd, type WorkerdEdge } from "./workerdProcess";
import type { Cleanup } from "./cleanup";
import {
  fleetRows,
  fleetTable,
  type Admitted,
  type FleetFigures,
  type FleetRow,
} from "./fleetReport";

/** Bridges in the fleet. */
export const FLEET_BRIDGES = 4;
/** `bridgeConnectTimeoutMs` for every edge here: short, so the hanging bridge's bound is seen in one run. */
export const FLEET_PER_TRY_BOUND_MS = 300;

export const FLEET_PLANS = {
  quick: {
    rounds: 2,
    upgradesPerCell: 20,
    refusingIsolates: 6,
    hangingIsolates: 3,
    upgradesPerIsolate: 10,
    roundTrips: 300,
    budgetMs: 3 * 60_000,
  },
  full: {
    rounds: 5,
    upgradesPerCell: 60,
    refusingIsolates: 20,
    hangingIsolates: 8,
    upgradesPerIsolate: 10,
    roundTrips: 1_000,
    budgetMs: 6 * 60_000,
  },
} as const;
export type FleetPlan = (typeof FLEET_PLANS)[keyof typeof FLEET_PLANS];

interface BridgeTry {
  bridge: string;
  outcome: "served" | "busy" | "options_refused" | "down";
  failure?: string;
  ms: number;
}

export interface UpgradeLine {
  bridge?: string;
  closeCode?: number;
  tries: BridgeTry[];
  /** With the waiting line bound: how the upgrade was admitted, and ms spent on the coordinator. */
  line?: "coordinator" | "ticket" | "fallback";
  lineMs?: number;
  lineFallback?: string;
}

/** The Worker's `upgrade` log lines that made tries, in arrival order. */
export function upgradeLines() {
  const queue: UpgradeLine[] = [];
  let waiter: ((line: UpgradeLine) => void) | undefined;
  return {
    onLine(line: string) {
      if (!line.startsWith("{")) return;
      let parsed: { event?: string; tries?: unknown };
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      if (parsed.event !== "upgrade" || !Array.isArray(parsed.tries)) return;
      const upgrade = parsed as UpgradeLine;
      if (waiter) {
        const resolve = waiter;
        waiter = undefined;
        resolve(upgrade);
      } else queue.push(upgrade);
    },
    drain: () => void queue.splice(0),
    next(withinMs = 2_000): Promise<UpgradeLine> {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(new Error(`no upgrade log line within ${withinMs} ms`));
        }, withinMs);
        waiter = (line) => {
          clearTimeout(timer);
          resolve(line);
        };
      });
    },
  };
}

interface BenchEdge {
  target: Target;
  lines: ReturnType<typeof upgradeLines>;
  workerd: WorkerdEdge;
}

/** The edge in workerd with `bridges` (`BRIDGE_URL` or `BRIDGES`) and the fleet's per-try bound. */
async function startEdge(
  code: string,
  compatibilityDate: string,
  bridges: { BRIDGE_URL: string } | { BRIDGES: { name: string; url: string }[] },
  token: string,
): Promise<BenchEdge> {
  const { BRIDGE_URL: _unused, EDGE_CONFIG, ...rest } = benchEdgeBindings("http://127.0.0.1:1");
  const lines = upgradeLines();
  const workerd = await startWorkerd({
    code,
    compatibilityDate,
    bindings: {
      ...rest,
      ...bridges,
      EDGE_CONFIG: {
        ...(EDGE_CONFIG as object),
        bridgeConnectTimeoutMs: FLEET_PER_TRY_BOUND_MS,
      },
    },
    onStdoutLine: lines.onLine,
  });
  return { target: benchEdgeTarget(workerd.port, token), lines, workerd };
}

export function closeAndWait(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2_000);
    ws.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState !== WebSocket.CLOSING) ws.close(1000);
  });
}

export type Timed =
  | { to101: number; to00: number; closeCode?: undefined }
  | { to101: number; to00?: undefined; closeCode: number; toClose: number };

/**
 * One upgrade, ms from `new WebSocket`: to the 101, then either to the bridge's first frame (the
 * session is then closed, and this resolves once it has) or to the close that came instead.
 */
export function timedUpgrade(target: Target, withinMs = 5_000): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const ws = new WebSocket(target.url, target.protocols, {
      headers: target.headers,
      perMessageDeflate: false,
      handshakeTimeout: withinMs,
    });
    let to101: number | undefined;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${target.url}: no first frame or close within ${withinMs} ms`));
    }, withinMs);
    ws.once("open", () => (to101 = performance.now() - started));
    ws.once("message", (data: Buffer) => {
      const to00 = performance.now() - started;
      clearTimeout(timer);
      ws.removeAllListeners("close");
      if (data[0] !== 0x00) reject(new Error(`first frame of kind ${data[0]}, not 0x00`));
      else void closeAndWait(ws).then(() => resolve({ to101: to101!, to00 }));
    });
    ws.once("close", (closeCode: number) => {
      clearTimeout(timer);
      if (to101 === undefined) return reject(new Error(`closed ${closeCode} before the 101`));
      resolve({ to101, closeCode, toClose: performance.now() - started });
    });
    ws.once("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`${target.url}: HTTP ${res.statusCode}`));
    });
    ws.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Upgrades refused before any bridge is tried (a token with a wrong signature): warms a fresh isolate's JWT path, leaves its bridge memory empty. */
async function warmWithoutTries(target: Target, badToken: string, count: number): Promise<void> {
  const protocols = target.protocols.map((p) =>
    p.startsWith("bearer.") ? `bearer.${badToken}` : p,
  );
  for (let i = 0; i < count; i++)
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(target.url, protocols, { headers: target.headers });
      ws.once("unexpected-response", (req, res) => {
        res.resume();
        req.destroy();
        res.statusCode === 401 ? resolve() : reject(new Error(`warm-up: HTTP ${res.statusCode}`));
      });
      ws.once("open", () => reject(new Error("warm-up: a bad token was admitted")));
      ws.once("error", () => resolve());
    });
}

/** Holds one session open on `guard` (straight to it, not through the edge) until released. */
export async function holdSession(guard: GuardProcess): Promise<() => Promise<void>> {
  const socket = await openSocket({
    url: `ws://127.0.0.1:${guard.port}${BENCH_BRIDGE_PATH}?${GUARD_OPTIONS}`,
    protocols: [],
    headers: {},
  });
  await socket.next();
  return () => closeAndWait(socket.ws);
}

/** p50 of `count` sequential round trips of one 0x01 frame (after a warm-up), µs. */
async function frameRoundTrips(target: Target, count: number, warmup = 100): Promise<number> {
  const socket = await openSocket(target);
  const first = await socket.next();
  if (first[0] !== 0x00) throw new Error(`first frame of kind ${first[0]}, not 0x00`);
  const frame = randomBytes(FRAME_BYTES);
  frame[0] = 0x01;
  const micros: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const started = performance.now();
    socket.ws.send(frame);
    const answer = await socket.next();
    if (i >= warmup) micros.push((performance.now() - started) * 1000);
    if (answer.length !== FRAME_BYTES || answer[0] !== 0x01)
      throw new Error(`answer of ${answer.length} bytes, kind ${answer[0]}`);
  }
  await closeAndWait(socket.ws);
  return percentilesOf(micros).p50;
}

export interface FleetRun {
  figures: FleetFigures;
  rows: FleetRow[];
  /** What did not go as the set-up intends (a served upgrade refused, a bridge tried twice), counted. */
  anomalies: Map<string, number>;
  roundsRun: number;
  plan: FleetPlan;
  /** The machine's 1-minute load average when the fleet bench started and ended (other work shares it). */
  load: { start: number; end: number };
}

export async function measureFleet(options: {
  code: string;
  compatibilityDate: string;
  token: string;
  plan: FleetPlan;
  cleanup: Cleanup;
  log: (line: string) => void;
}): Promise<FleetRun> {
  const { code, compatibilityDate, token, plan, cleanup, log } = options;
  const started = Date.now();
  const loadAtStart = loadavg()[0];
  const overBudget = () => Date.now() - started > plan.budgetMs;
  const anomalies = new Map<string, number>();
  const anomaly = (what: string) => anomalies.set(what, (anomalies.get(what) ?? 0) + 1);

  const standins = await Promise.all(
    Array.from({ length: FLEET_BRIDGES + 1 }, () =>
      startStandinBridge({ mode: "personaplex", promptDelayMs: 0 }),
    ),
  );
  for (const standin of standins) cleanup.add(() => standin.stop());
  const guards: GuardProcess[] = [];
  for (const standin of standins) {
    const guard = await startGuardProcess(["--upstream", standin.origin, "--capacity", "1"], {
      onSpawn: (child) => cleanup.add(() => void child.kill("SIGTERM")),
    });
    cleanup.add(() => guard.stop());
    guards.push(guard);
  }
  const singleGuard = guards.pop()!;
  const fleetBridges = guards.map((guard, i) => ({
    name: `gpu-${i + 1}`,
    url: `${guard.origin}${BENCH_BRIDGE_PATH}`,
  }));
  const refusingUrl = `http://127.0.0.1:${await freePort()}${BENCH_BRIDGE_PATH}`;
  const hangingSockets = new Set<Socket>();
  const hanging = createServer((socket) => {
    hangingSockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => hangingSockets.delete(socket));
  });
  await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
  cleanup.add(async () => {
    for (const socket of hangingSockets) socket.destroy();
    await new Promise((resolve) => hanging.close(resolve));
  });
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as { port: number }).port}${BENCH_BRIDGE_PATH}`;
  const badToken = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("bench")
    .setIssuer(BENCH_AUTH.issuer)
    .setAudience(BENCH_AUTH.audience)
    .setExpirationTime("2h")
    .sign(new TextEncoder().encode(`not-${BENCH_AUTH.secret}`));

  const single = await startEdge(
    code,
    compatibilityDate,
    { BRIDGE_URL: `${singleGuard.origin}${BENCH_BRIDGE_PATH}` },
    token,
  );
  cleanup.add(() => single.workerd.stop());
  const fleet = await startEdge(code, compatibilityDate, { BRIDGES: fleetBridges }, token);
  cleanup.add(() => fleet.workerd.stop());
  log(
    `fleet: ${FLEET_BRIDGES} PersonaPlex stand-ins behind guards of capacity 1, single bridge behind a fifth; per-try bound ${FLEET_PER_TRY_BOUND_MS} ms`,
  );

  /** One upgrade expected to be served, with its log line; no sample (and counted) when it was not. */
  const admitted = async (
    edge: BenchEdge,
    round: number,
  ): Promise<{ sample?: Admitted; line: UpgradeLine }> => {
    edge.lines.drain();
    const timed = await timedUpgrade(edge.target);
    const line = await edge.lines.next();
    if (timed.to00 === undefined) {
      anomaly(`an upgrade meant to be served was closed ${timed.closeCode}`);
      return { line };
    }
    const sample = {
      round,
      to101: timed.to101,
      to00: timed.to00,
      busyTries: line.tries.filter((t) => t.outcome === "busy").length,
    };
    return { sample, line };
  };

  // Warm both edges and every guard's path before anything is measured.
  for (let i = 0; i < 20; i++) {
    await admitted(single, -1);
    await admitted(fleet, -1);
  }
  anomalies.clear();

  const figures: FleetFigures = {
    bridges: FLEET_BRIDGES,
    perTryBoundMs: FLEET_PER_TRY_BOUND_MS,
    single: [],
    fleet: Array.from({ length: FLEET_BRIDGES }, () => []),
    allBusy: [],
    refusing: [],
    hanging: [],
    hangingLast: [],
    frames: { single: [], fleet: [] },
  };
  // Cells: -1 the single bridge, k = 0 … N bridges of the fleet held busy; rotating order per round.
  const cells = Array.from({ length: FLEET_BRIDGES + 2 }, (_, i) => i - 1);
  let roundsRun = 0;
  for (let round = 0; round < plan.rounds && !overBudget(); round++) {
    for (const cell of cells.map((_, i) => cells[(i + round) % cells.length])) {
      if (cell === -1) {
        for (let i = 0; i < plan.upgradesPerCell; i++) {
          const { sample } = await admitted(single, round);
          if (sample) figures.single.push(sample);
        }
        continue;
      }
      // Which guards are held turns with the round, so no one bridge is always the busy one.
      const held = await Promise.all(
        Array.from({ length: cell }, (_, i) => holdSession(guards[(round + i) % FLEET_BRIDGES])),
      );
      try {
        for (let i = 0; i < plan.upgradesPerCell; i++) {
          if (cell < FLEET_BRIDGES) {
            const { sample, line } = await admitted(fleet, round);
            if (line.tries.some((t) => t.outcome === "down")) anomaly("a fleet bridge was down");
            if (sample) figures.fleet[cell].push(sample);
            continue;
          }
          fleet.lines.drain();
          const timed = await timedUpgrade(fleet.target);
          const line = await fleet.lines.next();
          if (timed.closeCode !== 1013) {
            anomaly(`an upgrade with every bridge busy was not closed 1013`);
            continue;
          }
          figures.allBusy.push({ round, toClose: timed.toClose, tries: line.tries.length });
        }
      } finally {
        for (const release of held) await release();
      }
    }
    const frameOrder = round % 2 ? [fleet, single] : [single, fleet];
    for (const edge of frameOrder)
      (edge === single ? figures.frames.single : figures.frames.fleet).push(
        await frameRoundTrips(edge.target, plan.roundTrips),
      );
    roundsRun++;
    log(`fleet: round ${round + 1}/${plan.rounds} done`);
  }

  // A refusing and a hanging BRIDGES entry, each in fresh isolates (an isolate remembers a failed
  // bridge for 30 s): within its first five upgrades an isolate tries the bad entry exactly once —
  // every bridge that served goes after the untried ones for 5 s.
  const freshIsolates = async (
    name: string,
    url: string,
    isolates: number,
    each: (edge: BenchEdge) => Promise<void>,
  ) => {
    for (let i = 0; i < isolates && !overBudget(); i++) {
      const edge = await startEdge(
        code,
        compatibilityDate,
        { BRIDGES: [...fleetBridges, { name, url }] },
        token,
      );
      try {
        await warmWithoutTries(edge.target, badToken, 20);
        await each(edge);
      } finally {
        await edge.workerd.stop();
      }
    }
  };
  await freshIsolates("refusing", refusingUrl, plan.refusingIsolates, async (edge) => {
    let tried = 0;
    for (let u = 0; u < plan.upgradesPerIsolate; u++) {
      const { sample, line } = await admitted(edge, 0);
      const triedRefusing = line.tries.some((t) => t.bridge === "refusing");
      if (triedRefusing) tried++;
      if (sample) figures.refusing.push({ to101: sample.to101, triedRefusing });
    }
    if (tried !== 1) anomaly(`an isolate tried the refusing entry ${tried} times, not once`);
  });
  log("fleet: refusing bridge measured");
  await freshIsolates("hanging", hangingUrl, plan.hangingIsolates, async (edge) => {
    let tried = 0;
    for (let u = 0; u < plan.upgradesPerIsolate; u++) {
      const { sample, line } = await admitted(edge, 0);
      const triedHanging = line.tries.some((t) => t.bridge === "hanging");
      if (triedHanging) tried++;
      if (sample)
        figures.hanging.push({
          to101: sample.to101,
          phase: triedHanging ? "paid" : tried ? "after" : "before",
        });
    }
    if (tried !== 1) anomaly(`an isolate tried the hanging entry ${tried} times, not once`);
    // Every other bridge busy: the hanging entry, down lately, must come last.
    const held = await Promise.all(guards.map(holdSession));
    try {
      edge.lines.drain();
      const timed = await timedUpgrade(edge.target);
      const line = await edge.lines.next();
      if (timed.closeCode !== 1013)
        anomaly("an upgrade with every bridge busy or hanging was not closed 1013");
      const last = line.tries.at(-1);
      figures.hangingLast.push({ last: last?.bridge === "hanging", tryMs: last?.ms ?? Number.NaN });
    } finally {
      for (const release of held) await release();
    }
  });
  log("fleet: hanging bridge measured");
  return {
    figures,
    rows: fleetRows(figures),
    anomalies,
    roundsRun,
    plan,
    load: { start: loadAtStart, end: loadavg()[0] },
  };
}

/** The fleet table as a `## The fleet` section of results.md. */
export function fleetSection(
  run: FleetRun,
  meta: { date: string; machine: string; command: string },
): string {
  const { plan } = run;
  const anomalies = [...run.anomalies].map(([what, count]) => `${what}: ${count}`);
  return `## The fleet

${meta.date} · \`${meta.command}\` · ${run.roundsRun} interleaved rounds${run.roundsRun < plan.rounds ? ` (stopped at the ${plan.budgetMs / 60_000} min budget)` : ""} · ${meta.machine} · 1-minute load average ${run.load.start.toFixed(1)} at the start, ${run.load.end.toFixed(1)} at the end

The edge in bare workerd with \`BRIDGES\` of ${FLEET_BRIDGES} PersonaPlex stand-ins (\`npm run bridge\`,
0x00 at once), each behind a real guard of capacity 1 (\`npm run guard\`); the floor is the single-bridge
path, the same bundle with \`BRIDGE_URL\` to a fifth stand-in and guard, in the same rounds. Every edge
here has \`bridgeConnectTimeoutMs\` ${FLEET_PER_TRY_BOUND_MS}. A bridge is busy while this script holds one
session open on its guard (which guards turns with the round). Each round runs the single bridge and
k = 0 … ${FLEET_BRIDGES} busy in rotating order, ${plan.upgradesPerCell} sequential upgrades each, timed from
\`new WebSocket\` to the 101 and to the bridge's 0x00 (or to the close 1013), each matched with the
Worker's log line for its \`tries\`; then ${plan.roundTrips} sequential round trips of one 640-byte 0x01
frame on each path. Medians and p95 pool the rounds (nearest rank); "within noise" compares the
medians over rounds against the wider of the two paths' round-to-round ranges. The cost per busy
bridge skipped is the least-squares slope of the time on the busy tries the log line lists (the
order is random, so k busy bridges cost from 0 to k skips); beside it, the rise of the median per
skip against the upgrades that skipped none; the busy tries column gives in brackets what a
uniformly random order alone would average, k / (N − k + 1).

The refusing entry (a closed loopback port) and the hanging one (a listener that accepts and
never answers) are each a fifth \`BRIDGES\` entry, in fresh isolates: ${plan.refusingIsolates} and
${plan.hangingIsolates} of them, warmed with 20 upgrades whose token fails its signature (no bridge
tried), then ${plan.upgradesPerIsolate} upgrades each. A bridge that served goes after the untried ones
for 5 s, so each isolate tries the bad entry exactly once within its first five upgrades; its cost is
that upgrade's time against the others'. Each hanging isolate ends with one upgrade while all ${FLEET_BRIDGES}
guards are held busy, to see where the hanging entry comes in the order.

${fleetTable(run.rows)}
${anomalies.length ? `\nNot as set up (counted, left out of the figures): ${anomalies.join("; ")}.\n` : ""}`;
}

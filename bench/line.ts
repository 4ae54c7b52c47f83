/**
 * The waiting line's part of `npm run bench` (`-- --line` runs it alone): four PersonaPlex
 * stand-ins, each behind a real guard of capacity 1 (`npm run guard`); the edge with the `LINE`
 * binding beside the line script (its SQLite-backed coordinator) in one bare workerd, as deployed;
 * today's admission — the same bundle without the binding — in another, as one isolate that sees
 * every upgrade and as isolates whose memory of busy bridges has lapsed; and, for the fallback, edges
 * whose coordinator throws or hangs. A bridge is made busy by holding one session open on its guard.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import WebSocket from "ws";
import { PROJECT_ROOT } from "../infra/config/stackFiles";
import { startStandinBridge } from "../tools/lib/bridgeProcess";
import { startGuardProcess, type GuardProcess } from "../tools/lib/guardProcess";
import { BUNDLE_MODULE_NAME, LINE_BUNDLE_MODULE_NAME } from "../worker/build";
import { RECENTLY_BUSY_MS } from "../worker/src/bridgeChoice";
import {
  LINE_BINDINGS,
  LINE_CLASS_NAME,
  LINE_PATH,
  lineScriptName,
  TICKET_PROTOCOL_PREFIX,
  type LineMessage,
} from "../worker/src/line/contract";
import { lineClient, type LineClient } from "../test/support/lineClient";
import { rssBytes } from "../test/support/processes";
import type { Cleanup } from "./cleanup";
import {
  closeAndWait,
  FLEET_BRIDGES,
  FLEET_PER_TRY_BOUND_MS,
  holdSession,
  timedUpgrade,
  upgradeLines,
  type UpgradeLine,
} from "./fleet";
import { BENCH_BRIDGE_PATH, benchEdgeBindings, benchEdgeTarget, hs256BenchToken } from "./floor";
import { startWorkerdServices, type WorkerdServices, type WorkerSpec } from "./lineWorkerd";
import {
  admissionRows,
  admissionTable,
  lineRows,
  lineTable,
  MOVE_UP_MS,
  TURN_P95_MS,
  type AdmissionCell,
  type AdmissionRow,
  type CrowdFigures,
  type FallbackSample,
  type LineFigures,
  type LineRow,
  type LineSample,
  type TurnSample,
} from "./lineReport";
import { openSocket, type Target } from "./measure";

export const LINE_PLANS = {
  quick: {
    rounds: 2,
    upgradesPerCell: 6,
    turns: 20,
    crowd: 1_000,
    crowdLeaves: 3,
    fallback: 10,
    fallbackHanging: 4,
    budgetMs: 4 * 60_000,
  },
  full: {
    rounds: 4,
    upgradesPerCell: 12,
    turns: 30,
    crowd: 1_000,
    crowdLeaves: 5,
    fallback: 20,
    fallbackHanging: 8,
    budgetMs: 8 * 60_000,
  },
} as const;
export type LinePlan = (typeof LINE_PLANS)[keyof typeof LINE_PLANS];

/**
 * How long after a session it served ends the bench waits before counting on the coordinator to
 * know that bridge is free again: the coordinator learns it at its next look at the guards, every
 * 750 ms while anyone holds a bridge (`POLL_INTERVAL_MS` in worker/src/line/fleetLine.ts, which
 * imports `cloudflare:workers` and so cannot be loaded here), plus a probe's round trip.
 */
const COORDINATOR_CATCH_UP_MS = 1_200;
/** Isolates of today's edge whose memory is let lapse between their upgrades. */
const COLD_ISOLATES = 16;
/** An isolate's memory of a busy (or serving) bridge lapses after RECENTLY_BUSY_MS: each cold isolate rests longer. */
const COLD_REST_MS = RECENTLY_BUSY_MS + 500;
/** The stand-ins' delay before their 0x00; the turn figure subtracts it. */
const PROMPT_DELAY_MS = 0;
/** The crowd's RSS is read every this many pages joined. */
const CROWD_RSS_STEP = 100;
const EDGE_NAME = "voice-edge";

/**
 * The edge's bound on one call to the coordinator (`COORDINATOR_TIMEOUT_MS`). Its module is typed
 * against the Workers runtime, outside this project's type check: loaded by path, not imported.
 */
async function coordinatorTimeoutMs(): Promise<number> {
  const edgeModule = pathToFileURL(join(PROJECT_ROOT, "worker", "src", "line", "edge.ts")).href;
  const { COORDINATOR_TIMEOUT_MS } = (await import(edgeModule)) as {
    COORDINATOR_TIMEOUT_MS: number;
  };
  return COORDINATOR_TIMEOUT_MS;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export interface LineRun {
  figures: LineFigures;
  admissionRows: AdmissionRow[];
  rows: LineRow[];
  /** What did not go as the set-up intends, counted; a part that could not be measured, with why. */
  anomalies: Map<string, number>;
  roundsRun: number;
  plan: LinePlan;
  /** The machine's 1-minute load average at the start and the end of the line's part. */
  load: { start: number; end: number };
}

/** A log stream's upgrade lines and the target a page of `subject` aims at, on one edge. */
interface Edge {
  port: number;
  lines: ReturnType<typeof upgradeLines>;
}

function edgeBindings(bridges: { name: string; url: string }[]): Record<string, unknown> {
  const { BRIDGE_URL: _unused, EDGE_CONFIG, ...rest } = benchEdgeBindings("http://127.0.0.1:1");
  return {
    ...rest,
    BRIDGES: bridges,
    EDGE_CONFIG: { ...(EDGE_CONFIG as object), bridgeConnectTimeoutMs: FLEET_PER_TRY_BOUND_MS },
  };
}

/** The edge bound to the line script's coordinator, both in one workerd (names as `npm run dev` gives them). */
function lineWorkers(
  code: { edge: string; line: string },
  bridges: { name: string; url: string }[],
  lineConfig: Record<string, unknown>,
  names = { edge: EDGE_NAME, line: lineScriptName(EDGE_NAME) },
): WorkerSpec[] {
  return [
    {
      name: names.edge,
      moduleName: BUNDLE_MODULE_NAME,
      code: code.edge,
      bindings: edgeBindings(bridges),
      durableObjects: {
        [LINE_BINDINGS.coordinator]: { className: LINE_CLASS_NAME, serviceName: names.line },
      },
      listen: true,
    },
    {
      name: names.line,
      moduleName: LINE_BUNDLE_MODULE_NAME,
      code: code.line,
      bindings: { BRIDGES: bridges, [LINE_BINDINGS.settings]: lineConfig },
      classes: [LINE_CLASS_NAME],
    },
  ];
}

/** A coordinator that fails every call: `body` is each method's. */
function brokenLine(body: string): string {
  return `import { DurableObject } from "cloudflare:workers";
export class ${LINE_CLASS_NAME} extends DurableObject {
  async admit() { ${body} }
  async redeem() { ${body} }
  async report() {}
}
export default { fetch: () => new Response(null, { status: 404 }) };
`;
}

let visitors = 0;
/** The voice socket and the line of a visitor never seen before (the line bounds sessions per subject). */
async function newVisitor(port: number): Promise<{ voice: Target; line: Target }> {
  const voice = benchEdgeTarget(port, await hs256BenchToken(`visitor-${++visitors}`));
  return { voice, line: { ...voice, url: `ws://127.0.0.1:${port}${LINE_PATH}` } };
}

export async function measureLine(options: {
  code: { edge: string; line: string };
  compatibilityDate: string;
  plan: LinePlan;
  cleanup: Cleanup;
  log: (line: string) => void;
}): Promise<LineRun> {
  const { code, compatibilityDate, plan, cleanup, log } = options;
  const started = Date.now();
  const loadAtStart = loadavg()[0];
  const overBudget = () => Date.now() - started > plan.budgetMs;
  const anomalies = new Map<string, number>();
  const anomaly = (what: string) => anomalies.set(what, (anomalies.get(what) ?? 0) + 1);

  const standins = await Promise.all(
    Array.from({ length: FLEET_BRIDGES }, () =>
      startStandinBridge({ mode: "personaplex", promptDelayMs: PROMPT_DELAY_MS }),
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
  const bridges = guards.map((guard, i) => ({
    name: `gpu-${i + 1}`,
    url: `${guard.origin}${BENCH_BRIDGE_PATH}`,
  }));

  const start = async (workers: WorkerSpec[]) => {
    const lines = upgradeLines();
    const services = await startWorkerdServices({
      compatibilityDate,
      workers,
      onStdoutLine: lines.onLine,
    });
    cleanup.add(() => services.stop());
    return { services, lines };
  };
  const withLine = await start(lineWorkers(code, bridges, {}));
  const line: Edge = { port: withLine.services.ports.get(EDGE_NAME)!, lines: withLine.lines };
  const todayNames = [
    "today",
    ...Array.from({ length: COLD_ISOLATES }, (_, i) => `today-${i + 1}`),
  ];
  const today = await start(
    todayNames.map((name) => ({
      name,
      moduleName: BUNDLE_MODULE_NAME,
      code: code.edge,
      bindings: edgeBindings(bridges),
      listen: true,
    })),
  );
  const warm: Edge = { port: today.services.ports.get("today")!, lines: today.lines };
  const cold: Edge[] = todayNames
    .slice(1)
    .map((name) => ({ port: today.services.ports.get(name)!, lines: today.lines }));
  log(
    `line: ${FLEET_BRIDGES} PersonaPlex stand-ins behind guards of capacity 1; the edge and its coordinator in one workerd, today's edge as 1 + ${COLD_ISOLATES} isolates in another`,
  );

  /**
   * One upgrade of a new visitor, timed, with its log line; undefined when it was not served
   * (counted under `what`, unless it is a warm-up's).
   */
  const served = async (
    edge: Edge,
    round: number,
    what?: string,
  ): Promise<{ sample: LineSample; line: UpgradeLine } | undefined> => {
    const { voice } = await newVisitor(edge.port);
    edge.lines.drain();
    const timed = await timedUpgrade(voice);
    const logged = await edge.lines.next();
    if (timed.to00 === undefined) {
      if (what) anomaly(`${what}: an upgrade meant to be served was closed ${timed.closeCode}`);
      return undefined;
    }
    return {
      sample: {
        round,
        to101: timed.to101,
        to00: timed.to00,
        tries: logged.tries.length,
        ...(logged.lineMs !== undefined ? { lineMs: logged.lineMs } : {}),
      },
      line: logged,
    };
  };

  const figures: LineFigures = {
    bridges: FLEET_BRIDGES,
    coordinatorTimeoutMs: await coordinatorTimeoutMs(),
    promptDelayMs: PROMPT_DELAY_MS,
    admission: Array.from({ length: FLEET_BRIDGES }, (): AdmissionCell => ({
      coordinator: [],
      todayWarm: [],
      todayCold: [],
    })),
    turns: [],
    fallback: { today: [], throwing: [], hanging: [] },
  };
  let roundsRun = 0;

  // Warm every edge's path; the coordinator's answers while it still believes a bridge held do not matter here.
  const coldRested = new Array<number>(cold.length).fill(0);
  for (let i = 0; i < 20; i++) {
    await served(warm, -1);
    await served(line, -1);
  }
  for (const [i, edge] of cold.entries()) {
    for (let u = 0; u < 5; u++) await served(edge, -1);
    coldRested[i] = performance.now() + COLD_REST_MS;
  }
  await sleep(COORDINATOR_CATCH_UP_MS);

  // 1. Admission with k of N busy: the coordinator, today warm, today cold, in rotating order.
  try {
    const paths = ["coordinator", "todayWarm", "todayCold"] as const;
    let coldNext = 0;
    for (let round = 0; round < plan.rounds && !overBudget(); round++) {
      for (let c = 0; c < FLEET_BRIDGES; c++) {
        const k = (c + round) % FLEET_BRIDGES;
        const heldNames = new Set<string>();
        const held = await Promise.all(
          Array.from({ length: k }, (_, i) => {
            heldNames.add(bridges[(round + i) % FLEET_BRIDGES].name);
            return holdSession(guards[(round + i) % FLEET_BRIDGES]);
          }),
        );
        try {
          // One upgrade through the coordinator so that it looks at the guards again, then time for it to have looked.
          await served(line, -1);
          await sleep(COORDINATOR_CATCH_UP_MS);
          const knownFreeAt = new Map<string, number>();
          const free = bridges.map((b) => b.name).filter((name) => !heldNames.has(name));
          for (let i = 0; i < plan.upgradesPerCell; i++) {
            // Each turn of the three starts once the coordinator knows a bridge free: the wait
            // (an idle machine after it) falls before each way in as often as before the others.
            const soonest = Math.min(...free.map((name) => knownFreeAt.get(name) ?? 0));
            await sleep(soonest - performance.now());
            for (let p = 0; p < paths.length; p++) {
              const path = paths[(p + i + round) % paths.length];
              if (path === "coordinator") {
                let got = await served(line, round, "through the coordinator");
                if (!got) {
                  // It had not looked again yet: once more, after the time it takes.
                  await sleep(COORDINATOR_CATCH_UP_MS);
                  got = await served(line, round, "through the coordinator, again");
                }
                if (got) {
                  figures.admission[k].coordinator.push(got.sample);
                  if (got.line.bridge)
                    knownFreeAt.set(got.line.bridge, performance.now() + COORDINATOR_CATCH_UP_MS);
                  if (got.line.line !== "coordinator")
                    anomaly(`through the coordinator: admitted as ${got.line.line}`);
                }
              } else if (path === "todayWarm") {
                const got = await served(warm, round, "today, warm");
                if (got) figures.admission[k].todayWarm.push(got.sample);
              } else {
                const isolate = coldNext;
                coldNext = (coldNext + 1) % cold.length;
                await sleep(coldRested[isolate] - performance.now());
                const got = await served(cold[isolate], round, "today, cold");
                coldRested[isolate] = performance.now() + COLD_REST_MS;
                if (got) figures.admission[k].todayCold.push(got.sample);
              }
            }
          }
        } finally {
          for (const release of held) await release();
        }
      }
      roundsRun++;
      log(`line: admission round ${round + 1}/${plan.rounds} done`);
    }
  } catch (error) {
    anomaly(`admission not measured to the end: ${(error as Error).message}`);
  }

  // 2. A session's end → the head of the line's 0x00.
  await sleep(COORDINATOR_CATCH_UP_MS);
  const sessions: WebSocket[] = [];
  try {
    for (let i = 0; i < FLEET_BRIDGES; i++)
      sessions.push(await openServed((await newVisitor(line.port)).voice));
    for (let t = 0; t < plan.turns; t++) figures.turns.push(await turnOnce(line, sessions));
    log(`line: ${figures.turns.length} turns measured`);
  } catch (error) {
    anomaly(`turns not measured to the end: ${(error as Error).message}`);
  } finally {
    await Promise.all(sessions.map(closeAndWait));
  }
  await withLine.services.stop();

  // 3. A thousand pages waiting on one coordinator (a workerd of its own).
  try {
    figures.crowd = await crowd(code, bridges, plan, start, log);
  } catch (error) {
    anomaly(`the crowd not measured: ${(error as Error).message}`);
  }

  // 4. The fallback: edges whose coordinator throws or hangs, against today's warm isolate.
  try {
    const broken = await start([
      ...lineWorkers(
        { edge: code.edge, line: brokenLine('throw new Error("coordinator down");') },
        bridges,
        {},
        {
          edge: "edge-throwing",
          line: "line-throwing",
        },
      ),
      ...lineWorkers(
        {
          edge: code.edge,
          line: brokenLine("await new Promise((resolve) => setTimeout(resolve, 60_000));"),
        },
        bridges,
        {},
        { edge: "edge-hanging", line: "line-hanging" },
      ),
    ]);
    const throwing: Edge = {
      port: broken.services.ports.get("edge-throwing")!,
      lines: broken.lines,
    };
    const hanging: Edge = { port: broken.services.ports.get("edge-hanging")!, lines: broken.lines };
    for (let i = 0; i < 5; i++) await served(throwing, -1);
    await served(hanging, -1);
    const fallbackSample = (got: { sample: LineSample; line: UpgradeLine }): FallbackSample => ({
      to101: got.sample.to101,
      tries: got.sample.tries,
      ...(got.line.lineFallback !== undefined ? { why: got.line.lineFallback } : {}),
    });
    for (const [edge, count, into] of [
      [throwing, plan.fallback, figures.fallback.throwing],
      [hanging, plan.fallbackHanging, figures.fallback.hanging],
    ] as const)
      for (let i = 0; i < count; i++)
        for (const which of i % 2 ? [edge, warm] : [warm, edge]) {
          const got = await served(
            which,
            0,
            which === warm ? "today, beside the fallback" : "fallback",
          );
          if (!got) continue;
          if (which === warm) figures.fallback.today.push(fallbackSample(got));
          else {
            if (got.line.line !== "fallback") anomaly(`fallback: admitted as ${got.line.line}`);
            into.push(fallbackSample(got));
          }
        }
    await broken.services.stop();
    log("line: fallback measured");
  } catch (error) {
    anomaly(`the fallback not measured: ${(error as Error).message}`);
  }

  return {
    figures,
    admissionRows: admissionRows(figures),
    rows: lineRows(figures),
    anomalies,
    roundsRun,
    plan,
    load: { start: loadAtStart, end: loadavg()[0] },
  };
}

/** A session opened on `target`, open until closed: resolves once its 0x00 came. */
async function openServed(target: Target): Promise<WebSocket> {
  const socket = await openSocket(target);
  const first = await Promise.race([socket.next(), sleep(5_000).then(() => undefined)]);
  if (first?.[0] !== 0x00) {
    socket.ws.terminate();
    throw new Error(first ? `first frame of kind ${first[0]}, not 0x00` : "no 0x00 within 5 s");
  }
  return socket.ws;
}

const isPosition = (position: number) => (m: LineMessage) =>
  m.type === "position" && m.position === position;

/**
 * Every bridge held by `sessions` (through the coordinator): a new visitor takes the head of the
 * line, the oldest session ends at a random moment of the coordinator's polling, and the head opens
 * its session with the ticket of its turn. Its session then replaces the one that ended.
 */
async function turnOnce(edge: Edge, sessions: WebSocket[]): Promise<TurnSample> {
  const visitor = await newVisitor(edge.port);
  const waiter: LineClient = lineClient(visitor.line.url, {
    protocols: visitor.line.protocols,
    headers: visitor.line.headers,
  });
  try {
    await waiter.opened;
    await waiter.next(isPosition(1), 5_000);
    await sleep(Math.random() * COORDINATOR_CATCH_UP_MS);
    const ending = sessions.shift()!;
    const ended = performance.now();
    ending.close(1000);
    const turn = await waiter.next((m) => m.type === "turn", 10_000);
    const toTurn = performance.now() - ended;
    if (turn.type !== "turn") throw new Error("not a turn");
    edge.lines.drain();
    const session = await openServed({
      ...visitor.voice,
      protocols: [...visitor.voice.protocols, `${TICKET_PROTOCOL_PREFIX}${turn.ticket}`],
    });
    const to00 = performance.now() - ended;
    sessions.push(session);
    const logged = await edge.lines.next();
    return { toTurn, to00, oneTry: logged.line === "ticket" && logged.tries.length === 1 };
  } finally {
    waiter.ws.terminate();
  }
}

/** A fresh edge and coordinator; every bridge held through it; `plan.crowd` pages join; heads leave. */
async function crowd(
  code: { edge: string; line: string },
  bridges: { name: string; url: string }[],
  plan: LinePlan,
  start: (
    workers: WorkerSpec[],
  ) => Promise<{ services: WorkerdServices; lines: ReturnType<typeof upgradeLines> }>,
  log: (line: string) => void,
): Promise<CrowdFigures> {
  // No grace period: a page that closes its line socket leaves at once, and those behind move up.
  const { services, lines } = await start(
    lineWorkers(code, bridges, { rejoinGraceSeconds: 0, maxWaiting: plan.crowd }),
  );
  const edge: Edge = { port: services.ports.get(EDGE_NAME)!, lines };
  const pid = services.process.pid!;
  const sessions: WebSocket[] = [];
  const clients: LineClient[] = [];
  try {
    for (let i = 0; i < FLEET_BRIDGES; i++)
      sessions.push(await openServed((await newVisitor(edge.port)).voice));
    await sleep(1_000);
    const rssBefore = rssBytes(pid);
    const targets = await Promise.all(
      Array.from({ length: plan.crowd }, async () => (await newVisitor(edge.port)).line),
    );
    const lastMessageAt: number[] = [];
    const rssSteps = [{ waiting: 0, rss: rssBefore }];
    const joinStarted = performance.now();
    for (const [i, target] of targets.entries()) {
      const client = lineClient(target.url, {
        protocols: target.protocols,
        headers: target.headers,
      });
      client.ws.on("message", () => (lastMessageAt[i] = performance.now()));
      clients.push(client);
      await client.opened;
      await client.next(isPosition(i + 1), 10_000);
      if ((i + 1) % CROWD_RSS_STEP === 0) rssSteps.push({ waiting: i + 1, rss: rssBytes(pid) });
    }
    const joinAllMs = performance.now() - joinStarted;
    log(`line: ${plan.crowd} pages waiting`);
    await sleep(1_000);
    const rssWaiting = rssBytes(pid);
    const moveUp: number[] = [];
    for (let left = 0; left < plan.crowdLeaves; left++) {
      const rest = clients.slice(left + 1);
      const since = performance.now();
      clients[left].ws.close(1000);
      const deadline = since + 10 * MOVE_UP_MS;
      const movedUp = () => rest.every((c, i) => c.position()?.position === i + 1);
      while (!movedUp() && performance.now() < deadline) await sleep(2);
      if (!movedUp())
        throw new Error(`the pages had not all moved up ${10 * MOVE_UP_MS} ms after the head left`);
      moveUp.push(Math.max(...rest.map((_, i) => lastMessageAt[left + 1 + i])) - since);
    }
    return { visitors: plan.crowd, rssBefore, rssWaiting, rssSteps, joinAllMs, moveUp };
  } finally {
    for (const client of clients) client.ws.terminate();
    await Promise.all(sessions.map(closeAndWait));
    await services.stop();
  }
}

/** The line's tables as a `## The waiting line` section of results.md. */
export function lineSection(
  run: LineRun,
  meta: { date: string; machine: string; command: string },
): string {
  const { plan } = run;
  const anomalies = [...run.anomalies].map(([what, count]) => `${what}: ${count}`);
  return `## The waiting line

${meta.date} · \`${meta.command}\` · ${run.roundsRun} interleaved rounds${run.roundsRun < plan.rounds ? ` (stopped at the ${plan.budgetMs / 60_000} min budget)` : ""} · ${meta.machine} · 1-minute load average ${run.load.start.toFixed(1)} at the start, ${run.load.end.toFixed(1)} at the end

${FLEET_BRIDGES} PersonaPlex stand-ins (0x00 after ${PROMPT_DELAY_MS} ms), each behind a real guard of capacity 1. **Through
the coordinator**: the edge bundle with the \`LINE\` binding and the line bundle (its SQLite-backed
\`FleetLine\`) in one bare \`workerd serve\`, as deployed. **Today**: the same edge bundle without the
binding in another workerd, as one isolate that sees every upgrade (its memory of busy bridges
orders its tries), and as ${COLD_ISOLATES} isolates of their own used in turn, each resting
${COLD_REST_MS / 1000} s between upgrades: longer than an isolate remembers a busy bridge, so each try order
is a fresh shuffle — what a page in a location that sees few upgrades meets. Every edge has
\`bridgeConnectTimeoutMs\` ${FLEET_PER_TRY_BOUND_MS}. A bridge is busy while this script holds one session open
on its guard (which guards turns with the round). Each round runs k = 0 … ${FLEET_BRIDGES - 1} in rotating
order, ${plan.upgradesPerCell} upgrades per way in, the three ways in taking turns (each first as often as the others); each upgrade is a new
visitor (its own token subject), timed from \`new WebSocket\` to the 101 and to the bridge's 0x00 and
matched with the Worker's log line for its \`tries\` and \`lineMs\`. The coordinator learns that a
session ended at its next look at the guards: each turn of the three waits until
${COORDINATOR_CATCH_UP_MS} ms after the coordinator's own last session on some free bridge ended. The coordinator's cost is
the difference of the medians over rounds against today's warm isolate, with the wider of the two
paths' round-to-round ranges as the noise.

The turn: every bridge held by a session through the coordinator, a new visitor joins the line
(\`${LINE_PATH}\`) and is at position 1; after a random 0–${COORDINATOR_CATCH_UP_MS} ms the oldest session's page closes it,
the head gets its \`turn\` and opens its session with the ticket (\`${TICKET_PROTOCOL_PREFIX}…\` subprotocol entry); timed from
the close to the \`turn\` message and to the 0x00, ${plan.turns} times. Target: p95 ≤ ${TURN_P95_MS} ms.

The crowd: a fresh workerd with the edge and the coordinator (\`rejoinGraceSeconds\` 0, so a page
that leaves goes at once; \`maxWaiting\` ${plan.crowd}), every bridge held through it, then ${plan.crowd} pages
join one after another, each waiting for its position. RSS is workerd's (edge and coordinator in
one process, so each page's socket counts in the edge and in the coordinator) before anyone
joined, every ${CROWD_RSS_STEP} pages, and 1 s after the last joined; per page, both the growth over
${plan.crowd} and the least-squares slope over the ${CROWD_RSS_STEP}-page steps. Then the
head leaves ${plan.crowdLeaves} times: from its close until every other page has a position one
lower (the client's own receive time, one Node process holding all ${plan.crowd} sockets). Target: ≤ ${MOVE_UP_MS} ms.

The fallback: edges whose line script's \`FleetLine\` throws, or never answers (a 60 s timer), at
k = 0, alternating with today's warm isolate: ${plan.fallback} and ${plan.fallbackHanging} upgrades. The edge
bounds each call to the coordinator by ${run.figures.coordinatorTimeoutMs} ms (\`COORDINATOR_TIMEOUT_MS\`).

${admissionTable(run.admissionRows)}

${lineTable(run.rows)}
${anomalies.length ? `\nNot as set up (counted, left out of the figures): ${anomalies.join("; ")}.\n` : ""}`;
}

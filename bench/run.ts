/**
 * `npm run bench [-- --quick]`: the edge (production bundle in workerd, auth on) against direct,
 * nginx, HAProxy and Caddy to the same loopback echo bridge, interleaved rounds, medians over
 * rounds. Prints the table; writes bench/results.md and bench/latency.svg (+ .png with Chromium).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { buildLineBundle, buildWorkerBundle, describeBundle } from "../worker/build";
import WebSocket from "ws";
import { startStandinBridge } from "../tools/lib/bridgeProcess";
import { haproxyBinary, HAPROXY_MISSING, startGuardProcess } from "../tools/lib/guardProcess";
import { defineCommand } from "../tools/lib/cli";
import { freePort } from "../test/support/freePort";
import { startLocalEdge } from "../tools/lib/localEdge";
import { loadStackSettings, PROJECT_ROOT } from "../infra/config/stackFiles";
import {
  handshakes,
  roundTrips,
  throughput,
  withIdleSessions,
  openSocket,
  percentilesOf,
  FRAME_BYTES,
  type Percentiles,
  type Target,
} from "./measure";
import { ensurePeersInstalled, startPeers, type Peer } from "./peers";
import { cpuSeconds, processTree, rssBytes, sumOver } from "../test/support/processes";
import { median, spreadOf } from "../test/support/stats";
import {
  BENCH_AUTH,
  BENCH_BRIDGE_PATH,
  benchBridgeUrl,
  benchEdgeBindings,
  benchEdgeTarget,
  coldStart,
  cpuPerUpgrade,
  FLOOR_WORKER,
  GUARD_OPTIONS,
  hs256BenchToken,
  startBenchKeySet,
  type ColdStart,
} from "./floor";
import {
  checkFloorTargets,
  checkTargets,
  cpuTable,
  floorTable,
  latencyChartSvg,
  resultsTable,
  type CpuRow,
  type FloorRow,
  type PathResult,
} from "./report";
import { startWorkerd } from "./workerdProcess";
import { cleanupOnExit } from "./cleanup";
import { FLEET_PLANS, fleetSection, measureFleet, type FleetRun } from "./fleet";
import { fleetTable, withSection } from "./fleetReport";
import { LINE_PLANS, lineSection, measureLine, type LineRun } from "./line";
import { admissionTable, lineTable } from "./lineReport";
import { measurePoints, pointsSection, pointsTable, POINTS_PLANS } from "./points";

const args = defineCommand({
  name: "bench",
  options: {
    quick: {
      type: "boolean",
      description: "fewer rounds and samples (about 4 minutes instead of 10)",
    },
    fleet: {
      type: "boolean",
      description:
        "only the fleet table: k of 4 guarded bridges busy, one refusing, one hanging, against the single bridge (updates its section of bench/results.md)",
    },
    line: {
      type: "boolean",
      description:
        "only the waiting line: k of 4 busy through the coordinator against today's admission, a turn, 1,000 pages waiting, the fallback (updates its section of bench/results.md)",
    },
    points: {
      type: "boolean",
      description:
        "only the points: the edge's CPU per upgrade with the Analytics Engine dataset bound against without, same run (updates its section of bench/results.md)",
    },
    baseline: {
      type: "string",
      value: "<bundle.mjs>",
      description:
        "an earlier build of the Worker, measured beside this one for a before/after (CPU per upgrade, handshake)",
    },
  },
  notes: ["writes bench/results.md and bench/latency.svg (+ .png with Chromium)"],
}).parse();
const PLAN = args.quick
  ? {
      rounds: 2,
      handshakes: 100,
      roundTrips: 1_000,
      throughputMessages: 10_000,
      idleSessions: 200,
      budgetMs: 4 * 60_000,
    }
  : {
      rounds: 5,
      handshakes: 300,
      roundTrips: 3_000,
      throughputMessages: 30_000,
      idleSessions: 1_000,
      budgetMs: 10 * 60_000,
    };
const started = Date.now();
const log = (line: string) =>
  console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);
const overBudget = () => Date.now() - started > PLAN.budgetMs;

const medianOf = (samples: Percentiles[]): Percentiles => ({
  p50: median(samples.map((s) => s.p50)),
  p99: median(samples.map((s) => s.p99)),
});

interface BenchPath {
  name: string;
  /** For the floor-relative table: which runtime, and whether this path is that runtime's floor. */
  runtime?: "workerd" | "Miniflare";
  floor?: boolean;
  target: Target;
  /** Processes whose RSS and CPU count as this path's proxy. */
  pids: () => number[];
  rs256Target?: Target;
  es256Target?: Target;
}

const cleanup = cleanupOnExit();

function versionOf(pkg: string): string {
  return (
    JSON.parse(readFileSync(join(PROJECT_ROOT, "node_modules", pkg, "package.json"), "utf8")) as {
      version: string;
    }
  ).version;
}

/** How we know the Worker runs no JavaScript per message: an instrumented entry counts every JS entry and socket listener. */
async function jsWorkPerMessage(
  code: string,
  bindings: Record<string, unknown>,
  compatibilityDate: string,
  edgeToken: string,
): Promise<{ frames: number; fetchCalls: number; listeners: number; accepts: number }> {
  const entryWrapper = `import edge from "./worker.mjs";
let fetchCalls = 0, listeners = 0, accepts = 0;
const addEventListener = WebSocket.prototype.addEventListener;
WebSocket.prototype.addEventListener = function (...a) { listeners++; return addEventListener.apply(this, a); };
const accept = WebSocket.prototype.accept;
WebSocket.prototype.accept = function () { accepts++; return accept.call(this); };
export default { fetch(request, env, ctx) {
  if (new URL(request.url).pathname === "/__bench/js-counters") return Response.json({ fetchCalls, listeners, accepts });
  fetchCalls++;
  return edge.fetch(request, env, ctx);
} };`;
  const edge = await startLocalEdge({
    code,
    compatibilityDate,
    bindings,
    entryWrapper,
    onLogLine: () => undefined,
  });
  try {
    const target = benchEdgeTarget(edge.url.port, edgeToken);
    const frames = 2_000;
    const socket = await openSocket(target);
    await socket.next();
    for (let i = 0; i < frames; i++) {
      socket.ws.send(Buffer.alloc(FRAME_BYTES, i % 256));
      await socket.next();
    }
    socket.ws.close(1000);
    const response = await fetch(new URL("/__bench/js-counters", edge.url));
    const counters = (await response.json()) as {
      fetchCalls: number;
      listeners: number;
      accepts: number;
    };
    return { frames, ...counters };
  } finally {
    await edge.dispose();
  }
}

function machineDescription(): string[] {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const kernel = execFileSync("uname", ["-sr"], { encoding: "utf8" }).trim();
  return [
    `${cpus().length} × ${cpu}`,
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB memory`,
    kernel,
    `Node ${process.version}`,
  ];
}

/**
 * The page's wait for a busy bridge: the edge in workerd in front of a guard of capacity 1 whose one
 * session is held open; each upgrade timed from the client's start to its close 1013.
 */
async function busyRefusals(
  code: string,
  compatibilityDate: string,
  bridgeOrigin: string,
  jwksUrl: string,
  token: string,
): Promise<{ count: number; ms: Percentiles }> {
  const guard = await startGuardProcess(["--upstream", bridgeOrigin, "--capacity", "1"]);
  cleanup.add(() => guard.stop());
  const edge = await startWorkerd({
    code,
    compatibilityDate,
    bindings: benchEdgeBindings(`${guard.origin}${BENCH_BRIDGE_PATH}`, jwksUrl),
  });
  cleanup.add(() => edge.stop());
  const withOptions = benchEdgeTarget(edge.port, token);
  const held = await openSocket(withOptions);
  const count = args.quick ? 50 : 200;
  const micros: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const closeCode = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(withOptions.url, withOptions.protocols, {
        headers: withOptions.headers,
        perMessageDeflate: false,
      });
      ws.once("close", (closed) => resolve(closed));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once("error", reject);
    });
    if (closeCode !== 1013) throw new Error(`busy bridge: expected close 1013, got ${closeCode}`);
    micros.push((performance.now() - started) * 1000);
  }
  held.ws.close(1000);
  await Promise.all([edge.stop(), guard.stop()]);
  return { count, ms: percentilesOf(micros) };
}

/** The fleet table on its own (`-- --fleet`): printed, and its section of results.md replaced. */
async function fleetOnly() {
  if (!haproxyBinary()) throw new Error(`the fleet needs the guard: ${HAPROXY_MISSING}`);
  const bundle = await buildWorkerBundle();
  log(describeBundle(bundle));
  const run = await measureFleetWith(bundle.code);
  const resultsPath = join(PROJECT_ROOT, "bench", "results.md");
  const markdown = existsSync(resultsPath) ? readFileSync(resultsPath, "utf8") : "";
  writeFileSync(resultsPath, withSection(markdown, "## The fleet", fleetMarkdown(run)));
  log("wrote the fleet section of bench/results.md");
}

async function measureFleetWith(code: string): Promise<FleetRun> {
  const run = await measureFleet({
    code,
    compatibilityDate: loadStackSettings("prod").compatibilityDate,
    token: await hs256BenchToken(),
    plan: args.quick ? FLEET_PLANS.quick : FLEET_PLANS.full,
    cleanup,
    log,
  });
  console.log(
    `\nThe fleet (k of 4 bridges busy, one refusing, one hanging), same run:\n\n${fleetTable(run.rows)}\n`,
  );
  for (const [what, count] of run.anomalies) console.log(`not as set up: ${what}: ${count}`);
  return run;
}

/** The date, machine and command a section of results.md names. */
const runMeta = () => ({
  date: new Date().toISOString().slice(0, 10),
  machine: `machine: ${machineDescription().join("; ")}`,
  command: [
    "npm run bench",
    ...(args.quick || args.fleet || args.line || args.points ? ["--"] : []),
  ]
    .concat(
      args.quick ? ["--quick"] : [],
      args.fleet ? ["--fleet"] : [],
      args.line ? ["--line"] : [],
      args.points ? ["--points"] : [],
    )
    .join(" "),
});

const fleetMarkdown = (run: FleetRun) => fleetSection(run, runMeta());

/** The waiting line on its own (`-- --line`): printed, and its section of results.md replaced. */
async function lineOnly() {
  if (!haproxyBinary()) throw new Error(`the waiting line needs the guard: ${HAPROXY_MISSING}`);
  const [edge, line] = await Promise.all([buildWorkerBundle(), buildLineBundle()]);
  log(describeBundle(edge));
  log(describeBundle(line, "line script"));
  const run = await measureLineWith({ edge: edge.code, line: line.code });
  const resultsPath = join(PROJECT_ROOT, "bench", "results.md");
  const markdown = existsSync(resultsPath) ? readFileSync(resultsPath, "utf8") : "";
  writeFileSync(
    resultsPath,
    withSection(markdown, "## The waiting line", lineSection(run, runMeta())),
  );
  log("wrote the waiting line's section of bench/results.md");
}

async function measureLineWith(code: { edge: string; line: string }): Promise<LineRun> {
  const run = await measureLine({
    code,
    compatibilityDate: loadStackSettings("prod").compatibilityDate,
    plan: args.quick ? LINE_PLANS.quick : LINE_PLANS.full,
    cleanup,
    log,
  });
  console.log(
    `\nThe waiting line (k of 4 busy through the coordinator and today, a turn, ${run.plan.crowd} waiting, the fallback), same run:\n\n${admissionTable(run.admissionRows)}\n\n${lineTable(run.rows)}\n`,
  );
  for (const [what, count] of run.anomalies) console.log(`not as set up: ${what}: ${count}`);
  return run;
}

/** The points on their own (`-- --points`): printed, and their section of results.md replaced. */
async function pointsOnly() {
  const bundle = await buildWorkerBundle();
  log(describeBundle(bundle));
  const bridge = await startStandinBridge({ protocols: ["voice.v1"] });
  cleanup.add(() => bridge.stop());
  const run = await measurePoints({
    code: bundle.code,
    compatibilityDate: loadStackSettings("prod").compatibilityDate,
    token: await hs256BenchToken(),
    bridge,
    plan: args.quick ? POINTS_PLANS.quick : POINTS_PLANS.full,
    cleanup,
    log,
  });
  console.log(
    `\nThe edge with its dataset bound vs without, same run:\n\n${pointsTable(run.rows)}\n`,
  );
  console.log(`load average (1 min): ${run.load.map((l) => l.toFixed(2)).join(" before, ")} after`);
  const resultsPath = join(PROJECT_ROOT, "bench", "results.md");
  const markdown = existsSync(resultsPath) ? readFileSync(resultsPath, "utf8") : "";
  writeFileSync(
    resultsPath,
    withSection(
      markdown,
      "## Points: the edge with its Analytics Engine dataset bound (same run)",
      pointsSection(run, runMeta()),
    ),
  );
  log("wrote the points section of bench/results.md");
}

async function main() {
  if (args.points) return pointsOnly();
  if (args.fleet) return fleetOnly();
  if (args.line) return lineOnly();
  log(
    `mode: ${args.quick ? "quick" : "full"} — ${PLAN.rounds} rounds; ${PLAN.handshakes} handshakes, ${PLAN.roundTrips} round trips, ${PLAN.throughputMessages} pipelined messages per path per round; ${PLAN.idleSessions} idle sessions`,
  );
  const unavailable = ensurePeersInstalled(log);
  for (const [name, why] of unavailable) log(`${name}: ${why} — going on without it`);

  const bundle = await buildWorkerBundle();
  log(describeBundle(bundle));
  const workDir = mkdtempSync(join(tmpdir(), "voice-edge-bench-"));
  cleanup.add(() => rmSync(workDir, { recursive: true, force: true }));

  const bridge = await startStandinBridge({ protocols: ["voice.v1"] });
  cleanup.add(() => bridge.stop());
  const jwks = await startBenchKeySet();
  cleanup.add(() => jwks.close());
  const compatibilityDate = loadStackSettings("prod").compatibilityDate;
  const bindings = benchEdgeBindings(benchBridgeUrl(bridge), jwks.url);
  const edge = await startWorkerd({ code: bundle.code, compatibilityDate, bindings });
  cleanup.add(() => edge.stop());
  const edgePids = [edge.process.pid!];
  const floorBindings = { BRIDGE_URL: benchBridgeUrl(bridge) };
  const floor = await startWorkerd({
    code: FLOOR_WORKER,
    compatibilityDate,
    bindings: floorBindings,
  });
  cleanup.add(() => floor.stop());
  const quiet = { onLogLine: () => undefined };
  const edgeMiniflare = await startLocalEdge({
    code: bundle.code,
    compatibilityDate,
    bindings,
    ...quiet,
  });
  cleanup.add(() => edgeMiniflare.dispose());
  const floorMiniflare = await startLocalEdge({
    code: FLOOR_WORKER,
    compatibilityDate,
    bindings: floorBindings,
    ...quiet,
  });
  cleanup.add(() => floorMiniflare.dispose());

  const peers: Peer[] = await startPeers({
    workDir,
    bridgePort: bridge.port,
    ports: freePort,
    skip: new Set(unavailable.keys()),
    log,
  });
  for (const peer of peers) cleanup.add(() => peer.stop());
  // The guard as each GPU VM runs it (npm run guard), in front of the same echo bridge; capacity
  // above one so the sequential loops here are admitted (its per-frame cost does not depend on it).
  const guard = haproxyBinary()
    ? await startGuardProcess(["--upstream", bridge.origin, "--capacity", "64"])
    : undefined;
  if (guard) cleanup.add(() => guard.stop());
  else log(`guard: ${HAPROXY_MISSING} — going on without it`);
  log(
    `running: direct, ${peers.map((p) => `${p.name} ${p.version}`).join(", ")}, edge (workerd ${versionOf("workerd")})`,
  );

  const hsToken = await hs256BenchToken();
  const claims = { iss: BENCH_AUTH.issuer, aud: BENCH_AUTH.audience, sub: "bench" };
  const rsToken = await jwks.sign("RS256", claims);
  const esToken = await jwks.sign("ES256", claims);
  const edgeTarget = (jwt: string): Target => benchEdgeTarget(edge.port, jwt);
  const plain = (port: number | string): Target => ({
    url: `ws://127.0.0.1:${port}${BENCH_BRIDGE_PATH}?bench=1`,
    protocols: ["voice.v1"],
    headers: {},
  });
  const paths: BenchPath[] = [
    { name: "direct", target: plain(bridge.port), pids: () => [] },
    ...(guard
      ? [
          {
            name: "guard (npm run guard)",
            target: { ...plain(guard.port), url: `${plain(guard.port).url}&${GUARD_OPTIONS}` },
            pids: () => [],
          },
        ]
      : []),
    ...peers.map((peer) => ({
      name: peer.name,
      target: plain(peer.port),
      pids: () => processTree(peer.process.pid!),
    })),
    // The floor gets the edge's very request (Origin, token subprotocol): the same bytes to parse and forward.
    {
      name: "floor",
      runtime: "workerd",
      floor: true,
      target: benchEdgeTarget(floor.port, hsToken),
      pids: () => [floor.process.pid!],
    },
    {
      name: "edge",
      runtime: "workerd",
      target: edgeTarget(hsToken),
      rs256Target: edgeTarget(rsToken),
      es256Target: edgeTarget(esToken),
      pids: () => edgePids,
    },
    {
      name: "floor (Miniflare)",
      runtime: "Miniflare",
      floor: true,
      target: benchEdgeTarget(floorMiniflare.url.port, hsToken),
      pids: () => [],
    },
    {
      name: "edge (Miniflare)",
      runtime: "Miniflare",
      target: benchEdgeTarget(edgeMiniflare.url.port, hsToken),
      pids: () => [],
    },
  ];
  // Warm every path once (connections, JIT, the JWKS cache) before anything is measured.
  for (const path of paths) {
    await roundTrips(path.target, 200, 0);
    if (path.rs256Target) await handshakes(path.rs256Target, 5);
    if (path.es256Target) await handshakes(path.es256Target, 5);
  }

  const samples = new Map(
    paths.map((p) => [
      p.name,
      {
        handshake: [] as Percentiles[],
        rs256: [] as Percentiles[],
        es256: [] as Percentiles[],
        rtt: [] as Percentiles[],
        mps: [] as number[],
        cpu: [] as number[],
      },
    ]),
  );
  for (let round = 0; round < PLAN.rounds && !overBudget(); round++) {
    const order = paths.map((_, i) => paths[(i + round) % paths.length]);
    for (const path of order) {
      const s = samples.get(path.name)!;
      s.handshake.push(await handshakes(path.target, PLAN.handshakes));
      if (path.rs256Target) s.rs256.push(await handshakes(path.rs256Target, PLAN.handshakes));
      if (path.es256Target) s.es256.push(await handshakes(path.es256Target, PLAN.handshakes));
      s.rtt.push(await roundTrips(path.target, PLAN.roundTrips));
      const cpuBefore = sumOver(path.pids(), cpuSeconds);
      const run = await throughput(path.target, PLAN.throughputMessages);
      s.mps.push(run.messagesPerSecond);
      if (path.pids().length > 0)
        s.cpu.push(
          ((sumOver(path.pids(), cpuSeconds) - cpuBefore) * 1e6) / PLAN.throughputMessages,
        );
    }
    log(`round ${round + 1}/${PLAN.rounds} done`);
  }

  // The Worker's CPU per upgrade: workerd's CPU over sequential upgrades, floor against edge, interleaved.
  const cpuTargets: [string, number, Target][] = [
    ["floor", floor.process.pid!, benchEdgeTarget(floor.port, hsToken)],
    ["edge HS256", edge.process.pid!, edgeTarget(hsToken)],
    ["edge ES256", edge.process.pid!, edgeTarget(esToken)],
    ["edge RS256", edge.process.pid!, edgeTarget(rsToken)],
  ];
  if (args.baseline) {
    const baseline = await startWorkerd({
      code: readFileSync(args.baseline, "utf8"),
      compatibilityDate,
      bindings,
    });
    cleanup.add(() => baseline.stop());
    await handshakes(benchEdgeTarget(baseline.port, rsToken), 5);
    cpuTargets.push(
      ["before: edge HS256", baseline.process.pid!, benchEdgeTarget(baseline.port, hsToken)],
      ["before: edge RS256", baseline.process.pid!, benchEdgeTarget(baseline.port, rsToken)],
    );
  }
  const cpuSamples = new Map(
    cpuTargets.map(([name]) => [name, { micros: [] as number[], handshake: [] as number[] }]),
  );
  for (let round = 0; round < PLAN.rounds && !overBudget(); round++) {
    for (let i = 0; i < cpuTargets.length; i++) {
      const [name, pid, target] = cpuTargets[(i + round) % cpuTargets.length];
      const measured = await cpuPerUpgrade(pid, target, PLAN.handshakes);
      cpuSamples.get(name)!.micros.push(measured.micros);
      cpuSamples.get(name)!.handshake.push(measured.handshake.p50);
    }
  }
  log("CPU per upgrade measured");

  // The isolate's start-up: a fresh workerd to its first 101, the bundle against the floor, alternating.
  const coldStarts = { floor: [] as ColdStart[], edge: [] as ColdStart[] };
  for (let i = 0; i < 3 && !overBudget(); i++) {
    coldStarts.floor.push(
      await coldStart(FLOOR_WORKER, compatibilityDate, floorBindings, (port) =>
        benchEdgeTarget(port, hsToken),
      ),
    );
    coldStarts.edge.push(
      await coldStart(bundle.code, compatibilityDate, bindings, (port) =>
        benchEdgeTarget(port, hsToken),
      ),
    );
  }
  log("cold starts measured");

  const idle = new Map<string, number>();
  for (const path of paths.filter((p) => p.pids().length > 0)) {
    if (overBudget()) break;
    const before = sumOver(path.pids(), rssBytes);
    const after = await withIdleSessions(path.target, PLAN.idleSessions, () =>
      sumOver(path.pids(), rssBytes),
    );
    idle.set(path.name, (after - before) / 1024 / PLAN.idleSessions);
    log(`${path.name}: ${PLAN.idleSessions} idle sessions measured`);
    await new Promise((r) => setTimeout(r, 1_000));
  }

  const busy = haproxyBinary()
    ? await busyRefusals(bundle.code, compatibilityDate, bridge.origin, jwks.url, hsToken)
    : undefined;
  if (busy) log(`busy bridge: ${busy.count} upgrades closed with 1013`);
  const fleet = haproxyBinary() ? await measureFleetWith(bundle.code) : undefined;
  if (!fleet) log(`fleet: ${HAPROXY_MISSING} — going on without it`);
  const line = haproxyBinary()
    ? await measureLineWith({ edge: bundle.code, line: (await buildLineBundle()).code })
    : undefined;
  if (!line) log(`the waiting line: ${HAPROXY_MISSING} — going on without it`);

  const jsWork = await jsWorkPerMessage(bundle.code, bindings, compatibilityDate, hsToken);
  log(
    `JS work check: ${jsWork.frames} frames → ${jsWork.fetchCalls} fetch call(s), ${jsWork.listeners} listeners, ${jsWork.accepts} accept() calls`,
  );

  const results: PathResult[] = paths.map((path) => {
    const s = samples.get(path.name)!;
    return {
      name: path.name,
      handshake: medianOf(s.handshake),
      handshakeRs256: s.rs256.length ? medianOf(s.rs256) : undefined,
      rtt: medianOf(s.rtt),
      messagesPerSecond: median(s.mps),
      proxyCpuMicrosPerMessage: s.cpu.length ? median(s.cpu) : undefined,
      idleKiBPerSession: idle.get(path.name),
    };
  });
  const roundsRun = samples.get("direct")!.rtt.length;
  const peerComparison = results.filter(
    (r) => !r.name.includes("(Miniflare)") && r.name !== "floor",
  );
  const table = resultsTable(peerComparison);
  const targets = checkTargets(peerComparison);
  const floorRows: FloorRow[] = paths
    .filter((p) => p.runtime)
    .flatMap((p) => {
      const s = samples.get(p.name)!;
      const row = {
        runtime: p.runtime!,
        floor: !!p.floor,
        rtt: spreadOf(s.rtt.map((x) => x.p50)),
        messagesPerSecond: spreadOf(s.mps),
      };
      const name = p.name.replace(" (Miniflare)", "");
      return [
        {
          ...row,
          name: name === "edge" ? "edge HS256" : name,
          handshake: spreadOf(s.handshake.map((x) => x.p50)),
        },
        ...(
          [
            ["edge ES256", s.es256],
            ["edge RS256", s.rs256],
          ] as const
        )
          .filter(([, handshakes]) => handshakes.length)
          .map(([name, handshakes]) => ({
            runtime: row.runtime,
            floor: false,
            name,
            handshake: spreadOf(handshakes.map((x) => x.p50)),
          })),
      ];
    });
  const cpuRows: CpuRow[] = cpuTargets.map(([name]) => ({
    name,
    micros: spreadOf(cpuSamples.get(name)!.micros),
    handshake: spreadOf(cpuSamples.get(name)!.handshake),
  }));
  const floorTargets = checkFloorTargets({
    workerd: floorRows.filter((r) => r.runtime === "workerd"),
    cpu: cpuRows,
  });
  const cold = (list: ColdStart[]) => ({
    ms: spreadOf(list.map((c) => c.toFirst101Ms)),
    cpu: spreadOf(list.map((c) => c.cpuMs)),
  });
  const coldFloor = cold(coldStarts.floor);
  const coldEdge = cold(coldStarts.edge);
  const fmtMs = (s: { median: number; min: number; max: number }) =>
    `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
  const startupTable = [
    "| Worker | module size | spawn → first 101, ms (min–max) | workerd CPU until then, ms (min–max) |",
    "|---|---|---|---|",
    `| floor | ${Buffer.byteLength(FLOOR_WORKER)} bytes | ${fmtMs(coldFloor.ms)} | ${fmtMs(coldFloor.cpu)} |`,
    `| edge | ${bundle.sizeBytes} bytes | ${fmtMs(coldEdge.ms)} | ${fmtMs(coldEdge.cpu)} |`,
    `| edge − floor | | ${(coldEdge.ms.median - coldFloor.ms.median).toFixed(1)} | ${(coldEdge.cpu.median - coldFloor.cpu.median).toFixed(1)} |`,
  ].join("\n");
  const floorSection = `${floorTable(floorRows)}\n\n${cpuTable(cpuRows)}\n\n${startupTable}`;
  const date = new Date().toISOString();
  const versions = [
    `workerd ${versionOf("workerd")} (miniflare ${versionOf("miniflare")})`,
    ...peers.map((p) => `${p.name} ${p.version}`),
    `ws ${versionOf("ws")}`,
  ];

  console.log(`\n${table}\n`);
  for (const t of targets) console.log(`${t.met ? "met   " : "MISSED"} ${t.target}: ${t.detail}`);
  console.log(
    `\nAgainst the runtime's floor (a pass-through Worker with no auth and no config), same run:\n\n${floorSection}\n`,
  );
  for (const t of floorTargets)
    console.log(`${t.met ? "met   " : "MISSED"} ${t.target}: ${t.detail}`);
  const busySection = busy
    ? `A busy bridge, as the page sees it: the edge in workerd in front of a guard of capacity 1 whose one session is held open; ${busy.count} upgrades, each timed from \`new WebSocket\` to its close 1013: p50 ${(busy.ms.p50 / 1000).toFixed(2)} ms, p99 ${(busy.ms.p99 / 1000).toFixed(2)} ms.`
    : `A busy bridge: not measured (${HAPROXY_MISSING}).`;
  console.log(`\n${busySection}`);
  console.log(
    `\nWorker bundle: ${bundle.sizeBytes} bytes. JS per message: ${jsWork.fetchCalls} fetch call for ${jsWork.frames} frames, ${jsWork.listeners} listeners, ${jsWork.accepts} accept() calls.`,
  );

  const markdown = `# Benchmark: the edge against direct, nginx, HAProxy and Caddy

${date.slice(0, 10)} · \`npm run bench${args.quick ? " -- --quick" : ""}\` · ${roundsRun} interleaved rounds, medians over rounds${roundsRun < PLAN.rounds ? ` (stopped at the ${PLAN.budgetMs / 60_000} min budget)` : ""}

Machine: ${machineDescription().join("; ")}.
Versions: ${versions.join(", ")}.${unavailable.size ? `\nNot measured: ${[...unavailable].map(([n, w]) => `${n} (${w})`).join(", ")}.` : ""}

Everything on loopback: a client process (this script, \`ws\`), the stand-in echo bridge (its own Node
process, \`ws\`), and one proxy in between — nginx (1 worker), HAProxy (1 thread), Caddy
(GOMAXPROCS=1) configured as WebSocket reverse proxies, or the edge: the production Worker bundle in
a bare \`workerd serve\` (no Miniflare layer in front; \`npm run dev\` has one) with authentication on (origin check + JWT; HS256, and RS256 and ES256 from a JWKS whose keys are cached).
Frames are 640 bytes (20 ms of 16 kHz audio). Handshake = \`new WebSocket\` to \`open\`
(${PLAN.handshakes} sequential per round); RTT = one frame out and its echo back, sequentially
(${PLAN.roundTrips} per round); throughput = ${PLAN.throughputMessages} echoes with 64 frames in flight;
proxy CPU = user+system time of the proxy's processes during the throughput run, per message; idle
memory = the proxy's RSS growth with ${PLAN.idleSessions} open idle sessions, per session.

${table}

## Targets (same run)

${targets.map((t) => `- ${t.met ? "**met**" : "**missed**"} — ${t.target}: ${t.detail}`).join("\n")}

## The edge against the runtime's floor (same run)

The floor is the least any Worker can cost in the same runtime: a pass-through Worker with no
authentication and no configuration that returns the bridge's socket (\`bench/floor.ts\`), sent the
edge's very upgrade request (Origin, token subprotocol). Rounds
interleaved in rotating order; medians over rounds with the min–max across rounds, so the noise
is visible. CPU per upgrade is workerd's own CPU time over ${PLAN.handshakes} sequential upgrades per round
(the client and the bridge run in other processes); cold start is a fresh \`workerd serve\` to its
first 101.${args.baseline ? ` Rows marked "before:" are \`--baseline ${args.baseline.split("/").at(-1)}\`, an earlier build of the Worker measured in the same rounds.` : ""}

${floorSection}

${floorTargets.map((t) => `- ${t.met ? "**met**" : "**missed**"} — ${t.target}: ${t.detail}`).join("\n")}

## The guard

The row \`guard (npm run guard)\` is HAProxy as \`npm run guard\` configures it for a GPU VM (the
session options checked, capacity 64 here so the sequential loops are admitted), in front of the
same echo bridge: its cost against \`direct\`.

${busySection}

## The Worker does no work per message

- Bundle: ${bundle.sizeBytes} bytes (${(bundle.sizeBytes / 1024).toFixed(1)} KiB), sha256 \`${bundle.sha256.slice(0, 16)}…\`.
- An instrumented entry module (counting every \`fetch\` invocation, every \`WebSocket.addEventListener\`
  and every \`accept()\`) in front of the same bundle, then ${jsWork.frames} echoed frames on one session:
  **${jsWork.fetchCalls} fetch invocation (the upgrade), ${jsWork.listeners} listeners, ${jsWork.accepts} accept() calls**. No
  listener means no JavaScript can run for a frame; the Worker returns the bridge's socket un-accepted and
  workerd splices the two natively. The proxy CPU column shows what that native splice costs workerd.

![latency per path](latency.svg)

${fleet ? fleetMarkdown(fleet) : `## The fleet\n\nNot measured: ${HAPROXY_MISSING}.\n`}
${line ? lineSection(line, runMeta()) : `## The waiting line\n\nNot measured: ${HAPROXY_MISSING}.\n`}`;
  mkdirSync(join(PROJECT_ROOT, "bench"), { recursive: true });
  writeFileSync(join(PROJECT_ROOT, "bench", "results.md"), markdown);
  const svg = latencyChartSvg(
    results,
    `WebSocket latency per path (loopback, 640-byte frames, ${date.slice(0, 10)})`,
  );
  writeFileSync(join(PROJECT_ROOT, "bench", "latency.svg"), svg);
  await renderPng(svg, join(PROJECT_ROOT, "bench", "latency.png"));
  log("wrote bench/results.md and bench/latency.svg");
}

/** Renders the chart to PNG with Debian's Chromium when it is there (the SVG is the chart either way). */
async function renderPng(svg: string, path: string) {
  const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(chromium)) return;
  const { chromium: playwright } = await import("playwright-core");
  const browser = await playwright.launch({
    executablePath: chromium,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 860, height: 420 } });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path });
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench: FAIL ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await cleanup.run();
}

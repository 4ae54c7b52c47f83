/**
 * The points' part of `npm run bench` (`-- --points`): the edge's cost per upgrade with the
 * stack's Analytics Engine dataset bound against the same bundle without it, in the same run. Three
 * local edges (Miniflare's workerd, one process each) in front of one stand-in bridge: without the
 * binding; with the dataset; with the dataset and the visitor key (the HMAC in `waitUntil`). The
 * dataset is the local edge's recorder, quiet: the real binding hands the point to the runtime,
 * which this cannot measure; what it measures is the Worker's own work to build and write it.
 */
import { loadavg } from "node:os";
import { pidListeningOn } from "../test/support/processes";
import { median } from "../test/support/stats";
import { startLocalEdge, type LocalEdge } from "../tools/lib/localEdge";
import { VISITOR_KEY_BINDING } from "../worker/src/analytics/points";
import type { Cleanup } from "./cleanup";
import { benchBridgeUrl, benchEdgeBindings, benchEdgeTarget, cpuPerUpgrade } from "./floor";

export const POINTS_PLANS = {
  quick: { rounds: 3, upgrades: 100 },
  full: { rounds: 7, upgrades: 300 },
} as const;

const VARIANTS = [
  { name: "without the dataset", points: false, visitorKey: false },
  { name: "dataset bound", points: true, visitorKey: false },
  { name: "dataset + visitor key", points: true, visitorKey: true },
] as const;

export interface PointsRow {
  name: string;
  /** Median over rounds, and the min–max across rounds: workerd's CPU per upgrade, µs. */
  cpu: { median: number; min: number; max: number };
  /** Median over rounds of the handshake p50, µs. */
  handshakeP50: number;
}

export interface PointsRun {
  rows: PointsRow[];
  plan: { rounds: number; upgrades: number };
  /** The 1-minute load average before and after the run. */
  load: [number, number];
}

export async function measurePoints(options: {
  code: string;
  compatibilityDate: string;
  token: string;
  bridge: { origin: string };
  plan: { rounds: number; upgrades: number };
  cleanup: Cleanup;
  log: (line: string) => void;
}): Promise<PointsRun> {
  const loadBefore = loadavg()[0];
  const edges: { variant: (typeof VARIANTS)[number]; edge: LocalEdge; pid: number }[] = [];
  for (const variant of VARIANTS) {
    const edge = await startLocalEdge({
      code: options.code,
      compatibilityDate: options.compatibilityDate,
      bindings: {
        ...benchEdgeBindings(benchBridgeUrl(options.bridge)),
        ...(variant.visitorKey
          ? { [VISITOR_KEY_BINDING]: "bench-visitor-key-0123456789abcdef" }
          : {}),
      },
      ...(variant.points ? { points: { dataset: "voice_edge_bench", quiet: true } } : {}),
      onLogLine: () => {},
    });
    options.cleanup.add(() => edge.dispose());
    edges.push({ variant, edge, pid: pidListeningOn(Number(edge.url.port)) });
  }
  const samples = new Map<string, { cpu: number[]; p50: number[] }>(
    VARIANTS.map((v) => [v.name, { cpu: [], p50: [] }]),
  );
  for (let round = 0; round < options.plan.rounds; round++) {
    // Rotating order: no variant always runs first (or last) in a round.
    const order = edges.map((_, i) => edges[(i + round) % edges.length]);
    for (const { variant, edge, pid } of order) {
      const target = benchEdgeTarget(edge.url.port, options.token);
      const { micros, handshake } = await cpuPerUpgrade(pid, target, options.plan.upgrades);
      samples.get(variant.name)!.cpu.push(micros);
      samples.get(variant.name)!.p50.push(handshake.p50);
    }
    options.log(`points: round ${round + 1} of ${options.plan.rounds}`);
  }
  for (const { edge } of edges) await edge.dispose();
  return {
    rows: VARIANTS.map((variant) => {
      const { cpu, p50 } = samples.get(variant.name)!;
      return {
        name: variant.name,
        cpu: { median: median(cpu), min: Math.min(...cpu), max: Math.max(...cpu) },
        handshakeP50: median(p50),
      };
    }),
    plan: options.plan,
    load: [loadBefore, loadavg()[0]],
  };
}

const fmt = (n: number) => n.toFixed(0);

export function pointsTable(rows: readonly PointsRow[]): string {
  const [base] = rows;
  return [
    "| edge | workerd CPU µs/upgrade (median) | min–max over rounds | × without | handshake p50 µs |",
    "|---|---|---|---|---|",
    ...rows.map(
      (row) =>
        `| ${row.name} | ${fmt(row.cpu.median)} | ${fmt(row.cpu.min)}–${fmt(row.cpu.max)} | ${(row.cpu.median / base.cpu.median).toFixed(2)}× | ${fmt(row.handshakeP50)} |`,
    ),
  ].join("\n");
}

/** Within noise: each bound variant's median inside the unbound one's min–max across rounds. */
export function withinNoise(rows: readonly PointsRow[]): boolean {
  const [base, ...bound] = rows;
  return bound.every((row) => row.cpu.median <= base.cpu.max && row.cpu.median >= base.cpu.min);
}

export function pointsSection(
  run: PointsRun,
  meta: { date: string; machine: string; command: string },
): string {
  return `## Points: the edge with its Analytics Engine dataset bound (same run)

${meta.date} · \`${meta.command}\` · ${run.plan.rounds} interleaved rounds of ${run.plan.upgrades} sequential upgrades per edge, rotating order · load average (1 min) ${run.load[0].toFixed(2)} before, ${run.load[1].toFixed(2)} after · ${meta.machine}

Three local edges (Miniflare's workerd, one process each) in front of one stand-in bridge, each
upgrade authenticated (HS256) and served: without \`VOICE_POINTS\`; with it (one point written
beside the log line); with it and the visitor key (the HMAC of the subject in \`waitUntil\`). The
dataset is the local edge's recorder, quiet: the runtime's own hand-off of a point cannot be
measured locally, the Worker's work to build and write it can. CPU per upgrade is the edge
process's user+system time over the round's upgrades.

${pointsTable(run.rows)}

Target: within noise — **${withinNoise(run.rows) ? "met" : "missed"}** (each bound edge's median inside the unbound edge's min–max across rounds).
`;
}

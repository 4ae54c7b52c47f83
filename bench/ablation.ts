/**
 * `npm run bench:ablation`: where the Worker's own CPU per upgrade goes, step by step. Builds the
 * Worker's bundle once per rung of the ladder (`ablationLadder.ts`: each rung takes one more step
 * of the upgrade path out of the sources), runs every rung and the floor each in its own bare
 * `workerd serve`, and measures workerd's CPU per authenticated HS256 upgrade in short blocks, rung
 * after rung, cycle after cycle. A step's cost is the median over cycles of (rung before − rung
 * after); the parts cover the edge's whole cost over the floor (as medians, they add up to it only
 * roughly, and the table prints both). The rewritten bundles exist only
 * for this measurement and are never uploaded. `--operations` measures instead the runtime's calls
 * the edge makes, one at a time on top of a bare Worker (`operations.ts`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStandinBridge } from "../tools/lib/bridgeProcess";
import { defineCommand } from "../tools/lib/cli";
import { loadStackSettings } from "../infra/config/stackFiles";
import { ABLATION_LADDER, buildRung, checkLadder, ladderRows, ladderTable, TENTHS } from "./ablationLadder";
import { BENCH_AUTH, benchBridgeUrl, benchEdgeBindings, benchEdgeTarget, cpuPerUpgrade, FLOOR_WORKER, hs256BenchToken } from "./floor";
import { NO_OPERATION, OPERATIONS, operationsTable, operationTarget, operationWorker } from "./operations";
import type { Target } from "./measure";
import { cleanupOnExit } from "./cleanup";
import { startWorkerd, type WorkerdEdge } from "./workerdProcess";

const command = defineCommand({
  name: "bench:ablation",
  options: {
    cycles: { type: "string", value: "<n>", default: "400", description: "cycles over every rung and the floor, in rotating order" },
    block: { type: "string", value: "<n>", default: "25", description: "sequential upgrades per rung per cycle" },
    "max-minutes": { type: "string", value: "<n>", default: "20", description: "stop measuring after this long, with the cycles done" },
    operations: { type: "boolean", description: "instead of the ladder: the runtime's price list, one operation the edge uses at a time on top of a bare Worker" },
  },
});
const args = command.parse();
const cycles = Number(args.cycles);
const block = Number(args.block);
if (!Number.isInteger(cycles) || cycles < TENTHS) command.usageError(`--cycles must be a whole number ≥ ${TENTHS}, got "${args.cycles}"`);
const maxMinutes = Number(args["max-minutes"]);
if (!Number.isInteger(block) || block < 1) command.usageError(`--block must be a whole number ≥ 1, got "${args.block}"`);
if (!(maxMinutes > 0)) command.usageError(`--max-minutes must be a number > 0, got "${args["max-minutes"]}"`);
const deadline = Date.now() + maxMinutes * 60_000;
try {
  checkLadder();
} catch (error) {
  command.fail((error as Error).message);
}

interface Variant {
  code: string;
  bindings: Record<string, unknown>;
  target: (port: number) => Target;
}

const cleanup = cleanupOnExit();

/** Starts every variant in its own workerd, then measures them in short blocks, variant after variant, cycle after cycle. */
async function cycleOver(variants: Variant[], label: string): Promise<number[][]> {
  const compatibilityDate = loadStackSettings("prod").compatibilityDate;
  const started: { edge: WorkerdEdge; target: Target }[] = [];
  for (const variant of variants) {
    const edge = await startWorkerd({ code: variant.code, compatibilityDate, bindings: variant.bindings });
    cleanup.add(() => edge.stop());
    started.push({ edge, target: variant.target(edge.port) });
  }
  console.error(`${variants.length} workerd processes (${label}); ${cycles} cycles of ${block} upgrade(s) on each`);
  for (const { edge, target } of started) await cpuPerUpgrade(edge.process.pid!, target, 100);

  // Short blocks, one variant after another: the machine's speed drifts over seconds here, and
  // variants measured tens of milliseconds apart see the same drift, so their differences keep only the code's.
  const samples = started.map(() => [] as number[]);
  const progressEvery = Math.max(1, Math.round(cycles / TENTHS));
  let done = 0;
  for (let cycle = 0; cycle < cycles && Date.now() < deadline; cycle++, done++) {
    for (let k = 0; k < started.length; k++) {
      const i = (k + cycle) % started.length;
      samples[i].push((await cpuPerUpgrade(started[i].edge.process.pid!, started[i].target, block)).micros);
    }
    if ((cycle + 1) % progressEvery === 0) console.error(`cycle ${cycle + 1}/${cycles}`);
  }
  // Thrown, not failed at once: the cleanup stops the workerd processes on the way out.
  if (done < TENTHS) throw new Error(`--max-minutes ${maxMinutes} reached after ${done} cycle(s): at least ${TENTHS} are needed for a result`);
  if (done < cycles) console.error(`--max-minutes ${maxMinutes} reached: ${done} of ${cycles} cycles measured`);
  return samples;
}

try {
  const workDir = mkdtempSync(join(tmpdir(), "voice-edge-ablation-"));
  cleanup.add(() => rmSync(workDir, { recursive: true, force: true }));
  const bridge = await startStandinBridge({ protocols: ["voice.v1"] });
  cleanup.add(() => bridge.stop());
  const bridgeUrl = benchBridgeUrl(bridge);
  const token = await hs256BenchToken();
  if (args.operations) {
    const variants = [NO_OPERATION, ...OPERATIONS].map((operation) => ({
      code: operationWorker(operation),
      bindings: { BRIDGE_URL: bridgeUrl, SECRET: BENCH_AUTH.secret },
      target: (port: number) => operationTarget(port, token),
    }));
    const [reference, ...samples] = await cycleOver(variants, `${OPERATIONS.length} operations and the template`);
    console.log(operationsTable(OPERATIONS.map((operation) => operation.name), samples, reference));
  } else {
    const bindings = benchEdgeBindings(bridgeUrl);
    const variants: Variant[] = [];
    for (let rung = 0; rung <= ABLATION_LADDER.length; rung++) {
      const bundle = await buildRung(rung, join(workDir, `rung-${rung}.mjs`));
      variants.push({ code: bundle.code, bindings, target: (port) => benchEdgeTarget(port, token) });
    }
    // The floor is sent the edge's very request.
    variants.push({ code: FLOOR_WORKER, bindings: { BRIDGE_URL: bridgeUrl }, target: (port) => benchEdgeTarget(port, token) });
    const samples = await cycleOver(variants, `${ABLATION_LADDER.length + 1} rungs and the floor`);
    const result = ladderRows(
      ABLATION_LADDER,
      samples,
      "the edge's routing shell around a pass-through (URL, method and Upgrade checks, the bindings lookup, try/catch, async layers): the last rung against the floor Worker",
    );
    console.log(ladderTable(result));
  }
} finally {
  await cleanup.run();
}

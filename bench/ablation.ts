/**
 * `npm run bench:ablation`: where the Worker's own CPU per upgrade goes, step by step. Builds the
 * Worker's bundle once per rung of the ladder (`ablationLadder.ts`: each rung swaps one more module
 * of the upgrade path for a bench stand-in), checks every rung still upgrades and echoes (the fit
 * check; `--check` stops there), runs every rung and the floor each in its own bare
 * `workerd serve`, and measures workerd's CPU per authenticated HS256 upgrade in short blocks, rung
 * after rung, cycle after cycle. A step's cost is the median over cycles of (rung before − rung
 * after); the parts cover the edge's whole cost over the floor (as medians, they add up to it only
 * roughly, and the table prints both). The swapped bundles exist only
 * for this measurement and are never uploaded. `--operations` measures instead the runtime's calls
 * the edge makes, one at a time on top of a bare Worker (`operations.ts`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStandinBridge } from "../tools/lib/bridgeProcess";
import { defineCommand } from "../tools/lib/cli";
import { loadStackSettings } from "../infra/config/stackFiles";
import {
  ABLATION_LADDER,
  buildLadder,
  LADDER_SHELL,
  ladderRows,
  ladderTable,
  TENTHS,
} from "./ablationLadder";
import {
  BENCH_AUTH,
  benchBridgeUrl,
  benchEdgeBindings,
  benchEdgeTarget,
  cpuPerUpgrade,
  FLOOR_WORKER,
  hs256BenchToken,
} from "./floor";
import {
  NO_OPERATION,
  OPERATIONS,
  operationsTable,
  operationTarget,
  operationWorker,
} from "./operations";
import { openSocket, type Target } from "./measure";
import { cleanupOnExit } from "./cleanup";
import { startWorkerd, type WorkerdEdge } from "./workerdProcess";

const command = defineCommand({
  name: "bench:ablation",
  options: {
    cycles: {
      type: "string",
      value: "<n>",
      default: "400",
      description: "cycles over every rung and the floor, in rotating order",
    },
    block: {
      type: "string",
      value: "<n>",
      default: "25",
      description: "sequential upgrades per rung per cycle",
    },
    "max-minutes": {
      type: "string",
      value: "<n>",
      default: "20",
      description: "stop measuring after this long, with the cycles done",
    },
    operations: {
      type: "boolean",
      description:
        "instead of the ladder: the runtime's price list, one operation the edge uses at a time on top of a bare Worker",
    },
    check: {
      type: "boolean",
      description:
        "only the fit check: every rung builds, upgrades in workerd with a 101 and echoes; then exit",
    },
  },
});
const args = command.parse();
const cycles = Number(args.cycles);
const block = Number(args.block);
if (!Number.isInteger(cycles) || cycles < TENTHS)
  command.usageError(`--cycles must be a whole number ≥ ${TENTHS}, got "${args.cycles}"`);
const maxMinutes = Number(args["max-minutes"]);
if (!Number.isInteger(block) || block < 1)
  command.usageError(`--block must be a whole number ≥ 1, got "${args.block}"`);
if (!(maxMinutes > 0))
  command.usageError(`--max-minutes must be a number > 0, got "${args["max-minutes"]}"`);
const deadline = Date.now() + maxMinutes * 60_000;

interface Variant {
  /** How the fit check names it. */
  name: string;
  code: string;
  bindings: Record<string, unknown>;
  target: (port: number) => Target;
}

const cleanup = cleanupOnExit();

/** The fit check of one variant: it upgrades (a 101), and a frame comes back as it went. */
async function checkUpgradesAndEchoes(target: Target, name: string): Promise<void> {
  let socket;
  try {
    socket = await openSocket(target);
  } catch (error) {
    throw new Error(`${name} does not upgrade: ${(error as Error).message}`);
  }
  try {
    // The bridge's first frame, then the echo of ours; a silent variant times out instead of hanging the run.
    const frame = Buffer.from(`fit check: ${name}`);
    const within = (ms: number) =>
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`${name}: no frame within ${ms} ms`)), ms).unref(),
      );
    await Promise.race([socket.next(), within(5_000)]);
    socket.ws.send(frame);
    const echo = await Promise.race([socket.next(), within(5_000)]);
    if (!echo.equals(frame))
      throw new Error(`${name} does not echo: sent "${frame}", got "${echo}"`);
  } finally {
    socket.ws.close(1000);
  }
}

/** Starts every variant in its own workerd and checks each upgrades and echoes. */
async function startVariants(
  variants: Variant[],
): Promise<{ edge: WorkerdEdge; target: Target }[]> {
  const compatibilityDate = loadStackSettings("prod").compatibilityDate;
  const started: { edge: WorkerdEdge; target: Target }[] = [];
  for (const variant of variants) {
    const edge = await startWorkerd({
      code: variant.code,
      compatibilityDate,
      bindings: variant.bindings,
    });
    cleanup.add(() => edge.stop());
    const target = variant.target(edge.port);
    await checkUpgradesAndEchoes(target, variant.name);
    started.push({ edge, target });
  }
  return started;
}

/** Measures started variants in short blocks, variant after variant, cycle after cycle. */
async function cycleOver(
  started: { edge: WorkerdEdge; target: Target }[],
  label: string,
): Promise<number[][]> {
  console.error(
    `${started.length} workerd processes (${label}); ${cycles} cycles of ${block} upgrade(s) on each`,
  );
  for (const { edge, target } of started) await cpuPerUpgrade(edge.process.pid!, target, 100);

  // Short blocks, one variant after another: the machine's speed drifts over seconds here, and
  // variants measured tens of milliseconds apart see the same drift, so their differences keep only the code's.
  const samples = started.map(() => [] as number[]);
  const progressEvery = Math.max(1, Math.round(cycles / TENTHS));
  let done = 0;
  for (let cycle = 0; cycle < cycles && Date.now() < deadline; cycle++, done++) {
    for (let k = 0; k < started.length; k++) {
      const i = (k + cycle) % started.length;
      samples[i].push(
        (await cpuPerUpgrade(started[i].edge.process.pid!, started[i].target, block)).micros,
      );
    }
    if ((cycle + 1) % progressEvery === 0) console.error(`cycle ${cycle + 1}/${cycles}`);
  }
  // Thrown, not failed at once: the cleanup stops the workerd processes on the way out.
  if (done < TENTHS)
    throw new Error(
      `--max-minutes ${maxMinutes} reached after ${done} cycle(s): at least ${TENTHS} are needed for a result`,
    );
  if (done < cycles)
    console.error(`--max-minutes ${maxMinutes} reached: ${done} of ${cycles} cycles measured`);
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
      name: `the operation ${operation.name}`,
      code: operationWorker(operation),
      bindings: { BRIDGE_URL: bridgeUrl, SECRET: BENCH_AUTH.secret },
      target: (port: number) => operationTarget(port, token),
    }));
    const started = await startVariants(variants);
    if (args.check)
      console.log(
        `fit check: the template and ${OPERATIONS.length} operations each upgrade and echo`,
      );
    else {
      const [reference, ...samples] = await cycleOver(
        started,
        `${OPERATIONS.length} operations and the template`,
      );
      console.log(
        operationsTable(
          OPERATIONS.map((operation) => operation.name),
          samples,
          reference,
        ),
      );
    }
  } else {
    const bindings = benchEdgeBindings(bridgeUrl);
    const bundles = await buildLadder(workDir);
    const variants: Variant[] = bundles.map((bundle, rung) => ({
      name: `rung ${rung} (${rung === 0 ? "the whole edge" : `without ${ABLATION_LADDER[rung - 1].removes}`})`,
      code: bundle.code,
      bindings,
      target: (port) => benchEdgeTarget(port, token),
    }));
    // The floor is sent the edge's very request.
    variants.push({
      name: "the floor Worker",
      code: FLOOR_WORKER,
      bindings: { BRIDGE_URL: bridgeUrl },
      target: (port) => benchEdgeTarget(port, token),
    });
    const started = await startVariants(variants);
    if (args.check)
      console.log(`fit check: ${bundles.length} rungs and the floor each build, upgrade and echo`);
    else
      console.log(
        ladderTable(
          ladderRows(
            ABLATION_LADDER,
            await cycleOver(started, `${bundles.length} rungs and the floor`),
            LADDER_SHELL,
          ),
        ),
      );
  }
} finally {
  await cleanup.run();
}

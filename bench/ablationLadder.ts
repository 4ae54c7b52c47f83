/**
 * The ladder `npm run bench:ablation` climbs down: the Worker's upgrade path taken apart one concern
 * at a time by swapping a module of `worker/src` for a stand-in at bundle time (`ablation/seams/`),
 * and the arithmetic that turns per-cycle CPU samples into a cost per step. The product's source
 * text is never edited; the swapped bundles exist only for that measurement.
 */
import { join } from "node:path";
import { buildWorkerBundle, type WorkerBundle } from "../worker/build";
import { PROJECT_ROOT } from "../infra/config/stackFiles";
import { median, spreadOf, type Spread } from "../test/support/stats";
import { moduleSwapPlugin, type ModuleSwaps } from "./ablation/moduleSwap";

export interface AblationStep {
  /** What this rung takes out of the upgrade path (and so what the saving measures). */
  removes: string;
  /** The part of the upgrade path it belongs to; a group's steps are consecutive rungs. */
  group: string;
  /** Modules of `worker/src` and their stand-ins, from this rung down (a later rung may swap a module again). */
  swaps: ModuleSwaps;
}

/** A group's steps, each as [module of worker/src, its stand-in in bench/ablation/seams/, what swapping it removes]. */
type GroupSteps = [module: string, standIn: string, removes: string][];

/** The ladder from its groups, in order: one rung per step, each swapping one module. */
function ladderOf(groups: Record<string, GroupSteps>): AblationStep[] {
  return Object.entries(groups).flatMap(([group, steps]) =>
    steps.map(([module, standIn, removes]) => ({
      removes,
      group,
      swaps: { [`worker/src/${module}.ts`]: `bench/ablation/seams/${standIn}.ts` },
    })),
  );
}

/**
 * The upgrade path taken apart from the end backwards; each rung keeps every earlier removal. The
 * last rung is the edge's routing shell around a bare pass-through; below it is the floor. Steps
 * with no module of their own (the log line's fields, each guard of the subrequest on its own, the
 * HMAC call apart from the token's decoding) are priced by `--operations` instead.
 */
export const ABLATION_LADDER: AblationStep[] = ladderOf({
  "the log line": [
    [
      "log",
      "log",
      "the log line (`console.log` of one JSON object; its fields are still gathered)",
    ],
  ],
  "the bridge subrequest as the edge makes it": [
    [
      "passThrough",
      "passThroughUnguarded",
      "the subrequest's guards (`AbortSignal.timeout`, `redirect: \"manual\"`), checking the bridge's answer and the edge's own `101`",
    ],
    [
      "passThrough",
      "passThroughClientHeaders",
      "the bridge request's allow-listed headers (the client's headers passed instead)",
    ],
  ],
  "the JWT check (HS256)": [
    [
      "auth/hmacJwt",
      "hmacJwt",
      "the HS256 verification: the HMAC (`crypto.subtle.verify`), the segments decoded, the claims checked",
    ],
    [
      "auth/verify",
      "verify",
      "the rest of the JWT check (the header decoded, `alg` allowed, the key looked up, `sub` checked)",
    ],
  ],
  "the client's credentials and Origin": [
    [
      "auth/transports",
      "transports",
      "reading the four token transports (subprotocols, Authorization, cookie, query)",
    ],
    ["auth/origin", "origin", "the Origin check"],
  ],
});

/** What the last rung against the floor measures: everything of the edge no rung takes out. */
export const LADDER_SHELL =
  "the edge's routing shell around a pass-through (URL, method and Upgrade checks, the bindings lookup, the token transports' settings, the log line's fields, try/catch, async layers): the last rung against the floor Worker";

/** The module swaps in force at `rung` (rung 0: none, the whole edge). */
export function swapsAt(rung: number, ladder: AblationStep[] = ABLATION_LADDER): ModuleSwaps {
  return Object.assign({}, ...ladder.slice(0, rung).map((step) => step.swaps));
}

/**
 * The Worker's bundle with the ladder's first `rung` steps taken out (rung 0: the whole edge). The
 * rung's own swaps must reach a module the bundle imports; earlier ones may have nothing left to
 * swap (once `verify.ts` is a stand-in, nothing imports `hmacJwt.ts`).
 */
export function buildRung(
  rung: number,
  outfile: string,
  ladder: AblationStep[] = ABLATION_LADDER,
): Promise<WorkerBundle> {
  const mustReach = rung === 0 ? [] : Object.keys(ladder[rung - 1].swaps);
  const plugin = moduleSwapPlugin(swapsAt(rung, ladder), {
    projectRoot: PROJECT_ROOT,
    root: join(PROJECT_ROOT, "worker", "src"),
    mustReach,
  });
  return buildWorkerBundle({ outfile, plugins: [plugin] });
}

/**
 * Every rung built into `workDir` (`rung-<n>.mjs`), each checked to differ from the rung before it:
 * throws naming the first rung whose swap is missing, no longer builds, or no longer changes the bundle.
 */
export async function buildLadder(
  workDir: string,
  ladder: AblationStep[] = ABLATION_LADDER,
): Promise<WorkerBundle[]> {
  const bundles: WorkerBundle[] = [];
  for (let rung = 0; rung <= ladder.length; rung++) {
    let bundle: WorkerBundle;
    try {
      bundle = await buildRung(rung, join(workDir, `rung-${rung}.mjs`), ladder);
    } catch (error) {
      throw new Error(
        `rung ${rung} (${rung === 0 ? "the whole edge" : ladder[rung - 1].removes}) does not build: ${(error as Error).message}`,
      );
    }
    if (rung > 0 && bundle.sha256 === bundles[rung - 1].sha256)
      throw new Error(
        `rung ${rung} (${ladder[rung - 1].removes}) builds the same bundle as the rung before it`,
      );
    bundles.push(bundle);
  }
  return bundles;
}

/** How many consecutive slices of a run the tables' ranges are taken over ("the run's tenths"). */
export const TENTHS = 10;

export interface LadderRow {
  removes: string;
  /** CPU saved, µs per upgrade: the median over cycles of (rung before − rung after), and the range of that median over the run's chunks. */
  saves: Spread;
  /** What is left over the floor after it, µs per upgrade. */
  left: number;
}

export interface LadderGroup extends LadderRow {
  /** The group's steps, each against the rung before it (none for a group of one step). */
  steps: LadderRow[];
}

/** The median of `values`, with the least and greatest median over `chunks` consecutive slices of them: how much it moves within the run. */
export function medianWithChunkRange(values: number[], chunks: number): Spread {
  const size = Math.ceil(values.length / chunks);
  const medians: number[] = [];
  for (let at = 0; at < values.length; at += size)
    medians.push(median(values.slice(at, at + size)));
  const range = spreadOf(medians);
  return { median: median(values), min: range.min, max: range.max };
}

/**
 * Savings from CPU samples taken cycle by cycle (one block on every rung per cycle): `rungs[0]` is
 * the whole edge, `rungs[i]` has `steps[0..i)` taken out, the last entry is the floor. Consecutive
 * steps of one group are also measured together (first rung before them against the rung after
 * them), which is steadier than adding their medians. The last rung against the floor is a group of
 * its own (`shell`), so the groups cover the whole edge's cost over the floor; being medians, they
 * add up to it only roughly (the table prints both).
 */
export function ladderRows(
  steps: Pick<AblationStep, "removes" | "group">[],
  rungs: number[][],
  shell: string,
  chunks = TENTHS,
): { total: Spread; groups: LadderGroup[] } {
  const floor = rungs.at(-1)!;
  const between = (from: number, to: number) =>
    medianWithChunkRange(
      rungs[from].map((micros, cycle) => micros - rungs[to][cycle]),
      chunks,
    );
  const left = (rung: number) => median(rungs[rung].map((micros, cycle) => micros - floor[cycle]));
  const groups: LadderGroup[] = [];
  for (let first = 0; first < steps.length;) {
    let end = first + 1;
    while (end < steps.length && steps[end].group === steps[first].group) end++;
    const members = steps.slice(first, end).map((step, k) => ({
      removes: step.removes,
      saves: between(first + k, first + k + 1),
      left: left(first + k + 1),
    }));
    if (members.length === 1) groups.push({ ...members[0], steps: [] });
    else
      groups.push({
        removes: steps[first].group,
        saves: between(first, end),
        left: left(end),
        steps: members,
      });
    first = end;
  }
  groups.push({
    removes: shell,
    saves: between(steps.length, rungs.length - 1),
    left: 0,
    steps: [],
  });
  return { total: between(0, rungs.length - 1), groups };
}

export const fmt = (micros: number) => micros.toFixed(0);

export function ladderTable(result: { total: Spread; groups: LadderGroup[] }): string {
  const cells = (row: LadderRow, name: string) =>
    `| ${name} | ${fmt(row.saves.median)} (${fmt(row.saves.min)}–${fmt(row.saves.max)}) | ${fmt(row.left)} |`;
  const lines = [
    "| taken out, top to bottom (each row keeps the removals above it) | saves, µs per upgrade (range over the run's tenths) | left over the floor, µs |",
    "|---|---|---|",
    `| — (the whole edge, HS256) | | ${fmt(result.total.median)} (${fmt(result.total.min)}–${fmt(result.total.max)}) |`,
    ...result.groups.flatMap((group) => [
      cells(group, `**${group.removes}**`),
      ...group.steps.map((step) => cells(step, `↳ ${step.removes}`)),
    ]),
  ];
  const groupSum = result.groups.reduce((sum, group) => sum + group.saves.median, 0);
  return `${lines.join("\n")}\n\nSum of the bold rows: ${fmt(groupSum)} µs per upgrade; the whole edge over the floor, measured directly: ${fmt(result.total.median)} µs.`;
}

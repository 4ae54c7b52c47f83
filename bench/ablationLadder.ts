/**
 * The ladder `npm run bench:ablation` climbs down: the Worker's upgrade path taken apart one step at
 * a time by rewriting its sources at bundle time, and the arithmetic that turns per-cycle CPU
 * samples into a cost per step. The rewritten bundles exist only for that measurement.
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { Plugin } from "esbuild";
import { buildWorkerBundle, type WorkerBundle } from "../worker/build";
import { PROJECT_ROOT } from "../infra/config/stackFiles";
import { median, spreadOf, type Spread } from "../test/support/stats";

export interface SourceEdit {
  /** Path under the repository root, e.g. `worker/src/index.ts`. */
  file: string;
  find: string;
  replace: string;
}

export interface AblationStep {
  /** What this rung takes out of the upgrade path (and so what the saving measures). */
  removes: string;
  /** The part of the upgrade path it belongs to; a group's steps are consecutive rungs. */
  group: string;
  edits: SourceEdit[];
}

/**
 * The upgrade path taken apart from the end backwards; each rung keeps every earlier removal. The
 * last rung is the edge's routing shell around a bare pass-through; below it is the floor.
 */
export const ABLATION_LADDER: AblationStep[] = [
  {
    removes: "the log line (`console.log` of one JSON object)",
    group: "the log line",
    edits: [{ file: "worker/src/index.ts", find: 'logEvent("upgrade", { outcome: response.status === 101 ? "connected" : "refused", status: response.status, ...fields });', replace: "void fields;" }],
  },
  {
    removes: "the log line's fields (`request.cf` colo, time to 101, transport, protocol)",
    group: "the log line",
    edits: [
      { file: "worker/src/index.ts", find: "const fields: Record<string, unknown> = { colo: (request.cf?.colo as string | undefined) ?? null };", replace: "const fields: Record<string, unknown> = {};" },
      { file: "worker/src/index.ts", find: "const started = Date.now();", replace: "" },
      {
        file: "worker/src/index.ts",
        find: "fields: { transport: credentials.transport ?? null, protocol: session.protocol, msTo101: Date.now() - started },",
        replace: "fields: {},",
      },
    ],
  },
  {
    removes: "the bridge timeout (`AbortSignal.timeout`)",
    group: "the bridge subrequest's guards",
    edits: [
      { file: "worker/src/passThrough.ts", find: "const signal = AbortSignal.timeout(bindings.EDGE_CONFIG.bridgeConnectTimeoutMs);", replace: "const signal = { aborted: false };" },
      { file: "worker/src/passThrough.ts", find: 'upstream = await fetch(target, { headers, signal, redirect: "manual" });', replace: 'upstream = await fetch(target, { headers, redirect: "manual" });' },
    ],
  },
  {
    removes: 'refusing redirects (`redirect: "manual"`)',
    group: "the bridge subrequest's guards",
    edits: [{ file: "worker/src/passThrough.ts", find: 'upstream = await fetch(target, { headers, redirect: "manual" });', replace: "upstream = await fetch(target, { headers });" }],
  },
  {
    removes: "the edge's own `101` (selected subprotocol only) instead of the bridge's response",
    group: "the edge's own 101",
    edits: [
      {
        file: "worker/src/passThrough.ts",
        find: 'return { response: new Response(null, { status: 101, webSocket: bridgeSocket, headers: headers101 }), protocol };',
        replace: "return { response: upstream, protocol };",
      },
      {
        file: "worker/src/passThrough.ts",
        find: 'const headers101: Record<string, string> = protocol === null ? {} : { "Sec-WebSocket-Protocol": protocol };',
        replace: "",
      },
      { file: "worker/src/passThrough.ts", find: 'const protocol = selectProtocol(credentials.applicationProtocols, upstream.headers.get("Sec-WebSocket-Protocol"));', replace: "const protocol = null;" },
    ],
  },
  {
    removes: "checking the bridge's answer (status 101 and a socket)",
    group: "the edge's own 101",
    edits: [
      { file: "worker/src/passThrough.ts", find: "const bridgeSocket = upstream.webSocket;", replace: "" },
      { file: "worker/src/passThrough.ts", find: "if (upstream.status !== 101 || !bridgeSocket) {", replace: "if (upstream === undefined) {" },
    ],
  },
  {
    removes: "the HMAC itself (`crypto.subtle.verify` with the cached key)",
    group: "the JWT check (HS256)",
    // The await stays: only the runtime's call goes.
    edits: [{ file: "worker/src/auth/hmacJwt.ts", find: 'if (await crypto.subtle.verify("HMAC", key, signature, signed)) {', replace: "if (await (key && signature && signed)) {" }],
  },
  {
    removes: "the signature's base64url decoding and the signed part's bytes",
    group: "the JWT check (HS256)",
    edits: [
      { file: "worker/src/auth/hmacJwt.ts", find: "const signature = asciiBytes(decodeSegment(token.slice(second + 1)));", replace: "" },
      { file: "worker/src/auth/hmacJwt.ts", find: "const signed = ascii.encode(token.slice(0, second));", replace: "" },
      { file: "worker/src/auth/hmacJwt.ts", find: "if (await (key && signature && signed)) {", replace: "if (await key) {" },
    ],
  },
  {
    removes: "the payload decoded and its claims checked (`exp`, `nbf`, `iat`, `iss`, `aud`)",
    group: "the JWT check (HS256)",
    edits: [
      { file: "worker/src/auth/hmacJwt.ts", find: "const payload = parseObject(token.slice(first + 1, second));", replace: 'const payload = { sub: "bench" };' },
      { file: "worker/src/auth/hmacJwt.ts", find: "checkClaims(payload, rules, now);", replace: "" },
    ],
  },
  {
    removes: "the rest of the JWT check (the header decoded, `alg` allowed, the key looked up, `sub` checked, the async layers)",
    group: "the JWT check (HS256)",
    edits: [{ file: "worker/src/index.ts", find: 'if (auth.mode === "off") return null;', replace: 'return "bench";' }],
  },
  {
    removes: "the bridge request's allow-listed headers (the client's headers passed instead)",
    group: "the bridge request built from an allow-list",
    edits: [{ file: "worker/src/passThrough.ts", find: "const headers = bridgeRequestHeaders(clientHeaders, credentials, subject, bindings);", replace: "const headers = clientHeaders;" }],
  },
  {
    removes: "reading the four token transports (subprotocols, Authorization, cookie, query)",
    group: "the client's credentials and Origin",
    edits: [
      {
        file: "worker/src/index.ts",
        find: "const credentials = readClientCredentials(request.headers, url, transportsOf(bindings));",
        replace: 'const credentials = { applicationProtocols: [], bearerProtocolOffered: false, forwardedSearch: url.search, transport: "subprotocol" } as unknown as ClientCredentials;',
      },
    ],
  },
  {
    removes: "the Origin check",
    group: "the client's credentials and Origin",
    edits: [{ file: "worker/src/index.ts", find: 'checkOrigin(request.headers.get("Origin"), bindings);', replace: "" }],
  },
];

/** An esbuild plugin that applies `edits` to the Worker's sources; an edit whose text is not there exactly once is an error. */
export function sourceEditPlugin(edits: SourceEdit[]): Plugin {
  return {
    name: "bench-source-edits",
    setup(build) {
      build.onLoad({ filter: /[/\\]worker[/\\]src[/\\].*\.ts$/ }, (args) => {
        const file = relative(PROJECT_ROOT, args.path).split("\\").join("/");
        let contents = readFileSync(args.path, "utf8");
        for (const edit of edits.filter((e) => e.file === file)) contents = applyEdit(contents, edit);
        return { contents, loader: "ts" };
      });
    },
  };
}

/** The Worker's bundle with the ladder's first `rung` steps taken out (rung 0: the whole edge). */
export function buildRung(rung: number, outfile: string): Promise<WorkerBundle> {
  return buildWorkerBundle({ outfile, plugins: [sourceEditPlugin(ABLATION_LADDER.slice(0, rung).flatMap((step) => step.edits))] });
}

/** How many consecutive slices of a run the tables' ranges are taken over ("the run's tenths"). */
export const TENTHS = 10;

export function applyEdit(source: string, edit: SourceEdit): string {
  const at = source.indexOf(edit.find);
  if (at < 0 || source.indexOf(edit.find, at + 1) >= 0) {
    throw new Error(`bench:ablation: ${edit.file} must contain exactly once: ${edit.find}`);
  }
  return source.slice(0, at) + edit.replace + source.slice(at + edit.find.length);
}

/** Every edit of the ladder applied in order to the real sources (throws naming the first that no longer fits). */
export function checkLadder(ladder: AblationStep[] = ABLATION_LADDER): void {
  const sources = new Map<string, string>();
  for (const step of ladder) {
    for (const edit of step.edits) {
      const source = sources.get(edit.file) ?? readFileSync(join(PROJECT_ROOT, edit.file), "utf8");
      sources.set(edit.file, applyEdit(source, edit));
    }
  }
}

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
  for (let at = 0; at < values.length; at += size) medians.push(median(values.slice(at, at + size)));
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
export function ladderRows(steps: Pick<AblationStep, "removes" | "group">[], rungs: number[][], shell: string, chunks = TENTHS): { total: Spread; groups: LadderGroup[] } {
  const floor = rungs.at(-1)!;
  const between = (from: number, to: number) => medianWithChunkRange(rungs[from].map((micros, cycle) => micros - rungs[to][cycle]), chunks);
  const left = (rung: number) => median(rungs[rung].map((micros, cycle) => micros - floor[cycle]));
  const groups: LadderGroup[] = [];
  for (let first = 0; first < steps.length; ) {
    let end = first + 1;
    while (end < steps.length && steps[end].group === steps[first].group) end++;
    const members = steps.slice(first, end).map((step, k) => ({ removes: step.removes, saves: between(first + k, first + k + 1), left: left(first + k + 1) }));
    if (members.length === 1) groups.push({ ...members[0], steps: [] });
    else groups.push({ removes: steps[first].group, saves: between(first, end), left: left(end), steps: members });
    first = end;
  }
  groups.push({ removes: shell, saves: between(steps.length, rungs.length - 1), left: 0, steps: [] });
  return { total: between(0, rungs.length - 1), groups };
}

export const fmt = (micros: number) => micros.toFixed(0);

export function ladderTable(result: { total: Spread; groups: LadderGroup[] }): string {
  const cells = (row: LadderRow, name: string) => `| ${name} | ${fmt(row.saves.median)} (${fmt(row.saves.min)}–${fmt(row.saves.max)}) | ${fmt(row.left)} |`;
  const lines = [
    "| taken out, top to bottom (each row keeps the removals above it) | saves, µs per upgrade (range over the run's tenths) | left over the floor, µs |",
    "|---|---|---|",
    `| — (the whole edge, HS256) | | ${fmt(result.total.median)} (${fmt(result.total.min)}–${fmt(result.total.max)}) |`,
    ...result.groups.flatMap((group) => [cells(group, `**${group.removes}**`), ...group.steps.map((step) => cells(step, `↳ ${step.removes}`))]),
  ];
  const groupSum = result.groups.reduce((sum, group) => sum + group.saves.median, 0);
  return `${lines.join("\n")}\n\nSum of the bold rows: ${fmt(groupSum)} µs per upgrade; the whole edge over the floor, measured directly: ${fmt(result.total.median)} µs.`;
}

/**
 * The runtime's price list for what the edge calls per upgrade (`npm run bench:ablation --
 * --operations`): the floor Worker plus one operation, each in its own workerd, against the same
 * Worker with nothing added. Isolates what the ablation ladder measures inside the whole edge.
 */
import { WS_PATH } from "../worker/src/routes";
import { fmt, medianWithChunkRange, TENTHS } from "./ablationLadder";
import type { Target } from "./measure";

export interface Operation {
  name: string;
  /** Statements run per request before the subrequest; `token`, `key`, `signature` and `signed` are in scope. */
  run?: string;
  /** Extra `fetch` options for the subrequest, as source text (e.g. `redirect: "manual"`). */
  fetchOptions?: string;
  /** An expression wrapping the subrequest's `response` into what the Worker returns. */
  respond?: string;
}

/** The reference every operation is measured against: the template with nothing added. */
export const NO_OPERATION: Operation = {
  name: "nothing added (the template: the token read, the key and bytes prepared once per isolate)",
};

/** The shape of the edge's upgrade log line. */
const LOG_LINE =
  '{ event: "upgrade", outcome: "connected", status: 101, colo: null, transport: "subprotocol", protocol: "voice.v1", msTo101: 1 }';

export const OPERATIONS: Operation[] = [
  {
    name: "`crypto.subtle.verify` (HMAC-SHA-256 of an HS256 token, key and bytes prepared once)",
    run: 'if (!(await crypto.subtle.verify("HMAC", key, signature, signed))) throw new Error("signature");',
  },
  { name: "`request.cf?.colo`", run: "sink = request.cf?.colo ?? null;" },
  {
    name: "`console.log` of a 130-byte JSON line",
    run: `console.log(JSON.stringify(${LOG_LINE}));`,
  },
  {
    name: "`JSON.stringify` of the same line, not logged",
    run: `sink = JSON.stringify(${LOG_LINE});`,
  },
  {
    name: "`AbortSignal.timeout(10_000)` on the subrequest",
    fetchOptions: "signal: AbortSignal.timeout(10_000)",
  },
  { name: '`redirect: "manual"` on the subrequest', fetchOptions: 'redirect: "manual"' },
  {
    name: "a new `101` `Response` around the bridge's socket, with the subprotocol header",
    respond:
      'new Response(null, { status: 101, webSocket: response.webSocket, headers: { "Sec-WebSocket-Protocol": "voice.v1" } })',
  },
  {
    name: "8 `headers.get` calls",
    run: 'for (const name of ["Origin", "Upgrade", "Authorization", "Sec-WebSocket-Protocol", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "CF-Connecting-IP"]) sink = request.headers.get(name);',
  },
  { name: "`Date.now()` twice", run: "sink = Date.now() - Date.now();" },
  {
    name: "`TextEncoder.encode` of the token's signed part",
    run: "sink = encoder.encode(token.slice(0, token.lastIndexOf('.')));",
  },
];

/** The request header the template reads the HS256 token from. */
export const OPERATION_TOKEN_HEADER = "X-Bench-Token";

/** An upgrade to a template Worker on `port`, carrying the token. */
export function operationTarget(port: number | string, token: string): Target {
  return {
    url: `ws://127.0.0.1:${port}${WS_PATH}?bench=1`,
    protocols: ["voice.v1"],
    headers: { [OPERATION_TOKEN_HEADER]: token },
  };
}

/** The template Worker with `operation` added: reads the HS256 token from OPERATION_TOKEN_HEADER, the secret from `env.SECRET`. */
export function operationWorker(operation: Operation): string {
  return `let key, signature, signed, sink;
const encoder = new TextEncoder();
export default {
  async fetch(request, env) {
    const token = request.headers.get("${OPERATION_TOKEN_HEADER}");
    // Prepared from the first request that carries a token (workerd's readiness probe carries none).
    if (key === undefined && token !== null) {
      const dot = token.lastIndexOf(".");
      signed = encoder.encode(token.slice(0, dot));
      signature = Uint8Array.from(atob(token.slice(dot + 1).replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
      key = await crypto.subtle.importKey("raw", encoder.encode(env.SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    }
    ${operation.run ?? ""}
    const response = await fetch(env.BRIDGE_URL + new URL(request.url).search, { headers: request.headers${operation.fetchOptions ? `, ${operation.fetchOptions}` : ""} });
    return ${operation.respond ?? "response"};
  },
};
`;
}

/** Each operation's cost: the median over cycles of (its Worker − the template), with the range over the run's chunks. */
export function operationsTable(
  names: string[],
  samples: number[][],
  reference: number[],
  chunks = TENTHS,
): string {
  const rows = names.map((name, i) => {
    const cost = medianWithChunkRange(
      samples[i].map((micros, cycle) => micros - reference[cycle]),
      chunks,
    );
    return `| ${name} | ${fmt(cost.median)} (${fmt(cost.min)}–${fmt(cost.max)}) |`;
  });
  return [
    "| operation added to the template Worker | µs of workerd CPU per upgrade (range over the run's tenths) |",
    "|---|---|",
    ...rows,
  ].join("\n");
}

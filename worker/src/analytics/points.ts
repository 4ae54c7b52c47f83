/**
 * The edge's Analytics Engine points: built from what the log line already says (an allow-list,
 * value by value: never a token, a query value, a header value or a subject in clear), laid out as
 * schema.ts orders them, within Analytics Engine's limits; written only when the stack binds a
 * dataset, and a write that throws never touches the answer.
 */
import { LINE_PATH, VOICE_PATHS } from "../routes";
import {
  MAX_BLOB_BYTES_TOTAL,
  MAX_BLOBS,
  MAX_DOUBLES,
  MAX_INDEX_BYTES,
  POINT_BLOBS,
  POINT_DOUBLES,
  POINT_OUTCOMES,
  type PointBlob,
  type PointDouble,
  type PointEvent,
} from "./schema";

/** The edge's and the line script's binding to the stack's dataset (`voice-edge:analytics.dataset`). */
export const POINTS_BINDING = "VOICE_POINTS";
/** The per-stack key of the `visitor` hash (a secret: `voice-edge:analyticsVisitorKey`). */
export const VISITOR_KEY_BINDING = "VOICE_POINTS_VISITOR_KEY";

/** Hex digits of the HMAC kept as the `visitor` blob: 64 bits, enough to tell visitors apart, too few to be a handle on anyone. */
export const VISITOR_HEX_DIGITS = 16;

/** What one `writeDataPoint` takes (Analytics Engine's binding). */
export interface DataPoint {
  indexes: [string];
  blobs: string[];
  doubles: number[];
}

export interface PointsDataset {
  writeDataPoint(point: DataPoint): void;
}

/** What a point is built from: the log line's fields (any of them may be absent or of another type). */
export type PointFields = Readonly<Record<string, unknown>>;

const OUTCOMES = new Set<string>(POINT_OUTCOMES);
const TRANSPORTS = new Set(["authorization", "subprotocol", "cookie", "query"]);
const PATHS = new Set([...VOICE_PATHS, LINE_PATH]);
const LINE_USES = new Set(["coordinator", "ticket", "fallback"]);
const PARAMETERS = new Set(["text_prompt", "voice_prompt", "seed"]);
/** Names the edge makes (error codes, bridge names, a colo, a termination state): short words of a known alphabet. */
const WORD = /^[A-Za-z0-9_.:-]{1,64}$/;
const VISITOR = new RegExp(`^[0-9a-f]{${VISITOR_HEX_DIGITS}}$`);

const oneOf = (allowed: ReadonlySet<string>, value: unknown): string =>
  typeof value === "string" && allowed.has(value) ? value : "";
const word = (value: unknown): string =>
  typeof value === "string" && WORD.test(value) ? value : "";

/** A finite, non-negative number, or 0; an array counts its entries (the log's `tries`). */
function amount(value: unknown): number {
  if (Array.isArray(value)) return value.length;
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** The error code the page read: a close reason's `error` after the 101, else the refusal's own. */
function pageErrorOf(fields: PointFields): unknown {
  const closeReason = fields.closeReason;
  return typeof closeReason === "object" && closeReason !== null && "error" in closeReason
    ? closeReason.error
    : fields.error;
}

/** 1 when the close reason offered a place in line (`1013` with `line: true`), else 0. */
function lineOfferedOf(fields: PointFields): number {
  const closeReason = fields.closeReason;
  return typeof closeReason === "object" && closeReason !== null && "line" in closeReason
    ? closeReason.line === true
      ? 1
      : 0
    : 0;
}

/** Each blob's value from the fields, by the allow-list of its position. */
const BLOB_VALUES: Record<PointBlob, (fields: PointFields, event: PointEvent) => string> = {
  event: (_fields, event) => event,
  outcome: (fields) => oneOf(OUTCOMES, fields.outcome),
  // The code the page saw (`bridge_unavailable`, not the log's finer `bridge_timeout`): what stats groups by.
  reason: (fields) => (fields.outcome === "connected" ? "" : word(pageErrorOf(fields))),
  bridge: (fields) => word(fields.bridge),
  colo: (fields) => word(fields.colo),
  transport: (fields) => oneOf(TRANSPORTS, fields.transport),
  path: (fields) => oneOf(PATHS, fields.path),
  line: (fields) => oneOf(LINE_USES, fields.line),
  parameter: (fields) => oneOf(PARAMETERS, fields.parameter),
  visitor: (fields) =>
    typeof fields.visitor === "string" && VISITOR.test(fields.visitor) ? fields.visitor : "",
  termination: (fields) => word(fields.termination),
};

const textBytes = new TextEncoder();

/** Keeps the blobs within the total Analytics Engine takes, cutting from the last; never splits a character. */
function withinBlobTotal(blobs: string[]): string[] {
  let budget = MAX_BLOB_BYTES_TOTAL;
  return blobs.map((blob) => {
    const bytes = textBytes.encode(blob).length;
    if (bytes <= budget) {
      budget -= bytes;
      return blob;
    }
    let cut = "";
    for (const char of blob) {
      const size = textBytes.encode(char).length;
      if (size > budget) break;
      budget -= size;
      cut += char;
    }
    budget = 0;
    return cut;
  });
}

/**
 * One point: the event as its index (Analytics Engine samples per index), then the blobs and the
 * doubles in schema.ts's order, each from the allow-list of its position ("" or 0 otherwise).
 */
export function buildPoint(event: PointEvent, fields: PointFields): DataPoint {
  const blobs = withinBlobTotal(
    POINT_BLOBS.slice(0, MAX_BLOBS).map((name) => BLOB_VALUES[name](fields, event)),
  );
  const doubles = POINT_DOUBLES.slice(0, MAX_DOUBLES).map((name: PointDouble) =>
    name === "lineOffered" ? lineOfferedOf(fields) : amount(fields[name]),
  );
  const index = textBytes.encode(event).length <= MAX_INDEX_BYTES ? event : "";
  return { indexes: [index], blobs, doubles };
}

/** The dataset bound to this Worker, when the stack set one. */
export function pointsOf(env: object): PointsDataset | undefined {
  const binding = (env as Record<string, unknown>)[POINTS_BINDING];
  return binding !== null &&
    typeof binding === "object" &&
    typeof (binding as PointsDataset).writeDataPoint === "function"
    ? (binding as PointsDataset)
    : undefined;
}

/** Writes `point`; a dataset that throws costs the point, never the request. */
export function writePoint(dataset: PointsDataset, point: DataPoint): boolean {
  try {
    dataset.writeDataPoint(point);
    return true;
  } catch {
    return false;
  }
}

const visitorKeys = new Map<string, Promise<CryptoKey>>();

/**
 * The `visitor` blob: HMAC-SHA-256 of the token's subject under the stack's key, its first
 * VISITOR_HEX_DIGITS hex digits. It lets the operator count distinct visitors turned away, and
 * repeat refusals of one visitor, without the dataset holding who they are: without the key the
 * hash cannot be recomputed from a guessed subject.
 */
export async function visitorHash(key: string, subject: string): Promise<string> {
  let cryptoKey = visitorKeys.get(key);
  if (!cryptoKey) {
    cryptoKey = crypto.subtle.importKey(
      "raw",
      textBytes.encode(key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    visitorKeys.set(key, cryptoKey);
  }
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", await cryptoKey, textBytes.encode(subject)),
  );
  let hex = "";
  for (const byte of mac.subarray(0, VISITOR_HEX_DIGITS / 2))
    hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** The visitor key bound to this Worker, when the stack set one. */
export function visitorKeyOf(env: object): string | undefined {
  const key = (env as Record<string, unknown>)[VISITOR_KEY_BINDING];
  return typeof key === "string" && key.length > 0 ? key : undefined;
}

/**
 * The point of one request, written beside its log line: at once without a visitor hash; with
 * one (a key and a subject), after the hash, through `waitUntil`, so the 101 never waits for it.
 */
export function recordPoint(
  env: object,
  event: PointEvent,
  fields: PointFields,
  subject: string | null | undefined,
  waitUntil: (promise: Promise<unknown>) => void,
): void {
  const dataset = pointsOf(env);
  if (!dataset) return;
  const key = visitorKeyOf(env);
  if (key === undefined || typeof subject !== "string") {
    writePoint(dataset, buildPoint(event, fields));
    return;
  }
  waitUntil(
    visitorHash(key, subject).then(
      (visitor) => writePoint(dataset, buildPoint(event, { ...fields, visitor })),
      () => writePoint(dataset, buildPoint(event, fields)),
    ),
  );
}

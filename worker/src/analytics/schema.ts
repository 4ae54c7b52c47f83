/**
 * The layout of the edge's Analytics Engine points: one place for the Worker that writes them, the
 * bridge watch, `npm run stats` that queries them, and docs/operators-numbers.md. Analytics Engine
 * keeps blobs and doubles by position (`blob1`…`blob20`, `double1`…`double20`, one index), so the
 * order here is the dataset's schema: append, never reorder or reuse a position.
 */

import type { ErrorCode } from "../errors";
import type { SessionRefusalReason } from "../guardAnswers";

/** What a point records; also its index (Analytics Engine samples per index value). */
export const POINT_EVENTS = [
  /** One `/voice/ws` or `/voice/api/chat` request: connected or refused, and why. */
  "upgrade",
  /** A page took a place in the waiting line (or was refused one). */
  "line_join",
  /** A waiting page was given its turn (`waitMs`: how long it waited). */
  "line_turn",
  /** A page left the line without a turn (`waitMs`: how long it had waited). */
  "line_leave",
  /** The bridge watch's minute of one bridge: `busyMinutes` 1 when a session held it, else 0. */
  "bridge_minute",
  /** A session the guard saw end: its length, bytes each way, and how it ended. */
  "session_end",
] as const;
export type PointEvent = (typeof POINT_EVENTS)[number];

/** The blobs, by position (blob1 first). Never a token, a query value or a subject in clear. */
export const POINT_BLOBS = [
  "event",
  /** connected | refused (upgrade, line_join); for the others, what the event was (e.g. turn, left). */
  "outcome",
  /** The edge's error code for a refusal (bridge_busy, session_options_invalid, token_expired, …); "" when connected. */
  "reason",
  /** The bridge's name from the stack (`bridges[].name`); "" when none served. */
  "bridge",
  /** Cloudflare's data center (`request.cf.colo`); "" locally. */
  "colo",
  /** How the token came: subprotocol | header | cookie | query | ""; never the token. */
  "transport",
  /** The path the page used: /voice/ws | /voice/api/chat | /voice/line. */
  "path",
  /** With the waiting line: coordinator | ticket | fallback; "" without it. */
  "line",
  /** For session_options_invalid: the parameter's name (never its value). */
  "parameter",
  /**
   * A keyed hash of the token's subject (HMAC-SHA-256, first 16 hex digits, keyed per stack): counts
   * distinct visitors turned away and repeat refusals of one visitor without storing who they are.
   */
  "visitor",
  /** session_end: the guard's termination state (e.g. "--", "CD", "sD"). */
  "termination",
] as const;
export type PointBlob = (typeof POINT_BLOBS)[number];

/** The doubles, by position (double1 first); 0 where a field does not apply. */
export const POINT_DOUBLES = [
  /** The close code the page got after the 101 (1013, 1014, 4400, 4409, 4410); 0 when none. */
  "closeCode",
  /** The HTTP status of the answer (101, 401, 403, …). */
  "status",
  /** Milliseconds from the request to the edge's answer (the 101 or the refusal). */
  "msTo101",
  /** Bridges tried for this upgrade. */
  "tries",
  /** Milliseconds spent asking the line's coordinator. */
  "lineMs",
  /** line_turn / line_leave: milliseconds the visitor waited in line. */
  "waitMs",
  /** line_join: the position given. */
  "position",
  /** session_end: the session's length in milliseconds. */
  "sessionMs",
  /** session_end: bytes from the page to the bridge. */
  "bytesUp",
  /** session_end: bytes from the bridge to the page. */
  "bytesDown",
  /** bridge_minute: 1 when the bridge was busy at the watch's look, else 0. */
  "busyMinutes",
  /** upgrade: 1 when a busy refusal offered a place in line (close 1013 with `line: true`), else 0. */
  "lineOffered",
] as const;
export type PointDouble = (typeof POINT_DOUBLES)[number];

/**
 * A point's `outcome`, by event: an upgrade or a place in line `connected` or `refused`; a turn
 * given (`turn`) or a place left (`left`); a bridge's minute `up`, `down` or `maintenance` (its
 * server down while its operator drains it); a session the guard saw end, `ended` (the
 * termination blob says how).
 */
export const POINT_OUTCOMES = [
  "connected",
  "refused",
  "turn",
  "left",
  "up",
  "down",
  "maintenance",
  "ended",
] as const;
export type PointOutcome = (typeof POINT_OUTCOMES)[number];

/** Every `reason` the edge writes: the page-visible error codes of errors.ts and the guard's answers. */
type ReasonCode = ErrorCode | SessionRefusalReason["error"];

/**
 * Refusals that are the service's doing, not the visitor's: no free bridge, no bridge reachable
 * (the point's reason is the code the page read), the token keys or the edge itself
 * failing. A bad token, bad options or a visitor over its own session bound is the visitor's, and
 * counts neither way.
 */
export const TURNED_AWAY_REASONS = [
  "bridge_busy",
  "bridge_unavailable",
  "auth_unavailable",
  "misconfigured",
  "internal_error",
] as const satisfies readonly ReasonCode[];
export type TurnedAwayReason = (typeof TURNED_AWAY_REASONS)[number];

/** What decides whether a point (or a row of summed points) is a visitor turned away. */
export interface TurnedAwayFields {
  event: string;
  outcome: string;
  reason: string;
  /** The `lineOffered` double: a busy refusal that offered a place sent the visitor to the line. */
  lineOffered: number;
}

/**
 * A visitor turned away: an upgrade refused for the service's doing and not sent to the line, or a
 * place in line refused (a full line, an unreachable coordinator). A busy refusal that offered a
 * place is neither: the visitor's `line_join` says what became of them. One rule for `npm run
 * stats` and the alert.
 */
export function isTurnedAway(point: TurnedAwayFields): boolean {
  if (point.outcome !== "refused") return false;
  if (!(TURNED_AWAY_REASONS as readonly string[]).includes(point.reason)) return false;
  if (point.event === "line_join") return true;
  return point.event === "upgrade" && point.lineOffered !== 1;
}

/** Analytics Engine's limits per point (docs: 20 blobs, 20 doubles, one index of at most 96 bytes). */
export const MAX_BLOBS = 20;
export const MAX_DOUBLES = 20;
export const MAX_INDEX_BYTES = 96;
/** The blobs of one point together: at most 16 KiB (Analytics Engine's limit). */
export const MAX_BLOB_BYTES_TOTAL = 16 * 1024;

/** The SQL column of a named blob or double, e.g. `reason` → `blob3`, `msTo101` → `double3`. */
export function columnOf(name: PointBlob | PointDouble): string {
  const blob = (POINT_BLOBS as readonly string[]).indexOf(name);
  if (blob !== -1) return `blob${blob + 1}`;
  const double = (POINT_DOUBLES as readonly string[]).indexOf(name);
  if (double !== -1) return `double${double + 1}`;
  throw new Error(`no point field "${name}"`);
}

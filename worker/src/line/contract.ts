// The waiting line's contract (issue 25): the names and shapes the coordinator (its own Worker
// script), the edge Worker, the Pulumi program and the page share. One place for each: import it.
import * as z from "zod/mini";

/** The line's own Worker script is `<workerName>-line`: the edge Worker never carries migrations. */
export const LINE_SCRIPT_SUFFIX = "-line";
export const lineScriptName = (workerName: string): string => `${workerName}${LINE_SCRIPT_SUFFIX}`;

/** The SQLite-backed Durable Object class in the line script: one object per fleet. */
export const LINE_CLASS_NAME = "FleetLine";
/** The one object of the fleet (`idFromName`). */
export const LINE_OBJECT_NAME = "fleet";

/** The migrations the line script has ever had, oldest first; the last one's tag is the current one. */
export const LINE_MIGRATIONS: readonly { tag: string; newSqliteClasses?: string[] }[] = [
  { tag: "v1", newSqliteClasses: [LINE_CLASS_NAME] },
];

/** Binding names: the edge Worker's (to the coordinator) and the line script's own. */
export const LINE_BINDINGS = {
  /** On the edge Worker: `durable_object_namespace` → LINE_CLASS_NAME in the line script. */
  coordinator: "LINE",
  /** On the line script: json, `lineSettingsSchema`. */
  settings: "LINE_CONFIG",
} as const;

/** The page's side: where it waits, and how it presents its turn's ticket on the voice socket. */
export const LINE_PATH = "/voice/line";
/** Subprotocol entry `ticket.<ticket>` beside `voice.v1`, or the query parameter `ticket`. */
export const TICKET_PROTOCOL_PREFIX = "ticket.";
export const TICKET_QUERY_PARAMETER = "ticket";

/** `voice-edge:line` (the stack) and the coordinator's `LINE_CONFIG` (less `enabled`). */
export const lineSettingsSchema = z.strictObject({
  /** Seconds a turn's bridge is held for its ticket; unused, the turn passes on. */
  holdSeconds: z._default(z.int().check(z.minimum(5), z.maximum(120)), 15),
  /** Visitors in line at most; one more is told busy without a place (1013, `line: false`). */
  maxWaiting: z._default(z.int().check(z.minimum(1), z.maximum(10_000)), 1_000),
  /** Sessions + reserved turns + places in line one subject may hold at once. */
  maxSessionsPerSubject: z._default(z.int().check(z.minimum(1), z.maximum(20)), 1),
  /** Seconds a line socket that closed keeps its place for the same subject to reconnect. */
  rejoinGraceSeconds: z._default(z.int().check(z.minimum(0), z.maximum(300)), 30),
  /** A session's length at most, enforced by the guard; told to the page in its turn. */
  maxSessionMinutes: z.optional(z.int().check(z.minimum(1), z.maximum(24 * 60))),
});
export type LineSettings = z.infer<typeof lineSettingsSchema>;

/** What the line socket sends the page, as JSON text frames. */
export type LineMessage =
  | { type: "position"; position: number; etaS: number | null }
  | { type: "turn"; ticket: string; expiresInS: number; maxSessionMinutes?: number };

/** After authentication: a subject over its bound, on the voice socket or the line. */
export const SESSION_LIMIT_CLOSE_CODE = 4409;
export type SessionLimitReason = { error: "session_limit"; limit: number };

/** After authentication: a turn's ticket the coordinator does not honour, on the voice socket. */
export const TICKET_REFUSED_CLOSE_CODE = 4410;
/**
 * A page closing its line socket with this code leaves the line for good: its place, and a turn it
 * was given, go at once. Any other end (a drop, 1001 from a tab going away) keeps the place for
 * `rejoinGraceSeconds`.
 */
export const LEFT_FOR_GOOD_CLOSE_CODE = 1000;
export type TicketRefusalReason = {
  error: "ticket_refused";
  ticket: "unknown" | "used" | "expired" | "other_subject";
};

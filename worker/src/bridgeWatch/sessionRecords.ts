/**
 * The guard's session records: what `GET /sessions` on a guard answers (HAProxy's Lua writes it,
 * infra/guard/sessionRecords.ts) and what the bridge watch reads. A record is one upgraded session
 * that ended: its length, its bytes each way and HAProxy's termination state, never its query or a
 * header.
 */

/** The guard's path for its records, beside `/health` (answered to the same requests). */
export const SESSIONS_PATH = "/sessions";

/** Records a guard keeps: the last this many ended sessions; older ones are lost to a watch that has not collected them. */
export const SESSION_RECORDS_KEPT = 1000;

/** Records in one answer at most (the oldest after the cursor first). */
export const SESSION_RECORDS_PER_ANSWER = 100;

export interface SessionRecord {
  /** 1 for the first session after HAProxy started, then +1 per ended session. */
  seq: number;
  /** HAProxy's `%Tt`: from the accepted connection to its close, in ms. */
  durationMs: number;
  /** HAProxy's `%U`: bytes from the client (request head and frames). */
  bytesUp: number;
  /** HAProxy's `%B`: bytes to the client (101 head and frames). */
  bytesDown: number;
  /** HAProxy's `%ts`, e.g. `--`, `CD`, `SD`, `K-`. */
  termination: string;
  /** When the guard recorded it (ms since the epoch, the VM's clock). */
  endedAtMs: number;
}

export interface SessionRecordsAnswer {
  /** Names the HAProxy process: a new one (a restart) numbers its sessions from 1 again. */
  boot: string;
  /** The sequence of the last ended session (0 before the first). */
  last: number;
  /** The oldest sequence still kept (`last + 1` when none is). */
  first: number;
  records: SessionRecord[];
}

const TERMINATION = /^[A-Za-z-]{2}$/;
const count = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

/** Where the watch asks a guard for its records after `cursor` (the whole ring for another boot). */
export function sessionsUrl(healthUrl: string, cursor?: SessionCursor): string {
  const url = new URL(SESSIONS_PATH, healthUrl);
  if (cursor)
    url.search = new URLSearchParams({ boot: cursor.boot, after: `${cursor.seq}` }).toString();
  return url.toString();
}

/** The answer's shape checked field by field; undefined for anything else (a guard without records: 404). */
export function parseSessionRecords(body: unknown): SessionRecordsAnswer | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { boot, last, first, records } = body as Record<string, unknown>;
  if (typeof boot !== "string" || boot.length === 0 || boot.length > 64) return undefined;
  if (!count(last) || !count(first) || !Array.isArray(records)) return undefined;
  const parsed: SessionRecord[] = [];
  for (const record of records as Record<string, unknown>[]) {
    const { seq, durationMs, bytesUp, bytesDown, termination, endedAtMs } = record ?? {};
    if (
      !count(seq) ||
      !count(durationMs) ||
      !count(bytesUp) ||
      !count(bytesDown) ||
      !count(endedAtMs) ||
      typeof termination !== "string" ||
      !TERMINATION.test(termination)
    )
      return undefined;
    parsed.push({ seq, durationMs, bytesUp, bytesDown, termination, endedAtMs });
  }
  return { boot, last, first, records: parsed };
}

/** Where the watch stands in one guard's records: the process (`boot`) and the last sequence written. */
export interface SessionCursor {
  boot: string;
  seq: number;
}

export interface CollectStep {
  /** The records to write now, oldest first (at most `budget`). */
  records: SessionRecord[];
  /** The cursor after writing them (unchanged when nothing was taken and the boot is the same). */
  next: SessionCursor;
  /** Sessions that ended but are no longer kept (the guard's ring went past them). */
  lost: number;
  /** The guard is another process than the cursor's (restarted): the old one's uncollected records are gone. */
  restarted: boolean;
}

/**
 * What one answer adds: the records after the cursor, at most `budget` of them. Another boot than
 * the cursor's starts from that process's first session (the guard answered from it); sequences
 * never repeat within a boot, so a record is written once.
 */
export function collectStep(
  cursor: SessionCursor | undefined,
  answer: SessionRecordsAnswer,
  budget: number,
): CollectStep {
  const sameBoot = cursor !== undefined && cursor.boot === answer.boot;
  const after = sameBoot ? cursor.seq : 0;
  const fresh = answer.records.filter((record) => record.seq > after);
  const records = fresh.slice(0, Math.max(0, budget));
  const lost = Math.max(0, answer.first - (after + 1));
  // Past the lost ones too, so that they are counted once.
  const seq =
    records.length > 0 ? records[records.length - 1].seq : Math.max(after, answer.first - 1);
  return {
    records,
    next: { boot: answer.boot, seq },
    lost,
    restarted: cursor !== undefined && !sameBoot,
  };
}

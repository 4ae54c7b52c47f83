import {
  INITIAL_CAPACITY_STATE,
  INITIAL_WATCH_STATE,
  type CapacityState,
  type WatchState,
} from "./state";
import type { SessionCursor } from "./sessionRecords";

// A row per bridge, by name, and one capacity row (id 1). `changed_at` is the scheduled time of
// the tick that last wrote the row. The single-row `bridge_watch` table of the one-bridge watch is
// no longer read (nor dropped).
const CREATE_BRIDGES =
  "CREATE TABLE IF NOT EXISTS bridge_watch_bridges (name TEXT PRIMARY KEY, failures INTEGER NOT NULL, down INTEGER NOT NULL, changed_at TEXT NOT NULL)";
const CREATE_CAPACITY =
  "CREATE TABLE IF NOT EXISTS bridge_watch_capacity (id INTEGER PRIMARY KEY CHECK (id = 1), busy_minutes INTEGER NOT NULL, alerted INTEGER NOT NULL, changed_at TEXT NOT NULL)";
const SELECT_BRIDGES = "SELECT name, failures, down FROM bridge_watch_bridges";
const SELECT_CAPACITY = "SELECT busy_minutes, alerted FROM bridge_watch_capacity WHERE id = 1";
const UPSERT_BRIDGE =
  "INSERT INTO bridge_watch_bridges (name, failures, down, changed_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET failures = excluded.failures, down = excluded.down, changed_at = excluded.changed_at";
const UPSERT_CAPACITY =
  "INSERT INTO bridge_watch_capacity (id, busy_minutes, alerted, changed_at) VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET busy_minutes = excluded.busy_minutes, alerted = excluded.alerted, changed_at = excluded.changed_at";

export interface StoredWatch {
  /** Every bridge in `names`, its stored state or the initial one. */
  bridges: Map<string, WatchState>;
  capacity: CapacityState;
}

export interface WatchWrites {
  bridges: readonly { name: string; state: WatchState }[];
  capacity?: CapacityState;
}

/**
 * The state of the bridges named (rows of bridges no longer in the fleet are ignored) and of the
 * capacity watch, creating the tables on first use; one round trip to D1.
 */
export async function readWatchState(
  db: D1Database,
  names: readonly string[],
): Promise<StoredWatch> {
  const [, , bridgeRows, capacityRows] = await db.batch<Record<string, unknown>>([
    db.prepare(CREATE_BRIDGES),
    db.prepare(CREATE_CAPACITY),
    db.prepare(SELECT_BRIDGES),
    db.prepare(SELECT_CAPACITY),
  ]);
  const stored = new Map(
    (bridgeRows.results as { name: string; failures: number; down: number }[]).map((row) => [
      row.name,
      { failures: row.failures, down: row.down === 1 },
    ]),
  );
  const capacity = (capacityRows.results as { busy_minutes: number; alerted: number }[])[0];
  return {
    bridges: new Map(names.map((name) => [name, stored.get(name) ?? INITIAL_WATCH_STATE])),
    capacity: capacity
      ? { busyMinutes: capacity.busy_minutes, alerted: capacity.alerted === 1 }
      : INITIAL_CAPACITY_STATE,
  };
}

/** Writes only what changed, in one round trip; a healthy tick has nothing to write and calls nothing. */
export async function writeWatchState(
  db: D1Database,
  writes: WatchWrites,
  changedAt: Date,
): Promise<void> {
  const at = changedAt.toISOString();
  const statements = writes.bridges.map(({ name, state }) =>
    db.prepare(UPSERT_BRIDGE).bind(name, state.failures, state.down ? 1 : 0, at),
  );
  if (writes.capacity)
    statements.push(
      db
        .prepare(UPSERT_CAPACITY)
        .bind(writes.capacity.busyMinutes, writes.capacity.alerted ? 1 : 0, at),
    );
  if (statements.length > 0) await db.batch(statements);
}

// The watch's cursor in each guard's session records (only with an analytics dataset): the guard's
// process (`boot`) and the last sequence written as a point.
const CREATE_SESSIONS =
  "CREATE TABLE IF NOT EXISTS bridge_watch_sessions (name TEXT PRIMARY KEY, boot TEXT NOT NULL, seq INTEGER NOT NULL, changed_at TEXT NOT NULL)";
const SELECT_SESSIONS = "SELECT name, boot, seq FROM bridge_watch_sessions";
const UPSERT_SESSIONS =
  "INSERT INTO bridge_watch_sessions (name, boot, seq, changed_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET boot = excluded.boot, seq = excluded.seq, changed_at = excluded.changed_at";

/** Each named bridge's cursor, absent for a bridge never collected; one round trip. */
export async function readSessionCursors(
  db: D1Database,
  names: readonly string[],
): Promise<Map<string, SessionCursor>> {
  const [, rows] = await db.batch<{ name: string; boot: string; seq: number }>([
    db.prepare(CREATE_SESSIONS),
    db.prepare(SELECT_SESSIONS),
  ]);
  const wanted = new Set(names);
  return new Map(
    rows.results
      .filter((row) => wanted.has(row.name))
      .map((row) => [row.name, { boot: row.boot, seq: row.seq }]),
  );
}

/** The cursors that moved, in one round trip (none: no call). */
export async function writeSessionCursors(
  db: D1Database,
  cursors: readonly { name: string; cursor: SessionCursor }[],
  changedAt: Date,
): Promise<void> {
  if (cursors.length === 0) return;
  const at = changedAt.toISOString();
  await db.batch(
    cursors.map(({ name, cursor }) =>
      db.prepare(UPSERT_SESSIONS).bind(name, cursor.boot, cursor.seq, at),
    ),
  );
}

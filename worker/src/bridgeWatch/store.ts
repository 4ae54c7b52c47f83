import { INITIAL_WATCH_STATE, type WatchState } from "./state";

// One table, one row (id 1). `changed_at` is the scheduled time of the tick that last wrote it.
const CREATE_TABLE =
  "CREATE TABLE IF NOT EXISTS bridge_watch (id INTEGER PRIMARY KEY CHECK (id = 1), failures INTEGER NOT NULL, down INTEGER NOT NULL, changed_at TEXT NOT NULL)";
const SELECT_STATE = "SELECT failures, down FROM bridge_watch WHERE id = 1";
const UPSERT_STATE =
  "INSERT INTO bridge_watch (id, failures, down, changed_at) VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET failures = excluded.failures, down = excluded.down, changed_at = excluded.changed_at";

/** The watch's state, creating the table on first use; one round trip to D1. */
export async function readWatchState(db: D1Database): Promise<WatchState> {
  const [, selected] = await db.batch<{ failures: number; down: number }>([
    db.prepare(CREATE_TABLE),
    db.prepare(SELECT_STATE),
  ]);
  const row = selected.results[0];
  return row ? { failures: row.failures, down: row.down === 1 } : INITIAL_WATCH_STATE;
}

/** Call only when the state changed: a healthy tick writes nothing. */
export async function writeWatchState(
  db: D1Database,
  state: WatchState,
  changedAt: Date,
): Promise<void> {
  await db
    .prepare(UPSERT_STATE)
    .bind(state.failures, state.down ? 1 : 0, changedAt.toISOString())
    .run();
}

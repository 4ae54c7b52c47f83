/**
 * GPU time from the bridge watch: a `bridge_minute` point per bridge and tick (busy or not, as its
 * probe saw it) and a `session_end` point per session its guard recorded ending. Written only when
 * the stack binds an Analytics Engine dataset.
 */
import type { PointsDataset } from "../analytics/points";
import type { BridgeProbe } from "../bridgeProbe";
import { readBodyPrefix } from "../guardAnswers";
import type { LogFields } from "../log";
import {
  collectStep,
  parseSessionRecords,
  sessionsUrl,
  type SessionCursor,
  type SessionRecordsAnswer,
} from "./sessionRecords";
import { bridgeMinutePoint, POINTS_PER_TICK, sessionEndPoint, shareBudget } from "./gpuPoints";
import { readSessionCursors, writeSessionCursors } from "./store";

/** A records answer is at most `SESSION_RECORDS_PER_ANSWER` records of ~150 bytes: read this much at most. */
const SESSIONS_ANSWER_MAX_BYTES = 64 * 1024;

/** One guard's records after `cursor`, through the same path and credentials as its health probe; undefined when it has none to give. */
export async function fetchSessionRecords(
  healthUrl: string,
  cursor: SessionCursor | undefined,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<SessionRecordsAnswer | undefined> {
  try {
    const response = await fetch(sessionsUrl(healthUrl, cursor), {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    return parseSessionRecords(
      JSON.parse(await readBodyPrefix(response.body, SESSIONS_ANSWER_MAX_BYTES)),
    );
  } catch {
    return undefined;
  }
}

export interface GpuTimeTick {
  writer: PointsDataset;
  db: D1Database;
  bridges: readonly { name: string; healthUrl: string }[];
  /** Each bridge's probe of this tick, in the bridges' order. */
  probes: readonly BridgeProbe[];
  headers: Record<string, string>;
  timeoutMs: number;
  at: Date;
}

/**
 * One tick's GPU time: a bridge_minute point per bridge, then the session records of every guard
 * that answered its probe (at most `POINTS_PER_TICK` points in all; the rest next tick). The cursors
 * are stored before the session points are written: a tick that fails in between loses its records
 * rather than count them twice. Resolves with a log line's fields for each guard that restarted or
 * lost records.
 */
export async function recordGpuTime(tick: GpuTimeTick): Promise<LogFields[]> {
  const { writer, db, bridges, probes } = tick;
  const minutes = bridges
    .slice(0, POINTS_PER_TICK)
    .map((bridge, i) => bridgeMinutePoint(bridge.name, probes[i]));
  const cursors = await readSessionCursors(
    db,
    bridges.map((bridge) => bridge.name),
  );
  // A guard that answered its probe (up or not) keeps records; one that did not cannot give them.
  const answers = await Promise.all(
    bridges.map((bridge, i) =>
      probes[i].sessions === undefined
        ? undefined
        : fetchSessionRecords(
            bridge.healthUrl,
            cursors.get(bridge.name),
            tick.headers,
            tick.timeoutMs,
          ),
    ),
  );
  const wanted = answers.map((answer, i) =>
    answer ? collectStep(cursors.get(bridges[i].name), answer, Infinity).records.length : 0,
  );
  const shares = shareBudget(wanted, POINTS_PER_TICK - minutes.length);
  const steps = answers.map((answer, i) =>
    answer ? collectStep(cursors.get(bridges[i].name), answer, shares[i]) : undefined,
  );
  const moved = bridges.flatMap((bridge, i) => {
    const step = steps[i];
    const before = cursors.get(bridge.name);
    return step && (before?.boot !== step.next.boot || before.seq !== step.next.seq)
      ? [{ name: bridge.name, cursor: step.next }]
      : [];
  });
  await writeSessionCursors(db, moved, tick.at);
  for (const point of minutes) writer.writeDataPoint(point);
  for (const [i, step] of steps.entries())
    for (const record of step?.records ?? [])
      writer.writeDataPoint(sessionEndPoint(bridges[i].name, record));
  return bridges.flatMap((bridge, i) => {
    const step = steps[i];
    if (!step || (!step.restarted && step.lost === 0)) return [];
    return [
      {
        bridge: bridge.name,
        ...(step.restarted ? { guardRestarted: true } : {}),
        ...(step.lost > 0 ? { recordsLost: step.lost } : {}),
      },
    ];
  });
}

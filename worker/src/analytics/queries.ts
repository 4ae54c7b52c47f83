/**
 * The SQL `npm run stats` runs against the edge's Analytics Engine dataset, built from the point
 * layout (schema.ts `columnOf`), so a moved field moves its queries. Every count is
 * `SUM(_sample_interval)` and every sum `SUM(_sample_interval * x)`: Analytics Engine may keep one
 * point for several, and `_sample_interval` says for how many. Quantiles are
 * `quantileExactWeighted(q)(x, _sample_interval)`, the reference's weighted quantile.
 * docs/operators-numbers.md prints these queries as they are (a test holds it equal).
 */
import { columnOf, type PointEvent } from "./schema";

/** How far back `stats` looks; Analytics Engine keeps points 3 months. */
export interface StatsWindow {
  amount: number;
  unit: "MINUTE" | "HOUR" | "DAY";
}

/** The queries, in the order `stats` runs them. */
export const STATS_QUERIES = [
  "upgrades",
  "timeTo101",
  "timeTo101Window",
  "line",
  "busy",
  "sessionEnds",
] as const;
export type StatsQueryName = (typeof STATS_QUERIES)[number];

/** What each query answers, for the docs and the progress line. */
export const STATS_QUERY_TITLES: Record<StatsQueryName, string> = {
  upgrades: "upgrades per hour, bridge, outcome and reason",
  timeTo101: "time to the 101 of connected upgrades, per hour and bridge",
  timeTo101Window: "time to the 101 of connected upgrades, over the whole window",
  line: "the waiting line per hour: joins, turns, leaves and waits",
  busy: "the bridge watch's minutes per hour and bridge: watched and busy",
  sessionEnds: "sessions the guards saw end, per hour and bridge, and their total length",
};

/**
 * A dataset name: Analytics Engine's docs name no character set, so this takes names that are also
 * bare SQL identifiers (they go into the SQL as they are); the stack key is checked against it too.
 */
export const DATASET_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

const HOUR = "toStartOfInterval(timestamp, INTERVAL '1' HOUR)";

const event = (name: PointEvent) => `'${name}'`;

/** The SQL of every query for one dataset and window. */
export function statsQueries(dataset: string, window: StatsWindow): Record<StatsQueryName, string> {
  if (!DATASET_NAME.test(dataset))
    throw new Error(
      `dataset "${dataset}" is not a plain SQL name (letters, digits and _, starting with a letter)`,
    );
  if (!Number.isInteger(window.amount) || window.amount < 1)
    throw new Error(`window ${window.amount} ${window.unit} must be a whole number ≥ 1`);
  const c = columnOf;
  const since = `timestamp > NOW() - INTERVAL '${window.amount}' ${window.unit}`;
  const weighted = (name: Parameters<typeof columnOf>[0]) => `_sample_interval * ${c(name)}`;
  const quantile = (q: number, name: Parameters<typeof columnOf>[0]) =>
    `quantileExactWeighted(${q})(${c(name)}, _sample_interval)`;
  const lines = (...parts: string[]) => parts.join("\n");
  return {
    upgrades: lines(
      "SELECT",
      `  ${HOUR} AS hour,`,
      `  ${c("bridge")} AS bridge,`,
      `  ${c("outcome")} AS outcome,`,
      `  ${c("reason")} AS reason,`,
      `  ${c("lineOffered")} AS line_offered,`,
      "  SUM(_sample_interval) AS requests",
      `FROM ${dataset}`,
      `WHERE ${c("event")} = ${event("upgrade")} AND ${since}`,
      "GROUP BY hour, bridge, outcome, reason, line_offered",
      "ORDER BY hour, bridge, outcome, reason, line_offered",
    ),
    timeTo101: lines(
      "SELECT",
      `  ${HOUR} AS hour,`,
      `  ${c("bridge")} AS bridge,`,
      "  SUM(_sample_interval) AS sessions,",
      `  ${quantile(0.5, "msTo101")} AS p50_ms,`,
      `  ${quantile(0.95, "msTo101")} AS p95_ms`,
      `FROM ${dataset}`,
      `WHERE ${c("event")} = ${event("upgrade")} AND ${c("outcome")} = 'connected' AND ${since}`,
      "GROUP BY hour, bridge",
      "ORDER BY hour, bridge",
    ),
    timeTo101Window: lines(
      "SELECT",
      "  SUM(_sample_interval) AS sessions,",
      `  ${quantile(0.5, "msTo101")} AS p50_ms,`,
      `  ${quantile(0.95, "msTo101")} AS p95_ms`,
      `FROM ${dataset}`,
      `WHERE ${c("event")} = ${event("upgrade")} AND ${c("outcome")} = 'connected' AND ${since}`,
    ),
    line: lines(
      "SELECT",
      `  ${HOUR} AS hour,`,
      `  ${c("event")} AS event,`,
      `  ${c("outcome")} AS outcome,`,
      `  ${c("reason")} AS reason,`,
      "  SUM(_sample_interval) AS visitors,",
      `  SUM(${weighted("waitMs")}) AS wait_ms_total,`,
      `  ${quantile(0.95, "waitMs")} AS wait_p95_ms`,
      `FROM ${dataset}`,
      `WHERE ${c("event")} IN (${event("line_join")}, ${event("line_turn")}, ${event("line_leave")}) AND ${since}`,
      "GROUP BY hour, event, outcome, reason",
      "ORDER BY hour, event, outcome, reason",
    ),
    busy: lines(
      "SELECT",
      `  ${HOUR} AS hour,`,
      `  ${c("bridge")} AS bridge,`,
      "  SUM(_sample_interval) AS minutes,",
      `  SUM(${weighted("busyMinutes")}) AS busy_minutes`,
      `FROM ${dataset}`,
      `WHERE ${c("event")} = ${event("bridge_minute")} AND ${since}`,
      "GROUP BY hour, bridge",
      "ORDER BY hour, bridge",
    ),
    sessionEnds: lines(
      "SELECT",
      `  ${HOUR} AS hour,`,
      `  ${c("bridge")} AS bridge,`,
      "  SUM(_sample_interval) AS sessions,",
      `  SUM(${weighted("sessionMs")}) AS session_ms_total`,
      `FROM ${dataset}`,
      `WHERE ${c("event")} = ${event("session_end")} AND ${since}`,
      "GROUP BY hour, bridge",
      "ORDER BY hour, bridge",
    ),
  };
}

// The alerts on what users feel: a busy or unreachable fleet answers a page with a 101 and a close
// code, which no 5XX alert sees. When the stack sets a share, each watch tick asks the edge's own
// points (Analytics Engine, through the SQL API) what share of visitors the last minutes turned
// away, or kept waiting in line too long, and tells the webhook once per episode.
import { columnOf, isTurnedAway } from "../analytics/schema";
import {
  describeSqlFailure,
  numberOf,
  querySql,
  textOf,
  type SqlAnswer,
} from "../analytics/sqlApi";
import { logEvent, type LogFields } from "../log";
import type { BridgeWatchSettings, UserAlertSettings } from "./bindings";
import type { WatchBindings } from "./config";
import { postNoticeBody, type Delivery } from "./notify";

/** The two alerts, by the name their state row and their notices carry. */
export type UserAlertKind = "turned_away" | "long_waits";
export type UserAlertNotification = UserAlertKind | `${UserAlertKind}_recovered`;

/** One query per check; a tick's budget is a minute, and a slow answer says nothing. */
export const USER_ALERT_QUERY_TIMEOUT_MS = 10_000;

/** What one window's points say, each count weighted by `_sample_interval` (Analytics Engine samples). */
export interface FeltWindow {
  /** Upgrades connected or turned away: the visitors the service should have served. */
  visitors: number;
  turnedAway: number;
  /** Turned away, by reason. */
  reasons: Record<string, number>;
  /** Waits that ended in the window (`line_turn`, `line_leave`). */
  waited: number;
  /** Of those, the ones longer than `waitedLongerThanS`. */
  waitedLonger: number;
}

const inList = (values: readonly string[]) => values.map((value) => `'${value}'`).join(", ");

/**
 * The one statement a check runs: the last `turnedAwayMinutes` of the upgrade and line-join points
 * (with `turnedAwayShare`) and of the line's end-of-wait points (with `waitedShare`), summed per
 * event, outcome, reason, use of the line and — with the long-wait rule — whether the wait was
 * longer: a few dozen rows at most. Plain columns, a comparison and SUM only.
 */
export function userAlertQuery(settings: UserAlertSettings): string {
  const events = [
    ...(settings.turnedAwayShare !== undefined ? ["upgrade", "line_join"] : []),
    ...(settings.waitedShare !== undefined ? ["line_turn", "line_leave"] : []),
  ];
  const longWait =
    settings.waitedLongerThanS !== undefined
      ? `${columnOf("waitMs")} > ${settings.waitedLongerThanS * 1000}`
      : undefined;
  return [
    `SELECT index1 AS event, ${columnOf("outcome")} AS outcome, ${columnOf("reason")} AS reason,`,
    `${columnOf("lineOffered")} AS line_offered,`,
    ...(longWait ? [`${longWait} AS long_wait,`] : []),
    "SUM(_sample_interval) AS points",
    `FROM ${settings.dataset}`,
    `WHERE timestamp > NOW() - INTERVAL '${settings.turnedAwayMinutes}' MINUTE`,
    `AND index1 IN (${inList(events)})`,
    `GROUP BY event, outcome, reason, line_offered${longWait ? ", long_wait" : ""}`,
  ].join(" ");
}

/** The counts of an answer to `userAlertQuery`. */
export function feltWindow(answer: SqlAnswer): FeltWindow {
  const window: FeltWindow = {
    visitors: 0,
    turnedAway: 0,
    reasons: {},
    waited: 0,
    waitedLonger: 0,
  };
  for (const row of answer.data) {
    const points = numberOf(row.points) ?? 0;
    const event = textOf(row.event);
    const outcome = textOf(row.outcome);
    const reason = textOf(row.reason);
    const lineOffered = numberOf(row.line_offered) ?? 0;
    if (event === "upgrade" && outcome === "connected") window.visitors += points;
    else if (isTurnedAway({ event, outcome, reason, lineOffered })) {
      window.visitors += points;
      window.turnedAway += points;
      window.reasons[reason] = (window.reasons[reason] ?? 0) + points;
    } else if (event === "line_turn" || event === "line_leave") {
      window.waited += points;
      if (numberOf(row.long_wait) === 1) window.waitedLonger += points;
    }
  }
  return window;
}

/** One alert's share in a window, against its threshold. */
export interface FeltMeasure {
  kind: UserAlertKind;
  matching: number;
  total: number;
  threshold: number;
}

/** The measures the settings ask for. */
export function feltMeasures(settings: UserAlertSettings, window: FeltWindow): FeltMeasure[] {
  return [
    ...(settings.turnedAwayShare !== undefined
      ? [
          {
            kind: "turned_away" as const,
            matching: window.turnedAway,
            total: window.visitors,
            threshold: settings.turnedAwayShare,
          },
        ]
      : []),
    ...(settings.waitedShare !== undefined
      ? [
          {
            kind: "long_waits" as const,
            matching: window.waitedLonger,
            total: window.waited,
            threshold: settings.waitedShare,
          },
        ]
      : []),
  ];
}

export interface UserAlertStep {
  alerted: boolean;
  changed: boolean;
  notification?: UserAlertNotification;
}

/**
 * One check of one alert. A window with fewer than `minVisitors` says nothing either way: it
 * neither starts an episode nor ends one. A share at or above the threshold starts one (one
 * notice); the first window below it ends it (a notice only with `notifyRecovery`).
 */
export function userAlertStep(
  alerted: boolean,
  measure: FeltMeasure,
  settings: Pick<UserAlertSettings, "minVisitors"> & Pick<BridgeWatchSettings, "notifyRecovery">,
): UserAlertStep {
  if (measure.total < settings.minVisitors) return { alerted, changed: false };
  const above = measure.matching / measure.total >= measure.threshold;
  if (above === alerted) return { alerted, changed: false };
  if (above) return { alerted: true, changed: true, notification: measure.kind };
  return {
    alerted: false,
    changed: true,
    ...(settings.notifyRecovery ? { notification: `${measure.kind}_recovered` as const } : {}),
  };
}

// A row per alert kind that ever changed; `changed_at` is the scheduled time of the tick that wrote it.
const CREATE_USER_ALERTS =
  "CREATE TABLE IF NOT EXISTS bridge_watch_user_alerts (name TEXT PRIMARY KEY, alerted INTEGER NOT NULL, changed_at TEXT NOT NULL)";
const SELECT_USER_ALERTS = "SELECT name, alerted FROM bridge_watch_user_alerts";
const UPSERT_USER_ALERT =
  "INSERT INTO bridge_watch_user_alerts (name, alerted, changed_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET alerted = excluded.alerted, changed_at = excluded.changed_at";

/** The alerts in an episode (a notice sent, not yet ended), creating the table on first use; one round trip. */
export async function readUserAlertState(db: D1Database): Promise<Set<string>> {
  const [, rows] = await db.batch<{ name: string; alerted: number }>([
    db.prepare(CREATE_USER_ALERTS),
    db.prepare(SELECT_USER_ALERTS),
  ]);
  return new Set(rows.results.filter((row) => row.alerted === 1).map((row) => row.name));
}

async function writeUserAlertState(
  db: D1Database,
  writes: readonly { kind: UserAlertKind; alerted: boolean }[],
  changedAt: Date,
): Promise<void> {
  if (writes.length === 0) return;
  const at = changedAt.toISOString();
  await db.batch(
    writes.map(({ kind, alerted }) =>
      db.prepare(UPSERT_USER_ALERT).bind(kind, alerted ? 1 : 0, at),
    ),
  );
}

export interface UserAlertNotice {
  service: string;
  status: UserAlertNotification;
  measure: FeltMeasure;
  window: FeltWindow;
  settings: UserAlertSettings;
  at: Date;
}

const percent = (share: number) => `${Math.round(share * 100)}%`;

/** Slack-compatible (`text`), with the same facts as fields, as the watch's other notices. */
export function userAlertNoticeBody(notice: UserAlertNotice): Record<string, unknown> {
  const { measure, window, settings } = notice;
  const share = measure.total > 0 ? measure.matching / measure.total : 0;
  const counted = `${measure.matching} of ${measure.total}`;
  const span = `in the last ${settings.turnedAwayMinutes} minutes`;
  const recovered = notice.status.endsWith("_recovered");
  const verdict = recovered
    ? `below the alert's ${percent(measure.threshold)} again`
    : `alert at ${percent(measure.threshold)}`;
  const common = {
    service: notice.service,
    status: notice.status,
    share,
    threshold: measure.threshold,
    windowMinutes: settings.turnedAwayMinutes,
  };
  if (measure.kind === "turned_away")
    return {
      text: `${notice.service}: ${counted} visitors (${percent(share)}) were turned away (busy or unavailable) ${span} (${verdict})`,
      ...common,
      turnedAway: window.turnedAway,
      visitors: window.visitors,
      reasons: { ...window.reasons },
      at: notice.at.toISOString(),
    };
  return {
    text: `${notice.service}: ${counted} visitors whose wait in line ended (${percent(share)}) waited longer than ${settings.waitedLongerThanS} s ${span} (${verdict})`,
    ...common,
    waitedLonger: window.waitedLonger,
    waited: window.waited,
    waitedLongerThanS: settings.waitedLongerThanS,
    at: notice.at.toISOString(),
  };
}

function deliveryFields(delivery: Delivery): LogFields {
  return {
    ...(delivery.status !== undefined ? { webhookStatus: delivery.status } : {}),
    ...("error" in delivery && delivery.error ? { webhookError: delivery.error } : {}),
  };
}

/**
 * One check, when the settings have `users`: the episode state from D1 and the window from the SQL
 * API at once, then a notice per alert whose episode starts or ends. Without `users` it does
 * nothing at all. A failed query is a log line (`user_alert_query_failed`) and no change; a notice
 * the webhook refused is not stored, so the next tick sends it again. Never rejects.
 */
export async function watchWhatUsersFeel(
  watch: WatchBindings,
  scheduledTime: number,
): Promise<void> {
  const users = watch.settings.users;
  if (!users || watch.analyticsReadToken === undefined) return;
  try {
    const [alerted, result] = await Promise.all([
      readUserAlertState(watch.db),
      querySql(
        {
          accountId: users.accountId,
          token: watch.analyticsReadToken,
          ...(users.sqlApiUrl ? { baseUrl: users.sqlApiUrl } : {}),
          timeoutMs: USER_ALERT_QUERY_TIMEOUT_MS,
        },
        userAlertQuery(users),
      ),
    ]);
    if (!result.ok) {
      logEvent("user_alert_query_failed", {
        windowMinutes: users.turnedAwayMinutes,
        problem: describeSqlFailure(result.failure),
      });
      return;
    }
    const window = feltWindow(result.answer);
    const at = new Date(scheduledTime);
    const lines = await Promise.all(
      feltMeasures(users, window).map(async (measure) => {
        const step = userAlertStep(alerted.has(measure.kind), measure, {
          minVisitors: users.minVisitors,
          notifyRecovery: watch.settings.notifyRecovery,
        });
        if (!step.changed) return undefined;
        const line: LogFields = {
          alert: measure.kind,
          state: step.alerted ? "alerted" : "clear",
          matching: measure.matching,
          total: measure.total,
          windowMinutes: users.turnedAwayMinutes,
        };
        if (!step.notification) return { measure, step, line };
        const body = userAlertNoticeBody({
          service: watch.settings.service,
          status: step.notification,
          measure,
          window,
          settings: users,
          at,
        });
        const delivery = await postNoticeBody(watch.webhook, body);
        if (!delivery.sent) {
          logEvent("user_alert_notify_failed", {
            ...line,
            notification: step.notification,
            ...deliveryFields(delivery),
          });
          return undefined;
        }
        return {
          measure,
          step,
          line: { ...line, notified: step.notification, ...deliveryFields(delivery) },
        };
      }),
    );
    const stored = lines.filter((line) => line !== undefined);
    await writeUserAlertState(
      watch.db,
      stored.map(({ measure, step }) => ({ kind: measure.kind, alerted: step.alerted })),
      at,
    );
    for (const { line } of stored) logEvent("user_alert", line);
  } catch (error) {
    logEvent("user_alert_failed", { error: (error as Error).name });
  }
}

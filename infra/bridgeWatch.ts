import * as cloudflare from "@pulumi/cloudflare";
import { child, type Scope } from "./childNames";
import {
  BRIDGE_WATCH_CRON,
  type BridgeWatchSettings,
  type UserAlertSettings,
} from "../worker/src/bridgeWatch/bindings";
import { analyticsDatasetOf, userAlertShares } from "./config/alerts";
import { alertTypesOf, type StackSettings } from "./config/schema";
import { ALERT_TYPES } from "./config/planLimits";

/**
 * `bridge_probe`: the edge Worker's own alert for plans without a Cloudflare notification on 5XX.
 * A Cron Trigger runs it every minute; it probes every bridge through the same path as an upgrade
 * and keeps a row of state per bridge (and one for capacity) in a D1 database, written only when
 * it changes.
 */
export function bridgeProbeEnabled(settings: StackSettings): boolean {
  return alertTypesOf(settings).includes(ALERT_TYPES.bridgeProbe);
}

export function bridgeWatchSettings(settings: StackSettings): BridgeWatchSettings {
  const users = userAlertSettings(settings);
  return {
    service: `${settings.workerName} (${settings.publicHostname})`,
    failuresBeforeAlert: settings.alerts.failuresBeforeAlert,
    notifyRecovery: settings.alerts.notifyRecovery,
    busyMinutesBeforeAlert: settings.alerts.busyMinutesBeforeAlert,
    ...(users ? { users } : {}),
  };
}

/**
 * The alerts on what users feel, when the stack sets a share: which account's dataset to ask and
 * the rules. The read token travels apart, as a secret binding.
 */
export function userAlertSettings(settings: StackSettings): UserAlertSettings | undefined {
  const dataset = analyticsDatasetOf(settings);
  if (userAlertShares(settings).length === 0 || !dataset) return undefined;
  const { turnedAwayShare, turnedAwayMinutes, minVisitors, waitedLongerThanS, waitedShare } =
    settings.alerts;
  return {
    accountId: settings.accountId,
    dataset,
    ...(turnedAwayShare !== undefined ? { turnedAwayShare } : {}),
    turnedAwayMinutes,
    minVisitors,
    ...(waitedShare !== undefined ? { waitedLongerThanS, waitedShare } : {}),
  };
}

/** The watch's state: a D1 database (strongly consistent, unlike KV; no Durable Object migrations to carry). */
export function bridgeWatchDatabase(
  settings: StackSettings,
  scope: Scope,
): cloudflare.D1Database | undefined {
  if (!bridgeProbeEnabled(settings)) return undefined;
  const { name, opts } = child(scope, "bridge-watch-state", "bridge-watch-state");
  return new cloudflare.D1Database(
    name,
    { accountId: settings.accountId, name: `${settings.workerName}-bridge-watch` },
    opts,
  );
}

/** Every minute, after the script that handles it exists. */
export function bridgeWatchSchedule(
  settings: StackSettings,
  script: cloudflare.WorkersScript,
  scope: Scope,
): cloudflare.WorkersCronTrigger | undefined {
  if (!bridgeProbeEnabled(settings)) return undefined;
  const { name, opts } = child(scope, "bridge-watch-schedule", "bridge-watch-schedule", {
    dependsOn: [script],
  });
  return new cloudflare.WorkersCronTrigger(
    name,
    {
      accountId: settings.accountId,
      scriptName: script.scriptName,
      schedules: [{ cron: BRIDGE_WATCH_CRON }],
    },
    opts,
  );
}

import { bindingsFor } from "../bindings";
import { probeBridge } from "../bridgeProbe";
import { logEvent } from "../log";
import { parseWatchBindings } from "./config";
import { probeSummary, sendNotice } from "./notify";
import { watchStep } from "./state";
import { readWatchState, writeWatchState } from "./store";

/**
 * One Cron tick: probe the bridge as an upgrade would reach it, step the state, and notify. A
 * transition whose notification fails is not stored, so the next tick sends it again. Logs a line
 * only when something happened; a healthy tick logs and writes nothing.
 */
export async function bridgeWatchTick(env: object, scheduledTime: number): Promise<void> {
  const main = bindingsFor(env);
  const parsed = parseWatchBindings(env);
  if (!main.ok || !parsed.ok) {
    logEvent("config_invalid", {
      handler: "scheduled",
      problems: [...(main.ok ? [] : main.problems), ...(parsed.ok ? [] : parsed.problems)],
    });
    return;
  }
  const { db, settings, webhook } = parsed.watch;
  const [state, probe] = await Promise.all([
    readWatchState(db),
    probeBridge(main.bindings, main.bindings.bridges[0]),
  ]);
  const step = watchStep(state, probe.reachable, settings);
  if (!step.changed) return;

  const at = new Date(scheduledTime);
  const fields = {
    state: step.next.down ? "down" : step.next.failures > 0 ? "failing" : "healthy",
    failures: step.next.failures,
    probe: probeSummary(probe),
  };
  if (step.notification) {
    const notice = {
      service: settings.service,
      status: step.notification,
      failures: step.next.failures,
      probe,
      timeoutMs: main.bindings.EDGE_CONFIG.healthTimeoutMs,
      at,
    };
    const { sent, ...delivery } = await sendNotice(webhook, notice);
    if (!sent) {
      logEvent("bridge_watch_notify_failed", {
        notification: step.notification,
        failures: step.next.failures,
        ...webhookFields(delivery),
      });
      return;
    }
    Object.assign(fields, { notified: step.notification, ...webhookFields(delivery) });
  }
  await writeWatchState(db, step.next, at);
  logEvent("bridge_watch", fields);
}

function webhookFields(delivery: { status?: number; error?: string }) {
  return {
    ...(delivery.status !== undefined ? { webhookStatus: delivery.status } : {}),
    ...(delivery.error ? { webhookError: delivery.error } : {}),
  };
}

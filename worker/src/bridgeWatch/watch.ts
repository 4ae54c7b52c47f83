import { pointsOf } from "../analytics/points";
import { bindingsFor } from "../bindings";
import { probeFleet, type BridgeProbe } from "../bridgeProbe";
import { logEvent, type LogFields } from "../log";
import { originCredentialHeaders } from "../passThrough";
import { parseWatchBindings } from "./config";
import { recordGpuTime } from "./gpuTime";
import { probeSummary, sendNotice, type Webhook, type WatchNotice } from "./notify";
import {
  capacityStep,
  fleetCounts,
  inService,
  probeVerdict,
  watchStep,
  type CapacityStep,
  type FleetCounts,
  type WatchStep,
} from "./state";
import { readWatchState, writeWatchState, type WatchWrites } from "./store";
import { watchWhatUsersFeel } from "./userAlert";

/**
 * One Cron tick: probe every bridge as an upgrade would reach it, step each bridge's state and
 * the fleet's capacity, and notify. A transition whose notification fails is not stored, so the
 * next tick sends it again. Logs a line only when something happened; a healthy tick logs and
 * writes nothing (but its GPU time points, with an analytics dataset bound).
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
  const usersChecked = watchWhatUsersFeel(parsed.watch, scheduledTime);
  const { bridges } = main.bindings;
  const names = bridges.map((bridge) => bridge.name);
  const [stored, probes] = await Promise.all([
    readWatchState(db, names),
    probeFleet(main.bindings, bridges),
  ]);
  const writer = pointsOf(env);
  if (writer) {
    const lines = await recordGpuTime({
      writer,
      db,
      bridges,
      probes,
      headers: originCredentialHeaders(main.bindings),
      timeoutMs: main.bindings.EDGE_CONFIG.healthTimeoutMs,
      at: new Date(scheduledTime),
    });
    for (const line of lines) logEvent("bridge_watch_sessions", line);
  }
  const changedBridges = bridges.flatMap((bridge, i) => {
    const step = watchStep(stored.bridges.get(bridge.name)!, probeVerdict(probes[i]), settings);
    return step.changed ? [{ bridge: bridge.name, probe: probes[i], step }] : [];
  });
  const fleet = fleetCounts(probes);
  const capacity = capacityStep(stored.capacity, fleet, settings);
  if (changedBridges.length === 0 && !capacity.changed) return usersChecked;

  const context = {
    service: settings.service,
    timeoutMs: main.bindings.EDGE_CONFIG.healthTimeoutMs,
    at: new Date(scheduledTime),
  };
  const [bridgeLines, capacityLine] = await Promise.all([
    Promise.all(
      changedBridges.map(({ bridge, probe, step }) =>
        bridgeTransition(webhook, bridge, probe, step, context),
      ),
    ),
    capacity.changed ? capacityTransition(webhook, capacity, fleet, context) : undefined,
  ]);

  const writes: WatchWrites = {
    bridges: changedBridges.flatMap(({ bridge, step }, i) =>
      bridgeLines[i] ? [{ name: bridge, state: step.next }] : [],
    ),
    ...(capacityLine ? { capacity: capacity.next } : {}),
  };
  await writeWatchState(db, writes, context.at);
  for (const line of bridgeLines) if (line) logEvent("bridge_watch", line);
  if (capacityLine) logEvent("bridge_watch_capacity", capacityLine);
  await usersChecked;
}

/** The log line of one bridge's stored transition, or undefined when its notice failed (not stored). */
async function bridgeTransition(
  webhook: Webhook,
  bridge: string,
  probe: BridgeProbe,
  step: WatchStep,
  context: { service: string; timeoutMs: number; at: Date },
): Promise<LogFields | undefined> {
  const { failures } = step.next;
  const notified = await announce(
    webhook,
    step.notification && { ...context, bridge, status: step.notification, failures, probe },
    { bridge, failures },
  );
  return (
    notified && {
      bridge,
      state: step.next.down
        ? "down"
        : probeVerdict(probe) === "maintenance"
          ? "maintenance"
          : failures > 0
            ? "failing"
            : "healthy",
      failures,
      probe: probeSummary(probe),
      ...notified,
    }
  );
}

/** The log line of the capacity watch's stored transition, or undefined when its notice failed. */
async function capacityTransition(
  webhook: Webhook,
  step: CapacityStep,
  fleet: FleetCounts,
  context: { service: string; at: Date },
): Promise<LogFields | undefined> {
  const { busyMinutes, alerted } = step.next;
  const notified = await announce(
    webhook,
    step.notification && {
      service: context.service,
      status: step.notification,
      busyMinutes,
      fleet,
      at: context.at,
    },
    { busyMinutes },
  );
  return (
    notified && {
      state: alerted
        ? "full"
        : fleet.up === 0
          ? "all_down"
          : inService(fleet) === 0
            ? "all_drained"
            : fleet.free > 0
              ? "free"
              : "busy",
      busyMinutes,
      bridges: { ...fleet },
      ...notified,
    }
  );
}

/**
 * Sends the notice, if the transition has one. Resolves with the fields its log line adds (none
 * without a notice), or undefined when the webhook did not take it: that is logged here, and the
 * transition is not stored.
 */
async function announce(
  webhook: Webhook,
  notice: WatchNotice | undefined,
  failedFields: LogFields,
): Promise<LogFields | undefined> {
  if (!notice) return {};
  const { sent, ...delivery } = await sendNotice(webhook, notice);
  if (!sent) {
    logEvent("bridge_watch_notify_failed", {
      ...failedFields,
      notification: notice.status,
      ...webhookFields(delivery),
    });
    return undefined;
  }
  return { notified: notice.status, ...webhookFields(delivery) };
}

function webhookFields(delivery: { status?: number; error?: string }) {
  return {
    ...(delivery.status !== undefined ? { webhookStatus: delivery.status } : {}),
    ...(delivery.error ? { webhookError: delivery.error } : {}),
  };
}

import { SINGLE_BRIDGE_NAME } from "../bindings";
import type { CapacityNotification, FleetCounts, WatchNotification } from "./state";

/** What a notice says about the last probe (a `BridgeProbe` fits); kept free of Worker types so it is testable in Node. */
export interface ProbeOutcome {
  status?: number;
  timedOut?: boolean;
  /** The guard answered but says its server is down. */
  serverDown?: true;
  latencyMs: number;
}

/** One bridge went down or came back. */
export interface BridgeNotice {
  service: string;
  /** The bridge's name (`bridges[].name`; `bridge` for a `BRIDGE_URL`). */
  bridge: string;
  status: WatchNotification;
  /** Consecutive failed probes as of this tick (0 on recovery). */
  failures: number;
  probe: ProbeOutcome;
  /** The probe's bound, to say what "timed out" means. */
  timeoutMs: number;
  at: Date;
}

/** No bridge in service (up, not drained) has been free for `busyMinutes` ticks, or one is free again. */
export interface CapacityNotice {
  service: string;
  status: CapacityNotification;
  /** Consecutive ticks with no free bridge as of this tick (0 when one is free again). */
  busyMinutes: number;
  fleet: FleetCounts;
  at: Date;
}

export type WatchNotice = BridgeNotice | CapacityNotice;

const isCapacityNotice = (notice: WatchNotice): notice is CapacityNotice =>
  notice.status === "capacity" || notice.status === "capacity_recovered";

export interface Webhook {
  url: string;
  secret?: string;
}

/** How the POST went: only a 2xx counts as sent. Never carries the URL. */
export type Delivery =
  | { sent: true; status: number }
  | { sent: false; status?: number; error?: "timed_out" | "unreachable" };

const WEBHOOK_TIMEOUT_MS = 5_000;

function describeProbe(probe: ProbeOutcome, timeoutMs: number): string {
  if (probe.serverDown) return `HTTP ${probe.status}, the guard says its server is down`;
  if (probe.status !== undefined) return `HTTP ${probe.status}`;
  return probe.timedOut ? `timed out after ${timeoutMs} ms` : "unreachable";
}

/** The probe as notices and logs show it (without `reachable`: the notice's status says it). */
export function probeSummary(probe: ProbeOutcome): {
  status?: number;
  timedOut?: true;
  serverDown?: true;
  latencyMs: number;
} {
  return {
    ...(probe.status !== undefined ? { status: probe.status } : {}),
    ...(probe.timedOut ? { timedOut: true } : {}),
    ...(probe.serverDown ? { serverDown: true } : {}),
    latencyMs: probe.latencyMs,
  };
}

/** A fleet of one from `BRIDGE_URL` keeps "the voice bridge"; a named bridge is named. */
function bridgeSubject(bridge: string): string {
  return bridge === SINGLE_BRIDGE_NAME ? "the voice bridge" : `bridge ${bridge}`;
}

function describeFleet({ total, up, free, drained }: FleetCounts): string {
  const counts = `${up} up, ${free} free${drained > 0 ? `, ${drained} drained` : ""}`;
  return `${total} ${total === 1 ? "bridge" : "bridges"}: ${counts}`;
}

const minutes = (n: number) => `${n} ${n === 1 ? "minute" : "minutes"}`;

/** Slack-compatible (`text`), with the same facts as fields for anything else. No URLs, tokens or secrets. */
export function noticeBody(notice: WatchNotice): Record<string, unknown> {
  if (isCapacityNotice(notice)) {
    const text =
      notice.status === "capacity"
        ? `${notice.service}: every bridge ${notice.fleet.drained > 0 ? "in service " : ""}has been busy for ${minutes(notice.busyMinutes)}: add a GPU (${describeFleet(notice.fleet)})`
        : `${notice.service}: a bridge is free again (${describeFleet(notice.fleet)})`;
    return {
      text,
      service: notice.service,
      status: notice.status,
      busyMinutes: notice.busyMinutes,
      bridges: { ...notice.fleet },
      at: notice.at.toISOString(),
    };
  }
  const { probe } = notice;
  const subject = bridgeSubject(notice.bridge);
  const text =
    notice.status === "down"
      ? `${notice.service}: ${subject} is down — ${notice.failures} consecutive failed probes through the tunnel (last: ${describeProbe(probe, notice.timeoutMs)})`
      : `${notice.service}: ${subject} is back up — the probe through the tunnel answered ${describeProbe(probe, notice.timeoutMs)} in ${probe.latencyMs} ms`;
  return {
    text,
    service: notice.service,
    bridge: notice.bridge,
    status: notice.status,
    failures: notice.failures,
    probe: probeSummary(probe),
    at: notice.at.toISOString(),
  };
}

/** POSTs the notice; redirects are not followed (a moved webhook is a failure to see, not to chase). */
export function sendNotice(webhook: Webhook, notice: WatchNotice): Promise<Delivery> {
  return postNoticeBody(webhook, noticeBody(notice));
}

/** POSTs a notice's body (`text` and its facts as fields) as `sendNotice` does. */
export async function postNoticeBody(
  webhook: Webhook,
  body: Record<string, unknown>,
): Promise<Delivery> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (webhook.secret) headers["cf-webhook-auth"] = webhook.secret;
  const signal = AbortSignal.timeout(WEBHOOK_TIMEOUT_MS);
  try {
    const response = await fetch(webhook.url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      redirect: "manual",
      signal,
    });
    await response.body?.cancel();
    return response.status >= 200 && response.status < 300
      ? { sent: true, status: response.status }
      : { sent: false, status: response.status };
  } catch {
    return { sent: false, error: signal.aborted ? "timed_out" : "unreachable" };
  }
}

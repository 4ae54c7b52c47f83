import type { WatchNotification } from "./state";

/** What a notice says about the last probe (a `BridgeProbe` fits); kept free of Worker types so it is testable in Node. */
export interface ProbeOutcome {
  status?: number;
  timedOut?: boolean;
  /** The guard answered but says its server is down. */
  serverDown?: true;
  latencyMs: number;
}

export interface WatchNotice {
  service: string;
  status: WatchNotification;
  /** Consecutive failed probes as of this tick (0 on recovery). */
  failures: number;
  probe: ProbeOutcome;
  /** The probe's bound, to say what "timed out" means. */
  timeoutMs: number;
  at: Date;
}

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

/** Slack-compatible (`text`), with the same facts as fields for anything else. No URLs, tokens or secrets. */
export function noticeBody(notice: WatchNotice): Record<string, unknown> {
  const { probe } = notice;
  const text =
    notice.status === "down"
      ? `${notice.service}: the voice bridge is down — ${notice.failures} consecutive failed probes through the tunnel (last: ${describeProbe(probe, notice.timeoutMs)})`
      : `${notice.service}: the voice bridge is back up — the probe through the tunnel answered ${describeProbe(probe, notice.timeoutMs)} in ${probe.latencyMs} ms`;
  return {
    text,
    service: notice.service,
    status: notice.status,
    failures: notice.failures,
    probe: probeSummary(probe),
    at: notice.at.toISOString(),
  };
}

/** POSTs the notice; redirects are not followed (a moved webhook is a failure to see, not to chase). */
export async function sendNotice(webhook: Webhook, notice: WatchNotice): Promise<Delivery> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (webhook.secret) headers["cf-webhook-auth"] = webhook.secret;
  const signal = AbortSignal.timeout(WEBHOOK_TIMEOUT_MS);
  try {
    const response = await fetch(webhook.url, {
      method: "POST",
      headers,
      body: JSON.stringify(noticeBody(notice)),
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

import type { Bindings, ParsedBindings } from "./bindings";
import { probeBridge, type BridgeProbe } from "./bridgeProbe";

/** `/voice/health` probes the bridge at most this often per isolate, whatever the request rate. */
export const HEALTH_PROBE_INTERVAL_MS = 5_000;

const latestProbe = new WeakMap<Bindings, { startedAt: number; probe: Promise<BridgeProbe> }>();

/** The last probe while it is younger than the interval (in flight or done), else a new one. */
function sharedProbe(bindings: Bindings): { probe: Promise<BridgeProbe>; startedAt: number } {
  const now = Date.now();
  const latest = latestProbe.get(bindings);
  if (latest && now - latest.startedAt < HEALTH_PROBE_INTERVAL_MS) return latest;
  const fresh = { startedAt: now, probe: probeBridge(bindings) };
  latestProbe.set(bindings, fresh);
  return fresh;
}

function json(body: object, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });
}

/**
 * `GET /voice/health`: is the edge configured, and is the bridge up within the bound? `busy` (the
 * guard at capacity, or draining) is up: 200, not an outage. No addresses or secrets.
 */
export async function healthResponse(parsed: ParsedBindings): Promise<Response> {
  if (!parsed.ok)
    return json({ status: "misconfigured", configured: false, error: "misconfigured" }, 503);
  const { bindings } = parsed;
  const settings = bindings.EDGE_CONFIG;
  const shared = sharedProbe(bindings);
  const probe = await shared.probe;
  const body = {
    status: probe.reachable ? (probe.busy ? "busy" : "ok") : "bridge_down",
    configured: true,
    auth: settings.auth.mode,
    bridge: {
      ...probe,
      timeoutMs: settings.healthTimeoutMs,
      checkedMsAgo: Math.max(0, Date.now() - shared.startedAt - probe.latencyMs),
    },
    ...(probe.reachable ? {} : { error: "bridge_unavailable" }),
  };
  return json(body, probe.reachable ? 200 : 503);
}

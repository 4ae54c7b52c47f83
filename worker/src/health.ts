import type { Bindings, ParsedBindings } from "./bindings";
import { probeFleet, type BridgeProbe } from "./bridgeProbe";
import { logEvent } from "./log";

/** `/voice/health` probes each bridge at most this often per isolate, whatever the request rate. */
export const HEALTH_PROBE_INTERVAL_MS = 5_000;

interface FleetProbe {
  startedAt: number;
  /** When the last probe answered (or ran out of time): what `checkedMsAgo` counts from. */
  finishedAt?: number;
  probes: Promise<BridgeProbe[]>;
}

const latestProbe = new WeakMap<Bindings, FleetProbe>();

/** The last probe of the fleet while it is younger than the interval (in flight or done), else a new one. */
function sharedProbe(bindings: Bindings): FleetProbe {
  const now = Date.now();
  const latest = latestProbe.get(bindings);
  if (latest && now - latest.startedAt < HEALTH_PROBE_INTERVAL_MS) return latest;
  const fresh: FleetProbe = { startedAt: now, probes: probeFleet(bindings) };
  fresh.probes = fresh.probes.then((all) => {
    fresh.finishedAt = Date.now();
    return logProbes(bindings, all);
  });
  latestProbe.set(bindings, fresh);
  return fresh;
}

/** Which bridge answered what, for the operator's log (the response itself says counts only). */
function logProbes(bindings: Bindings, probes: BridgeProbe[]): BridgeProbe[] {
  logEvent("health_probe", {
    bridges: probes.map((probe, i) => ({ bridge: bindings.bridges[i].name, ...probe })),
    timeoutMs: bindings.EDGE_CONFIG.healthTimeoutMs,
  });
  return probes;
}

function json(body: object, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "no-store",
      // Counts only, no credentials: a page on another origin (the client kit) reads it after a refused upgrade.
      "Access-Control-Allow-Origin": "*",
    },
  });
}

/** The fleet in counts: `up` answered and its server runs, `free` is up and admits a session now. */
export function fleetCounts(probes: readonly BridgeProbe[]): {
  total: number;
  up: number;
  free: number;
} {
  const up = probes.filter((probe) => probe.reachable);
  return { total: probes.length, up: up.length, free: up.filter((probe) => !probe.busy).length };
}

/**
 * `GET /voice/health`: is the edge configured, and how many bridges are up and free? Counts only:
 * no bridge names, addresses or upstream statuses (the public may read this). Busy is not an
 * outage (200); no bridge up is 503.
 */
export async function healthResponse(parsed: ParsedBindings): Promise<Response> {
  if (!parsed.ok)
    return json({ status: "misconfigured", configured: false, error: "misconfigured" }, 503);
  const { bindings } = parsed;
  const shared = sharedProbe(bindings);
  const bridges = fleetCounts(await shared.probes);
  const status = bridges.up === 0 ? "bridge_down" : bridges.free === 0 ? "busy" : "ok";
  const body = {
    status,
    configured: true,
    auth: bindings.EDGE_CONFIG.auth.mode,
    bridges,
    checkedMsAgo: Date.now() - (shared.finishedAt ?? Date.now()),
    ...(bridges.up === 0 ? { error: "bridge_unavailable" } : {}),
  };
  return json(body, bridges.up === 0 ? 503 : 200);
}

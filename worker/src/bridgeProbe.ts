import type { Bindings, BridgeTarget } from "./bindings";
import { guardHealthOf, readBodyPrefix } from "./guardAnswers";
import { originCredentialHeaders } from "./passThrough";

/** One look at the bridge's health URL through the same path an upgrade takes (tunnel hostname, Access service token). */
export interface BridgeProbe {
  /** The guard answered 2xx and says its server is up; a busy bridge is reachable. */
  reachable: boolean;
  status?: number;
  latencyMs: number;
  timedOut?: boolean;
  /** The guard answered, and says the server behind it is down (`up: false`). */
  serverDown?: true;
  /** Reachable, and admitting no new session now (sessions at capacity, or draining). */
  busy?: boolean;
  sessions?: number;
  capacity?: number;
  draining?: true;
}

/**
 * Fetches one bridge's health URL (its `healthUrl`, else `/health` on its origin: the guard's
 * `{up, sessions, capacity}`) with the origin credentials, bounded by `healthTimeoutMs`.
 * Used by `/voice/health` and the bridge watch alike.
 */
export async function probeBridge(bindings: Bindings, bridge: BridgeTarget): Promise<BridgeProbe> {
  return probeHealthUrl(
    bridge.healthUrl,
    originCredentialHeaders(bindings),
    bindings.EDGE_CONFIG.healthTimeoutMs,
  );
}

/** One look at a guard's health URL with `headers` (the origin credentials), bounded by `timeoutMs`. */
export async function probeHealthUrl(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<BridgeProbe> {
  const started = Date.now();
  try {
    // Never follow a redirect with the service token: a 3xx counts as unreachable, with its status.
    const response = await fetch(url, {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    // The guard says "server down" in its 503's body: read that one too, and nothing else not 2xx.
    const readable = response.ok || response.status === 503;
    const { up, busy, ...guard } = guardHealthOf(
      response.status,
      readable ? await readBodyPrefix(response.body) : "",
    );
    if (!readable) await response.body?.cancel();
    return {
      reachable: up,
      status: response.status,
      latencyMs: Date.now() - started,
      ...(up ? { busy } : {}),
      ...guard,
    };
  } catch (error) {
    const timedOut =
      error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { reachable: false, latencyMs: Date.now() - started, ...(timedOut ? { timedOut } : {}) };
  }
}

/**
 * A Worker keeps at most six connections open at once; a probe waiting for a slot would spend its
 * `healthTimeoutMs` in the queue. So at most this many probes run at once, each timed from its start.
 */
export const PROBES_AT_ONCE = 6;

/** Every bridge's probe, in the bindings' order, `PROBES_AT_ONCE` at a time. */
export async function probeFleet(
  bindings: Bindings,
  bridges: readonly BridgeTarget[] = bindings.bridges,
): Promise<BridgeProbe[]> {
  return probeEach(bridges, (bridge) => probeBridge(bindings, bridge));
}

/** `probe` of every bridge, in their order, `PROBES_AT_ONCE` at a time. */
export async function probeEach(
  bridges: readonly BridgeTarget[],
  probe: (bridge: BridgeTarget) => Promise<BridgeProbe>,
): Promise<BridgeProbe[]> {
  const probes: BridgeProbe[] = new Array(bridges.length);
  let next = 0;
  const worker = async () => {
    while (next < bridges.length) {
      const i = next++;
      probes[i] = await probe(bridges[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROBES_AT_ONCE, bridges.length) }, worker));
  return probes;
}

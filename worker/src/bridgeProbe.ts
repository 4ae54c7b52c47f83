import type { Bindings } from "./bindings";
import { originCredentialHeaders } from "./passThrough";

/** One look at the bridge's health URL through the same path an upgrade takes (tunnel hostname, Access service token). */
export interface BridgeProbe {
  reachable: boolean;
  status?: number;
  latencyMs: number;
  timedOut?: boolean;
}

/**
 * Fetches the bridge's health URL (`bridgeHealthUrl`, else `/health` on the bridge's origin) with the
 * origin credentials, bounded by `healthTimeoutMs`. Used by `/voice/health` and the bridge watch alike.
 */
export async function probeBridge(bindings: Bindings): Promise<BridgeProbe> {
  const settings = bindings.EDGE_CONFIG;
  const url = settings.bridgeHealthUrl ?? new URL("/health", bindings.BRIDGE_URL).toString();
  const started = Date.now();
  try {
    // Never follow a redirect with the service token: a 3xx counts as unreachable, with its status.
    const response = await fetch(url, {
      headers: originCredentialHeaders(bindings),
      signal: AbortSignal.timeout(settings.healthTimeoutMs),
      redirect: "manual",
    });
    await response.body?.cancel();
    return { reachable: response.ok, status: response.status, latencyMs: Date.now() - started };
  } catch (error) {
    const timedOut =
      error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { reachable: false, latencyMs: Date.now() - started, ...(timedOut ? { timedOut } : {}) };
  }
}

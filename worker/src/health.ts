import type { ParsedBindings } from "./bindings";
import { originCredentialHeaders } from "./passThrough";

interface BridgeProbe {
  reachable: boolean;
  status?: number;
  latencyMs: number;
  timedOut?: boolean;
}

async function probeBridge(url: string, headers: Record<string, string>, timeoutMs: number): Promise<BridgeProbe> {
  const started = Date.now();
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return { reachable: response.ok, status: response.status, latencyMs: Date.now() - started };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { reachable: false, latencyMs: Date.now() - started, ...(timedOut ? { timedOut } : {}) };
  }
}

function json(body: object, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });
}

/** `GET /voice/health`: is the edge configured, and does the bridge answer within the bound? No addresses or secrets. */
export async function healthResponse(parsed: ParsedBindings): Promise<Response> {
  if (!parsed.ok) return json({ status: "misconfigured", configured: false, error: "misconfigured" }, 503);
  const { bindings } = parsed;
  const settings = bindings.EDGE_CONFIG;
  const healthUrl = settings.bridgeHealthUrl ?? new URL("/health", bindings.BRIDGE_URL).toString();
  const probe = await probeBridge(healthUrl, originCredentialHeaders(bindings), settings.healthTimeoutMs);
  const body = {
    status: probe.reachable ? "ok" : "bridge_down",
    configured: true,
    auth: settings.auth.mode,
    bridge: { ...probe, timeoutMs: settings.healthTimeoutMs },
    ...(probe.reachable ? {} : { error: "bridge_unavailable" }),
  };
  return json(body, probe.reachable ? 200 : 503);
}

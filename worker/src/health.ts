import type { ParsedBindings } from "./bindings";
import { probeBridge } from "./bridgeProbe";

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
  const probe = await probeBridge(bindings);
  const body = {
    status: probe.reachable ? "ok" : "bridge_down",
    configured: true,
    auth: settings.auth.mode,
    bridge: { ...probe, timeoutMs: settings.healthTimeoutMs },
    ...(probe.reachable ? {} : { error: "bridge_unavailable" }),
  };
  return json(body, probe.reachable ? 200 : 503);
}

import type { Bindings } from "./bindings";
import type { ClientCredentials } from "./auth/transports";
import { selectProtocol } from "./auth/transports";
import { EdgeError } from "./errors";
import { ACCESS_CLIENT_ID_HEADER, ACCESS_CLIENT_SECRET_HEADER, HEADERS_NEVER_FORWARDED, SUBJECT_HEADER } from "./headers";

/** Headers the Worker presents to the bridge's origin hostname (the Access service token). */
export function originCredentialHeaders(bindings: Bindings): Record<string, string> {
  if (!bindings.BRIDGE_ACCESS_CLIENT_ID || !bindings.BRIDGE_ACCESS_CLIENT_SECRET) return {};
  return {
    [ACCESS_CLIENT_ID_HEADER]: bindings.BRIDGE_ACCESS_CLIENT_ID,
    [ACCESS_CLIENT_SECRET_HEADER]: bindings.BRIDGE_ACCESS_CLIENT_SECRET,
  };
}

/** The upgrade request's headers as the bridge receives them: every token transport and spoofable header removed. */
export function bridgeRequestHeaders(client: Headers, credentials: ClientCredentials, subject: string | null, bindings: Bindings): Headers {
  const headers = new Headers(client);
  for (const name of HEADERS_NEVER_FORWARDED) headers.delete(name);
  headers.delete("Host");
  headers.delete("Sec-WebSocket-Protocol");
  if (credentials.applicationProtocols.length > 0) headers.set("Sec-WebSocket-Protocol", credentials.applicationProtocols.join(", "));
  if (credentials.forwardedCookie === null) headers.delete("Cookie");
  else headers.set("Cookie", credentials.forwardedCookie);
  if (subject !== null) headers.set(SUBJECT_HEADER, subject);
  for (const [name, value] of Object.entries(originCredentialHeaders(bindings))) headers.set(name, value);
  return headers;
}

export interface BridgeSession {
  response: Response;
  protocol: string | null;
}

/**
 * Opens the bridge's WebSocket and hands it back to the runtime un-accepted, so workerd couples
 * client and bridge natively: no JavaScript runs per frame, and close codes pass both ways.
 */
export async function openBridgeSession(clientHeaders: Headers, credentials: ClientCredentials, subject: string | null, bindings: Bindings): Promise<BridgeSession> {
  const target = new URL(bindings.BRIDGE_URL);
  target.search = credentials.forwardedSearch;
  const headers = bridgeRequestHeaders(clientHeaders, credentials, subject, bindings);
  headers.set("Upgrade", "websocket");

  // A native timer bounds both a hung connect and a hung handshake, with no JavaScript racing it.
  const signal = AbortSignal.timeout(bindings.EDGE_CONFIG.bridgeConnectTimeoutMs);
  let upstream: Response;
  try {
    upstream = await fetch(target.toString(), { headers, signal });
  } catch {
    throw new EdgeError(signal.aborted ? "bridge_timeout" : "bridge_unavailable");
  }

  const bridgeSocket = upstream.webSocket;
  if (upstream.status !== 101 || !bridgeSocket) {
    await upstream.body?.cancel();
    throw new EdgeError("bridge_rejected", { bridgeStatus: upstream.status });
  }

  const protocol = selectProtocol(credentials.applicationProtocols, upstream.headers.get("Sec-WebSocket-Protocol"));
  const responseHeaders = new Headers();
  if (protocol !== null) responseHeaders.set("Sec-WebSocket-Protocol", protocol);
  return { response: new Response(null, { status: 101, webSocket: bridgeSocket, headers: responseHeaders }), protocol };
}

import type { Bindings, BridgeTarget } from "./bindings";
import type { ClientCredentials } from "./auth/transports";
import { selectProtocol } from "./auth/transports";
import { SessionRefusal } from "./errors";
import { answerBodyMatters, readBodyPrefix, refusalOfAnswer } from "./guardAnswers";
import {
  ACCESS_CLIENT_ID_HEADER,
  ACCESS_CLIENT_SECRET_HEADER,
  CLIENT_ADDRESS_SOURCE_HEADER,
  SUBJECT_HEADER,
  UPGRADE_HEADERS_FORWARDED,
} from "./headers";

/** Headers the Worker presents to the bridge's origin hostname (the Access service token). */
export function originCredentialHeaders(
  bindings: Pick<Bindings, "BRIDGE_ACCESS_CLIENT_ID" | "BRIDGE_ACCESS_CLIENT_SECRET">,
): Record<string, string> {
  if (!bindings.BRIDGE_ACCESS_CLIENT_ID || !bindings.BRIDGE_ACCESS_CLIENT_SECRET) return {};
  return {
    [ACCESS_CLIENT_ID_HEADER]: bindings.BRIDGE_ACCESS_CLIENT_ID,
    [ACCESS_CLIENT_SECRET_HEADER]: bindings.BRIDGE_ACCESS_CLIENT_SECRET,
  };
}

/**
 * The bridge's upgrade request headers, built from an allow-list: what a WebSocket upgrade needs,
 * the application subprotocols (never a bearer entry), the caller's subject, the origin
 * credentials, and only the headers and cookies the stack names. Nothing else the client sent
 * reaches the bridge, whatever its spelling.
 */
export function bridgeRequestHeaders(
  client: Headers,
  credentials: ClientCredentials,
  subject: string | null,
  bindings: Bindings,
): Record<string, string> {
  const settings = bindings.EDGE_CONFIG;
  // A plain record: cheaper for the runtime than a Headers object built up with set().
  const headers: Record<string, string> = { Upgrade: "websocket" };
  for (const name of UPGRADE_HEADERS_FORWARDED) {
    const value = client.get(name);
    if (value !== null) headers[name] = value;
  }
  for (const name of settings.forwardHeaders) {
    const value = client.get(name);
    if (value !== null) headers[name] = value;
  }
  if (credentials.applicationProtocols.length > 0)
    headers["Sec-WebSocket-Protocol"] = credentials.applicationProtocols.join(", ");
  if (credentials.forwardedCookie !== null) headers.Cookie = credentials.forwardedCookie;
  if (settings.clientAddressHeader) {
    const address = client.get(CLIENT_ADDRESS_SOURCE_HEADER);
    if (address !== null) headers[settings.clientAddressHeader] = address;
  }
  if (subject !== null) headers[SUBJECT_HEADER] = subject;
  return Object.assign(headers, originCredentialHeaders(bindings));
}

export interface BridgeSession {
  response: Response;
  protocol: string | null;
}

/** The refusal a non-101 answer means for the page; only a busy or refused-options body is read. */
async function refusalOf(upstream: Response): Promise<SessionRefusal> {
  const body = answerBodyMatters(upstream.status) ? await readBodyPrefix(upstream.body) : "";
  if (!answerBodyMatters(upstream.status)) await upstream.body?.cancel();
  const { reason, failure } = refusalOfAnswer(
    upstream.status,
    upstream.headers.get("Retry-After"),
    body,
  );
  return new SessionRefusal(reason, failure, { bridgeStatus: upstream.status });
}

/** What every try of one upgrade sends, whichever bridge it goes to: built once per upgrade. */
export interface BridgeRequest {
  headers: HeadersInit;
  /** The client's query re-encoded (`canonicalSearch`), never its raw bytes; "" for none. */
  search: string;
  applicationProtocols: string[];
}

/** The upgrade request for `bridge`, from the client's allow-listed headers, credentials and checked query. */
export function bridgeRequestOf(
  clientHeaders: Headers,
  credentials: ClientCredentials,
  subject: string | null,
  bindings: Bindings,
  search: string,
): BridgeRequest {
  return {
    headers: bridgeRequestHeaders(clientHeaders, credentials, subject, bindings),
    search,
    applicationProtocols: credentials.applicationProtocols,
  };
}

/**
 * Opens one bridge's WebSocket and hands it back to the runtime un-accepted, so workerd couples
 * client and bridge natively: no JavaScript runs per frame, and close codes pass both ways. A bridge
 * that does not take the session throws a `SessionRefusal` (busy, options refused, unavailable).
 * `signal` (a native timer) bounds both a hung connect and a hung handshake.
 */
export async function openBridgeSession(
  bridge: BridgeTarget,
  request: BridgeRequest,
  signal: AbortSignal,
): Promise<BridgeSession> {
  // A bridge URL carries no query (the bindings schema refuses one): the client's goes on it.
  const target = bridge.url + request.search;
  let upstream: Response;
  try {
    // A redirect would carry the service token and the subject to another origin: a 3xx is a refusal.
    upstream = await fetch(target, { headers: request.headers, signal, redirect: "manual" });
  } catch {
    const failure = signal.aborted ? "bridge_timeout" : "bridge_unavailable";
    throw new SessionRefusal({ error: "bridge_unavailable" }, failure);
  }

  const bridgeSocket = upstream.webSocket;
  if (upstream.status !== 101) throw await refusalOf(upstream);
  if (!bridgeSocket)
    throw new SessionRefusal({ error: "bridge_unavailable" }, "bridge_rejected", {
      bridgeStatus: 101,
    });

  const protocol = selectProtocol(
    request.applicationProtocols,
    upstream.headers.get("Sec-WebSocket-Protocol"),
  );
  const headers101: Record<string, string> =
    protocol === null ? {} : { "Sec-WebSocket-Protocol": protocol };
  return {
    response: new Response(null, { status: 101, webSocket: bridgeSocket, headers: headers101 }),
    protocol,
  };
}

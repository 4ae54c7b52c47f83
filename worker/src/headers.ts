/** Header, cookie and query names the edge reads or writes: the one place each is spelled. */

/** Caller identity (the JWT `sub`) that the bridge receives; never taken from the client. */
export const SUBJECT_HEADER = "X-Voice-Subject";

/** Cloudflare Access service-token headers the Worker presents to the origin hostname. */
export const ACCESS_CLIENT_ID_HEADER = "CF-Access-Client-Id";
export const ACCESS_CLIENT_SECRET_HEADER = "CF-Access-Client-Secret";

/** Prefix of the `Sec-WebSocket-Protocol` entry that carries a token from a browser, in any letter case. */
export const BEARER_PROTOCOL_PREFIX = "bearer.";

export function isBearerProtocol(protocol: string): boolean {
  return protocol.slice(0, BEARER_PROTOCOL_PREFIX.length).toLowerCase() === BEARER_PROTOCOL_PREFIX;
}

/**
 * The client's headers a WebSocket upgrade needs, copied to the bridge's upgrade request. Everything
 * else the bridge receives is set by the Worker (`Sec-WebSocket-Protocol` without the bearer entry,
 * the subject, the origin credentials) or named by the stack (`edge.forwardHeaders`, `edge.forwardCookies`).
 * `Sec-WebSocket-Extensions` is not among them: no compression on either leg (Opus gains nothing,
 * and a small compressed message can inflate to a huge one at the bridge).
 */
export const UPGRADE_HEADERS_FORWARDED = ["Sec-WebSocket-Key", "Sec-WebSocket-Version"] as const;

/**
 * Headers a stack may not name in `edge.forwardHeaders` (nor as `edge.clientAddressHeader`):
 * credentials, identity the Worker sets itself, the transports' own headers, and addresses or
 * locations a client can forge. Every `Cf-*` name is refused as well (HEADER_PREFIXES_NEVER_FORWARDED).
 */
export const HEADERS_NEVER_FORWARDED = [
  SUBJECT_HEADER,
  ACCESS_CLIENT_ID_HEADER,
  ACCESS_CLIENT_SECRET_HEADER,
  "Authorization",
  "Proxy-Authorization",
  "X-Api-Key",
  "Cookie",
  "Host",
  "Upgrade",
  "Connection",
  "Sec-WebSocket-Protocol",
  "Sec-WebSocket-Extensions",
  ...UPGRADE_HEADERS_FORWARDED,
  "Cf-Access-Jwt-Assertion",
  "Cf-Access-Token",
  "Cf-Access-Authenticated-User-Email",
  "Cf-Connecting-Ip",
  "Cf-Connecting-Ipv6",
  "Cf-Pseudo-Ipv4",
  "Cf-Ipcountry",
  "X-Forwarded-For",
  "X-Original-Forwarded-For",
  "X-Forwarded-Host",
  "X-Forwarded-Proto",
  "Forwarded",
  "X-Real-Ip",
  "True-Client-Ip",
  "X-Client-Ip",
  "Client-Ip",
  "X-Cluster-Client-Ip",
] as const;

/** Name prefixes refused like HEADERS_NEVER_FORWARDED: `Cf-*` is Cloudflare's and Access's (addresses, location, credentials). */
export const HEADER_PREFIXES_NEVER_FORWARDED = ["Cf-"] as const;

const NEVER_FORWARDED = new Set<string>(HEADERS_NEVER_FORWARDED.map(foldHeaderName));
const PREFIXES_NEVER_FORWARDED = HEADER_PREFIXES_NEVER_FORWARDED.map(foldHeaderName);

/** Whether a stack may name `name` to be copied from the client (in any letter case, `_` or `-`). */
export function isForwardableHeader(name: string): boolean {
  const folded = foldHeaderName(name);
  return (
    !NEVER_FORWARDED.has(folded) && !PREFIXES_NEVER_FORWARDED.some((p) => folded.startsWith(p))
  );
}

/** Header names compared the way CGI/WSGI servers fold them: case-insensitive, `_` as `-`. */
export function foldHeaderName(name: string): string {
  return name.toLowerCase().replace(/_/g, "-");
}

/** Where Cloudflare puts the client's address; Cloudflare sets it, a client cannot. */
export const CLIENT_ADDRESS_SOURCE_HEADER = "CF-Connecting-IP";

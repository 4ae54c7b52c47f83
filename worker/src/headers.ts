/** Header, cookie and query names the edge reads or writes: the one place each is spelled. */

/** Caller identity (the JWT `sub`) that the bridge receives; never taken from the client. */
export const SUBJECT_HEADER = "X-Voice-Subject";

/** Cloudflare Access service-token headers the Worker presents to the origin hostname. */
export const ACCESS_CLIENT_ID_HEADER = "CF-Access-Client-Id";
export const ACCESS_CLIENT_SECRET_HEADER = "CF-Access-Client-Secret";

/** Prefix of the `Sec-WebSocket-Protocol` entry that carries a token from a browser. */
export const BEARER_PROTOCOL_PREFIX = "bearer.";

/** Headers a client may send that must never reach the bridge as sent. */
export const HEADERS_NEVER_FORWARDED = [
  SUBJECT_HEADER,
  ACCESS_CLIENT_ID_HEADER,
  ACCESS_CLIENT_SECRET_HEADER,
  "Authorization",
  "Cf-Access-Jwt-Assertion",
] as const;

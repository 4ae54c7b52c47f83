import type { SessionRefusalCause, SessionRefusalReason } from "./guardAnswers";
import {
  SESSION_LIMIT_CLOSE_CODE,
  TICKET_REFUSED_CLOSE_CODE,
  type SessionLimitReason,
  type TicketRefusalReason,
} from "./line/contract";

/**
 * Every refusal the edge gives before a client is authenticated (and the few that are not about the
 * bridge): a stable `error` code and its HTTP status, in one table. An unauthenticated client never
 * gets a socket.
 */
export const ERRORS = {
  not_found: 404,
  method_not_allowed: 405,
  upgrade_required: 426,
  subprotocol_required: 400,
  origin_required: 403,
  origin_not_allowed: 403,
  token_missing: 401,
  token_ambiguous: 401,
  token_malformed: 401,
  token_signature_invalid: 401,
  token_expired: 401,
  token_not_yet_valid: 401,
  token_issuer_invalid: 401,
  token_audience_invalid: 401,
  token_claims_invalid: 401,
  token_algorithm_not_allowed: 401,
  token_key_unknown: 401,
  auth_unavailable: 503,
  misconfigured: 500,
  internal_error: 500,
} as const;

export type ErrorCode = keyof typeof ERRORS;

const MESSAGES: Record<ErrorCode, string> = {
  not_found: "No such endpoint under /voice/.",
  method_not_allowed: "Method not allowed.",
  upgrade_required: "This endpoint speaks WebSocket: send GET with Upgrade: websocket.",
  subprotocol_required:
    "Offer an application subprotocol besides the bearer entry, e.g. ['voice.v1', 'bearer.<jwt>'].",
  origin_required: "Requests without an Origin header are not allowed here.",
  origin_not_allowed: "This Origin is not allowed.",
  token_missing:
    "No token: send it as a 'bearer.<jwt>' subprotocol, an Authorization header, the session cookie or the access_token parameter.",
  token_ambiguous:
    "Two or more cookies carry the token (one may have been set by another subdomain): clear the cookies and sign in again.",
  token_malformed: "The token is not a well-formed JWT.",
  token_signature_invalid: "The token's signature does not verify.",
  token_expired: "The token has expired.",
  token_not_yet_valid: "The token is not valid yet.",
  token_issuer_invalid: "The token's issuer is not accepted.",
  token_audience_invalid: "The token's audience is not accepted.",
  token_claims_invalid: "The token lacks a required claim or has an invalid one.",
  token_algorithm_not_allowed: "The token's algorithm is not allowed.",
  token_key_unknown: "No key is known for the token's key id.",
  auth_unavailable: "Token keys cannot be fetched right now; retry shortly.",
  misconfigured: "The edge is misconfigured.",
  internal_error: "The edge failed unexpectedly.",
};

export class EdgeError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail: Record<string, string | number> = {},
  ) {
    super(code);
    this.name = "EdgeError";
    this.status = ERRORS[code];
  }
}

export function errorResponse(error: EdgeError, headers: HeadersInit = {}): Response {
  const responseHeaders = new Headers(headers);
  responseHeaders.set("Content-Type", "application/json; charset=utf-8");
  responseHeaders.set("Cache-Control", "no-store");
  if (error.code === "token_missing") responseHeaders.set("WWW-Authenticate", "Bearer");
  else if (error.status === 401)
    responseHeaders.set(
      "WWW-Authenticate",
      `Bearer error="invalid_token", error_description="${error.code}"`,
    );
  // workerd drops this hop-by-hop header from non-101 responses; the body says it too.
  if (error.status === 426) responseHeaders.set("Upgrade", "websocket");
  const body = {
    error: error.code,
    message: MESSAGES[error.code],
    ...(error.status === 426 ? { upgrade: "websocket" } : {}),
    ...error.detail,
  };
  return new Response(JSON.stringify(body), { status: error.status, headers: responseHeaders });
}

/** Every reason a page hears in a close after authentication: the bridge's, and the waiting line's. */
export type RefusalReason = SessionRefusalReason | SessionLimitReason | TicketRefusalReason;

/**
 * After authentication what the page must act on arrives as a 101 and then a close code with a
 * short JSON reason: page script cannot read a failed upgrade (it sees 1006). 1013 "Try Again
 * Later" and 1014 "Bad Gateway" are IANA's; 4400, 4409 and 4410 are the edge's own.
 */
export const SESSION_CLOSE_CODES = {
  bridge_busy: 1013,
  session_options_invalid: 4400,
  bridge_unavailable: 1014,
  session_limit: SESSION_LIMIT_CLOSE_CODE,
  ticket_refused: TICKET_REFUSED_CLOSE_CODE,
} as const satisfies Record<RefusalReason["error"], number>;

/** The bridge did not take an authenticated session: answered with a 101 and a close, never with HTTP. */
export class SessionRefusal extends Error {
  readonly closeCode: number;
  readonly closeReason: string;
  constructor(
    readonly reason: RefusalReason,
    /** What the log line names (`bridge_timeout`, `bridge_rejected`, … ): finer than the reason. */
    readonly failure: SessionRefusalCause | "session_limit" | "ticket_refused",
    readonly detail: Record<string, number> = {},
  ) {
    super(failure);
    this.name = "SessionRefusal";
    this.closeCode = SESSION_CLOSE_CODES[reason.error];
    // At most 123 bytes fit a close frame; every reason is built here from known names and numbers.
    this.closeReason = JSON.stringify(reason);
  }
}

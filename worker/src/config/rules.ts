// The rules the stack config (infra/config) and the Worker's bindings parser (../bindings.ts) both
// apply, each defined and worded once. Each caller names the keys its own way: the stack says
// `edge` and `jwtSecret`, the Worker `EDGE_CONFIG` and `JWT_SECRET`.
import * as z from "zod/mini";
import { isHmacAlgorithm } from "./algorithms";
import { foldHeaderName } from "../headers";
import { TICKET_QUERY_PARAMETER } from "../line/contract";

/** One broken rule: the key at fault, as a path in the caller's keys, and why. Never a secret's value. */
export interface Problem {
  path: (string | number)[];
  message: string;
}

/** What the caller calls the edge settings and the two HMAC secrets. */
export interface EdgeKeyNames {
  edge: string;
  jwtSecret: string;
  jwtSecretPrevious: string;
}

/** The edge settings these rules read (the parsed `EDGE_CONFIG` / `voice-edge:edge`). */
export interface EdgeRuleInput {
  auth:
    | { mode: "off" }
    | {
        mode: "jwt";
        algorithms: readonly string[];
        audience?: string;
        jwksUrl?: string;
        cookieName?: string;
        queryParameter?: string | null;
        previousSecretAcceptedUntil?: string;
      };
  allowedOrigins: readonly string[];
  allowMissingOrigin: boolean;
  forwardCookies: readonly string[];
  forwardHeaders?: readonly string[];
  clientAddressHeader?: string;
  bridgeConnectTimeoutMs?: number;
  admissionTimeoutMs?: number;
}

/** The total bound of one upgrade's tries when the stack sets none: room for at least one whole try. */
export const DEFAULT_ADMISSION_TIMEOUT_MS = 20_000;

/** `admissionTimeoutMs`, or its default: the larger of 20 s and one try's bound. */
export function admissionTimeoutOf(edge: {
  bridgeConnectTimeoutMs: number;
  admissionTimeoutMs?: number;
}): number {
  return (
    edge.admissionTimeoutMs ?? Math.max(DEFAULT_ADMISSION_TIMEOUT_MS, edge.bridgeConnectTimeoutMs)
  );
}

/** A total bound shorter than one try's would cut every try short, silently. */
export function validateAdmissionTimeout(edge: EdgeRuleInput): Problem[] {
  const { admissionTimeoutMs, bridgeConnectTimeoutMs } = edge;
  if (admissionTimeoutMs === undefined || bridgeConnectTimeoutMs === undefined) return [];
  if (admissionTimeoutMs >= bridgeConnectTimeoutMs) return [];
  return [
    {
      path: ["admissionTimeoutMs"],
      message: `is ${admissionTimeoutMs} ms, shorter than bridgeConnectTimeoutMs (${bridgeConnectTimeoutMs} ms), the bound of one try: make it at least that, or leave it out (default: the larger of ${DEFAULT_ADMISSION_TIMEOUT_MS} and bridgeConnectTimeoutMs)`,
    },
  ];
}

/** Whether each HMAC secret is set (the values are never read into a message). */
export interface HmacSecretsInput {
  jwtSecret?: unknown;
  jwtSecretPrevious?: unknown;
}

export const JWT_SECRET_MIN_LENGTH = 32;
/** Least number of different characters, whitespace not counted, in an HS* secret. */
export const JWT_SECRET_MIN_DISTINCT = 8;

/**
 * Whether a secret has the least variety a generated one always has: 32 spaces or one letter
 * repeated are long enough but guessable. A random secret (hex, base64) is far above the bound.
 */
export function secretHasVariety(secret: string): boolean {
  return new Set(secret.replace(/\s/g, "")).size >= JWT_SECRET_MIN_DISTINCT;
}

/** An HS* signing key, current or previous. */
export const jwtSecretSchema = z
  .string()
  .check(
    z.minLength(JWT_SECRET_MIN_LENGTH, `must be at least ${JWT_SECRET_MIN_LENGTH} characters`),
    z.refine(
      secretHasVariety,
      `must have at least ${JWT_SECRET_MIN_DISTINCT} different characters besides whitespace: generate one, e.g. openssl rand -base64 32`,
    ),
  );

/** The longest a rotation window may still run: a forgotten previous secret stops working within it. */
export const MAX_ROTATION_WINDOW_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Hosts a plain-http URL may name: this machine only, for local runs and tests. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** A point in time with its offset, e.g. the end of a rotation window. */
export const rfc3339TimeSchema = z.iso.datetime({
  offset: true,
  error: "must be an RFC 3339 time such as 2026-12-01T12:00:00Z",
});

/**
 * Some client must be able to connect: browsers send an Origin, native clients none. The stack
 * refuses it; the Worker, which would answer every upgrade 403, leaves it to the stack.
 */
export function validateOriginPolicy(edge: EdgeRuleInput): Problem[] {
  if (edge.allowedOrigins.length > 0 || edge.allowMissingOrigin) return [];
  return [
    {
      path: ["allowedOrigins"],
      message: "is empty and allowMissingOrigin is false: no client could connect",
    },
  ];
}

/** Asymmetric algorithms verify with public keys, which come only from a JWKS. */
export function validateJwksUrl(edge: EdgeRuleInput): Problem[] {
  const auth = edge.auth;
  if (auth.mode !== "jwt" || auth.jwksUrl) return [];
  const asymmetric = auth.algorithms.filter((alg) => !isHmacAlgorithm(alg));
  if (asymmetric.length === 0) return [];
  return [
    {
      path: ["auth", "jwksUrl"],
      message: `is required because auth.algorithms includes ${asymmetric.join(", ")} (their keys come from a JWKS)`,
    },
  ];
}

/** Keys fetched over plain http can be swapped by anyone on the path, and with them any token forged. */
export function validateJwksUrlScheme(edge: EdgeRuleInput): Problem[] {
  const auth = edge.auth;
  if (auth.mode !== "jwt" || !auth.jwksUrl) return [];
  let url: URL;
  try {
    url = new URL(auth.jwksUrl);
  } catch {
    return [];
  }
  if (url.protocol !== "http:" || isLoopbackHost(url.hostname)) return [];
  return [
    {
      path: ["auth", "jwksUrl"],
      message: `${auth.jwksUrl} is plain http: keys fetched without TLS can be replaced on the way, and with them any token forged; use https:// (http only to loopback, for local runs)`,
    },
  ];
}

/** Without an audience, a token the same issuer signed for another service would be accepted here. */
export function validateAudience(edge: EdgeRuleInput): Problem[] {
  const auth = edge.auth;
  if (auth.mode !== "jwt" || auth.audience) return [];
  return [
    {
      path: ["auth", "audience"],
      message:
        "is required in jwt mode: without it a token the issuer signed for another service is accepted here (set the aud your token issuer writes, e.g. voice-edge)",
    },
  ];
}

/**
 * A header the stack forwards from the client and the header the Worker fills with the client's
 * address must differ in every spelling: otherwise the client's forged copy reaches the bridge too
 * (joined before the real one), and the bridge cannot tell which is which.
 */
export function validateClientAddressNotForwarded(edge: EdgeRuleInput): Problem[] {
  const address = edge.clientAddressHeader;
  if (!address) return [];
  const folded = foldHeaderName(address);
  return (edge.forwardHeaders ?? []).flatMap((name, i) =>
    foldHeaderName(name) === folded
      ? [
          {
            path: ["forwardHeaders", i],
            message: `${name} is also clientAddressHeader (${address}): the client's copy would reach the bridge beside the address from CF-Connecting-IP; remove it from forwardHeaders`,
          },
        ]
      : [],
  );
}

/** The cookie that carries the token never reaches the bridge. */
export function validateTokenCookieNotForwarded(edge: EdgeRuleInput): Problem[] {
  const auth = edge.auth;
  if (auth.mode !== "jwt" || !auth.cookieName || !edge.forwardCookies.includes(auth.cookieName))
    return [];
  return [
    { path: ["forwardCookies"], message: `must not name the token cookie (${auth.cookieName})` },
  ];
}

/** The token's query parameter is not the one a turn's ticket arrives in (the waiting line's). */
export function validateTokenQueryParameter(edge: EdgeRuleInput): Problem[] {
  if (edge.auth.mode !== "jwt" || edge.auth.queryParameter !== TICKET_QUERY_PARAMETER) return [];
  return [
    {
      path: ["auth", "queryParameter"],
      message: `is "${TICKET_QUERY_PARAMETER}", the query parameter a waiting-line turn's ticket arrives in: choose another name (default "access_token")`,
    },
  ];
}

/** The edge-settings rules both the stack and the Worker apply, with paths relative to the edge settings. */
export function validateEdgeSettings(edge: EdgeRuleInput, now = Date.now()): Problem[] {
  return [
    ...validateAudience(edge),
    ...validateJwksUrl(edge),
    ...validateJwksUrlScheme(edge),
    ...validateRotationWindowLength(edge, now),
    ...validateTokenCookieNotForwarded(edge),
    ...validateTokenQueryParameter(edge),
    ...validateClientAddressNotForwarded(edge),
    ...validateAdmissionTimeout(edge),
  ];
}

/** HS* tokens verify with the shared secret, so allowing one needs it. */
export function validateHmacSecret(
  edge: EdgeRuleInput,
  secrets: HmacSecretsInput,
  names: EdgeKeyNames,
): Problem[] {
  const auth = edge.auth;
  if (auth.mode !== "jwt" || secrets.jwtSecret) return [];
  const hmac = auth.algorithms.filter(isHmacAlgorithm);
  if (hmac.length === 0) return [];
  return [
    {
      path: [names.jwtSecret],
      message: `is required because ${names.edge}.auth.algorithms includes ${hmac.join(", ")}`,
    },
  ];
}

/** A previous secret is accepted only inside a rotation window, which must end. */
export function validatePreviousSecretWindow(
  edge: EdgeRuleInput,
  secrets: HmacSecretsInput,
  names: EdgeKeyNames,
): Problem[] {
  const until = edge.auth.mode === "jwt" ? edge.auth.previousSecretAcceptedUntil : undefined;
  if (!secrets.jwtSecretPrevious || until) return [];
  return [
    {
      path: [names.jwtSecretPrevious],
      message: `is set but ${names.edge}.auth.previousSecretAcceptedUntil is not: say until when the previous secret is accepted (RFC 3339)`,
    },
  ];
}

/**
 * A rotation window is a few days: one that ends further ahead than MAX_ROTATION_WINDOW_DAYS keeps
 * a replaced (maybe leaked) secret valid for months. A window already over is fine: it accepts nothing.
 */
export function validateRotationWindowLength(edge: EdgeRuleInput, now = Date.now()): Problem[] {
  const until = edge.auth.mode === "jwt" ? edge.auth.previousSecretAcceptedUntil : undefined;
  if (!until) return [];
  const end = Date.parse(until);
  if (Number.isNaN(end) || end - now <= MAX_ROTATION_WINDOW_DAYS * DAY_MS) return [];
  return [
    {
      path: ["auth", "previousSecretAcceptedUntil"],
      message: `${until} is more than ${MAX_ROTATION_WINDOW_DAYS} days ahead: a rotation window accepts the replaced secret only for days; end it sooner`,
    },
  ];
}

/** The previous secret is the one being replaced, so never the current one. */
export function validatePreviousSecretDiffers(
  secrets: HmacSecretsInput,
  names: EdgeKeyNames,
): Problem[] {
  if (!secrets.jwtSecretPrevious || secrets.jwtSecretPrevious !== secrets.jwtSecret) return [];
  return [
    {
      path: [names.jwtSecretPrevious],
      message: `equals ${names.jwtSecret}; it must be the secret being replaced`,
    },
  ];
}

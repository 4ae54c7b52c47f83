// The rules the stack config (infra/config) and the Worker's bindings parser (../bindings.ts) both
// apply, each defined and worded once. Each caller names the keys its own way: the stack says
// `edge` and `jwtSecret`, the Worker `EDGE_CONFIG` and `JWT_SECRET`.
import * as z from "zod/mini";
import { isHmacAlgorithm } from "./algorithms";
import { foldHeaderName } from "../headers";

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
        jwksUrl?: string;
        cookieName?: string;
        previousSecretAcceptedUntil?: string;
      };
  allowedOrigins: readonly string[];
  allowMissingOrigin: boolean;
  forwardCookies: readonly string[];
  forwardHeaders?: readonly string[];
  clientAddressHeader?: string;
}

/** Whether each HMAC secret is set (the values are never read into a message). */
export interface HmacSecretsInput {
  jwtSecret?: unknown;
  jwtSecretPrevious?: unknown;
}

export const JWT_SECRET_MIN_LENGTH = 32;

/** An HS* signing key, current or previous. */
export const jwtSecretSchema = z
  .string()
  .check(
    z.minLength(JWT_SECRET_MIN_LENGTH, `must be at least ${JWT_SECRET_MIN_LENGTH} characters`),
  );

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

/** The edge-settings rules both the stack and the Worker apply, with paths relative to the edge settings. */
export function validateEdgeSettings(edge: EdgeRuleInput): Problem[] {
  return [
    ...validateJwksUrl(edge),
    ...validateTokenCookieNotForwarded(edge),
    ...validateClientAddressNotForwarded(edge),
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

// HS* JWTs verified with the runtime's own HMAC and a single pass over the token. jose verifies
// everything else (and is the reference this module is tested against, case by case): for HS256,
// jose's generic path cost about 100 µs of CPU per upgrade in workerd, most of the Worker's own.
import { EdgeError } from "../errors";

export interface HmacClaimRules {
  issuer?: string;
  audience?: string;
  clockToleranceSeconds: number;
}

export interface VerifiedClaims {
  sub: unknown;
  [claim: string]: unknown;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const ascii = new TextEncoder();
const NON_ASCII = /[\x80-\xff]/;

function decodeSegment(segment: string): string {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) throw new EdgeError("token_malformed");
  return atob(segment.replace(/-/g, "+").replace(/_/g, "/"));
}

function parseObject(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    const binary = decodeSegment(segment);
    // Claims are nearly always ASCII: then the decoded bytes are the text already.
    value = JSON.parse(NON_ASCII.test(binary) ? utf8.decode(asciiBytes(binary)) : binary);
  } catch (error) {
    throw error instanceof EdgeError ? error : new EdgeError("token_malformed");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new EdgeError("token_malformed");
  return value as Record<string, unknown>;
}

/** Latin-1 text (a token, or what atob returns) as its bytes. */
function asciiBytes(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const claimInvalid = (claim: string) => new EdgeError("token_claims_invalid", { claim });

/** A token's protected header, parsed once (malformed → token_malformed). */
export function protectedHeader(token: string): Record<string, unknown> {
  const dot = token.indexOf(".");
  if (dot < 0) throw new EdgeError("token_malformed");
  return parseObject(token.slice(0, dot));
}

/**
 * The payload's claims checked in jose's order (validateClaimsSet), so both paths name the same
 * failure: presence (iss, aud, sub, exp), then iss, aud, iat, nbf, exp.
 */
function checkClaims(payload: Record<string, unknown>, rules: HmacClaimRules, now: number): void {
  const required = [
    "exp",
    "sub",
    ...(rules.audience !== undefined ? ["aud"] : []),
    ...(rules.issuer !== undefined ? ["iss"] : []),
  ].reverse();
  for (const claim of required) {
    if (!(claim in payload))
      throw claim === "iss"
        ? new EdgeError("token_issuer_invalid", { claim })
        : claim === "aud"
          ? new EdgeError("token_audience_invalid", { claim })
          : claimInvalid(claim);
  }
  if (rules.issuer !== undefined && payload.iss !== rules.issuer)
    throw new EdgeError("token_issuer_invalid", { claim: "iss" });
  if (rules.audience !== undefined) {
    const aud = payload.aud;
    const matches =
      typeof aud === "string"
        ? aud === rules.audience
        : Array.isArray(aud) && aud.includes(rules.audience);
    if (!matches) throw new EdgeError("token_audience_invalid", { claim: "aud" });
  }
  const tolerance = rules.clockToleranceSeconds;
  if (payload.iat !== undefined && typeof payload.iat !== "number") throw claimInvalid("iat");
  if (payload.nbf !== undefined) {
    // jose reports a malformed nbf against the nbf claim, which the edge names token_not_yet_valid.
    if (typeof payload.nbf !== "number")
      throw new EdgeError("token_not_yet_valid", { claim: "nbf" });
    if (payload.nbf > now + tolerance) throw new EdgeError("token_not_yet_valid", { claim: "nbf" });
  }
  if (typeof payload.exp !== "number") throw claimInvalid("exp");
  if (payload.exp <= now - tolerance) throw new EdgeError("token_expired");
}

/**
 * Verifies a compact HS* JWT (its header's `alg` already checked against the allowed list) with each
 * key in turn — the current secret, then a previous one during a rotation window. Returns the
 * payload once the signature and the claims hold; throws an EdgeError naming the failure.
 */
export async function verifyHmacJwt(
  token: string,
  header: Record<string, unknown>,
  keys: CryptoKey[],
  rules: HmacClaimRules,
  now = Math.floor(Date.now() / 1000),
): Promise<VerifiedClaims> {
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  if (first < 0 || second < 0 || token.indexOf(".", second + 1) !== -1)
    throw new EdgeError("token_malformed");
  // jose refuses a critical header extension it does not implement; none is implemented here.
  if ("crit" in header) throw new EdgeError("token_malformed");
  const signature = asciiBytes(decodeSegment(token.slice(second + 1)));
  const signed = ascii.encode(token.slice(0, second));
  let valid = false;
  for (const key of keys) {
    if (await crypto.subtle.verify("HMAC", key, signature, signed)) {
      valid = true;
      break;
    }
  }
  if (!valid) throw new EdgeError("token_signature_invalid");
  const payload = parseObject(token.slice(first + 1, second));
  checkClaims(payload, rules, now);
  return payload as VerifiedClaims;
}

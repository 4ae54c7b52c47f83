import { errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { JwtAuthSettings } from "../bindings";
import { isHmacAlgorithm } from "../config/algorithms";
import { EdgeError, type ErrorCode } from "../errors";
import { logEvent } from "../log";
import { protectedHeader, verifyHmacJwt } from "./hmacJwt";
import { KeySetUnavailable, lastGoodRemoteKeySet } from "./keySet";

export interface Caller {
  subject: string;
}

export interface VerificationKeys {
  /** HMAC secret for HS* algorithms. */
  secret?: string;
  /** The HMAC secret being rotated out, and until when (epoch ms) it is still accepted. */
  previousSecret?: string;
  previousSecretAcceptedUntil?: number;
  jwksTimeoutMs: number;
  now?: number;
}

const JWKS_CACHE_MAX_AGE_MS = 60 * 60 * 1000;
const JWKS_COOLDOWN_MS = 30 * 1000;
const remoteKeySets = new Map<string, JWTVerifyGetKey>();

/** One remote key set per URL per isolate, so keys are fetched once and reused across requests, and kept while the JWKS is down. */
function remoteKeySet(url: string, timeoutMs: number): JWTVerifyGetKey {
  const cacheKey = `${timeoutMs} ${url}`;
  let keySet = remoteKeySets.get(cacheKey);
  if (!keySet) {
    keySet = lastGoodRemoteKeySet(url, {
      timeoutMs,
      maxAgeMs: JWKS_CACHE_MAX_AGE_MS,
      cooldownMs: JWKS_COOLDOWN_MS,
      onStaleKeysKept: (keyAgeMs, error) =>
        logEvent("jwks_refresh_failed", {
          keptKeysAgeSeconds: Math.round(keyAgeMs / 1000),
          exception: error instanceof Error ? error.name : typeof error,
        }),
    });
    remoteKeySets.set(cacheKey, keySet);
  }
  return keySet;
}

const HMAC_HASH: Record<string, string> = { HS256: "SHA-256", HS384: "SHA-384", HS512: "SHA-512" };
const hmacKeys = new Map<string, CryptoKey | Promise<CryptoKey>>();

/** Imports the HMAC secret once per algorithm per isolate; after the first, the key itself (no await). */
function hmacKey(secret: string, alg: string): CryptoKey | Promise<CryptoKey> {
  const cacheKey = alg + secret;
  let key = hmacKeys.get(cacheKey);
  if (!key) {
    const imported = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: HMAC_HASH[alg] },
      false,
      ["verify"],
    );
    hmacKeys.set(cacheKey, imported);
    void imported.then((resolved) => hmacKeys.set(cacheKey, resolved));
    key = imported;
  }
  return key;
}

const CLAIM_ERRORS: Record<string, ErrorCode> = {
  nbf: "token_not_yet_valid",
  iss: "token_issuer_invalid",
  aud: "token_audience_invalid",
};

/** What jose's verification errors mean to a client (exported for the HS* path's reference tests). */
export function classify(error: unknown): EdgeError {
  if (error instanceof EdgeError) return error;
  if (error instanceof errors.JWTExpired) return new EdgeError("token_expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new EdgeError(CLAIM_ERRORS[error.claim] ?? "token_claims_invalid", {
      claim: error.claim,
    });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new EdgeError("token_signature_invalid");
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new EdgeError("token_algorithm_not_allowed");
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
    return new EdgeError("token_key_unknown");
  if (error instanceof KeySetUnavailable || error instanceof errors.JWKSInvalid)
    return new EdgeError("auth_unavailable");
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported
  ) {
    return new EdgeError("token_malformed");
  }
  // A failed JWKS fetch surfaces as the runtime's own error (TypeError: network connection lost, ...).
  return new EdgeError("auth_unavailable");
}

const PRINTABLE_SUBJECT = /^[\x20-\x7e]{1,256}$/;

/**
 * `auth.maxTokenLifetimeSeconds`: a token issued for longer (`exp` − `iat`) is refused, so a leaked
 * long-lived one does not work for a year. `iat` is then required, and may not lie ahead of the
 * clock (beyond the tolerance): a future `iat` would stretch the lifetime it allows.
 */
function checkLifetime(
  payload: { iat?: unknown; exp?: unknown },
  settings: JwtAuthSettings,
  nowSeconds: number,
): void {
  const cap = settings.maxTokenLifetimeSeconds;
  if (cap === undefined) return;
  const { iat, exp } = payload;
  if (typeof iat !== "number" || iat > nowSeconds + settings.clockToleranceSeconds)
    throw new EdgeError("token_claims_invalid", { claim: "iat" });
  if (typeof exp !== "number" || exp - iat > cap)
    throw new EdgeError("token_claims_invalid", { claim: "exp" });
}

/** Verifies a compact JWT against the stack's rules; throws an EdgeError naming the failure. */
export async function verifyToken(
  token: string,
  settings: JwtAuthSettings,
  keys: VerificationKeys,
): Promise<Caller> {
  const header = protectedHeader(token);
  const alg = header.alg;
  if (typeof alg !== "string" || !(settings.algorithms as readonly string[]).includes(alg))
    throw new EdgeError("token_algorithm_not_allowed");

  let payload: { sub?: unknown; iat?: unknown; exp?: unknown };
  if (isHmacAlgorithm(alg)) {
    const current = hmacKey(keys.secret as string, alg);
    const candidates = [current instanceof Promise ? await current : current];
    const inRotationWindow =
      keys.previousSecret !== undefined &&
      (keys.now ?? Date.now()) <= (keys.previousSecretAcceptedUntil ?? 0);
    if (inRotationWindow) candidates.push(await hmacKey(keys.previousSecret as string, alg));
    payload = await verifyHmacJwt(token, header, candidates, {
      issuer: settings.issuer,
      audience: settings.audience,
      clockToleranceSeconds: settings.clockToleranceSeconds,
    });
  } else {
    if (token.split(".").length !== 3) throw new EdgeError("token_malformed");
    const options = {
      algorithms: settings.algorithms,
      issuer: settings.issuer,
      audience: settings.audience,
      clockTolerance: settings.clockToleranceSeconds,
      requiredClaims: ["exp", "sub"],
    };
    try {
      ({ payload } = await jwtVerify(
        token,
        remoteKeySet(settings.jwksUrl as string, keys.jwksTimeoutMs),
        options,
      ));
    } catch (error) {
      throw classify(error);
    }
  }
  if (
    typeof payload.sub !== "string" ||
    !PRINTABLE_SUBJECT.test(payload.sub) ||
    payload.sub.trim() !== payload.sub
  ) {
    throw new EdgeError("token_claims_invalid", { claim: "sub" });
  }
  checkLifetime(payload, settings, Math.floor((keys.now ?? Date.now()) / 1000));
  return { subject: payload.sub };
}

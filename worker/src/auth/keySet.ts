import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";

export interface RemoteKeySetOptions {
  /** Bound on each fetch of the key set, body included. */
  timeoutMs: number;
  /** How long a fetched key set is used before a refresh is attempted. */
  maxAgeMs: number;
  /** Least time between two fetch attempts once a key set is held (failed refreshes, unknown key ids). */
  cooldownMs: number;
  /** Called when a refresh fails and the last good key set stays in use. */
  onStaleKeysKept?: (keyAgeMs: number, error: unknown) => void;
}

/** The JWKS answered, but not with a key set. */
export class KeySetUnavailable extends Error {
  override name = "KeySetUnavailable";
}

async function fetchKeySet(url: string, timeoutMs: number): Promise<JWTVerifyGetKey> {
  const response = await fetch(url, {
    headers: { Accept: "application/json, application/jwk-set+json" },
    redirect: "manual",
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new KeySetUnavailable(`the JWKS answered HTTP ${response.status}`);
  }
  return createLocalJWKSet((await response.json()) as JSONWebKeySet);
}

/**
 * A remote JWKS that keeps serving its last good key set while the endpoint is down or slow.
 * jose's createRemoteJWKSet refetches once the cache age has passed and fails every token when
 * that refetch fails, so an hour into a JWKS outage every session would be refused.
 * No fetch is shared between requests: workerd forbids awaiting another request's I/O.
 */
export function lastGoodRemoteKeySet(url: string, options: RemoteKeySetOptions): JWTVerifyGetKey {
  let held: { keys: JWTVerifyGetKey; fetchedAt: number } | undefined;
  let lastAttemptAt = -Infinity;

  async function refresh(): Promise<JWTVerifyGetKey> {
    lastAttemptAt = Date.now();
    const keys = await fetchKeySet(url, options.timeoutMs);
    held = { keys, fetchedAt: Date.now() };
    return keys;
  }
  const mayFetch = () => Date.now() - lastAttemptAt >= options.cooldownMs;

  return async (header, token) => {
    if (!held) return (await refresh())(header, token);
    const current = held;
    if (Date.now() - current.fetchedAt >= options.maxAgeMs && mayFetch()) {
      await refresh().catch((error: unknown) =>
        options.onStaleKeysKept?.(Date.now() - current.fetchedAt, error),
      );
    }
    try {
      return await held.keys(header, token);
    } catch (error) {
      // A key id we do not hold may be a newly rotated key: look once per cooldown. If that
      // fetch fails, the caller learns the keys are unavailable, not that the token is bad.
      if (error instanceof errors.JWKSNoMatchingKey && mayFetch())
        return (await refresh())(header, token);
      throw error;
    }
  };
}

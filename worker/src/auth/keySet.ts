import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";

export interface RemoteKeySetOptions {
  /** Bound on each fetch of the key set, body included. */
  timeoutMs: number;
  /** How long a fetched key set is used before a refresh is attempted. */
  maxAgeMs: number;
  /** Least time between two fetch attempts (failed first fetches, failed refreshes, unknown key ids). */
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

/** Settles like `promise`, or rejects with KeySetUnavailable after `ms`: a waiter's own bound. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer!: ReturnType<typeof setTimeout>; // set at once: the executor runs synchronously
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new KeySetUnavailable(`no key set within ${ms} ms (a shared fetch)`)),
      ms,
    );
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/**
 * A remote JWKS that keeps serving its last good key set while the endpoint is down or slow.
 * jose's createRemoteJWKSet refetches once the cache age has passed and fails every token when
 * that refetch fails, so an hour into a JWKS outage every session would be refused.
 *
 * At most one fetch is under way at a time, and after any attempt the next waits for the cooldown:
 * - with keys held, a refresh (past the cache age, or for an unknown key id) is tried by one
 *   request per cooldown while the others keep using the held keys;
 * - with none held (a cold isolate, or a JWKS that never answered), concurrent requests share the
 *   one fetch in flight, each waiting no longer than `timeoutMs` of its own; once it failed, every
 *   request until the cooldown ends is refused at once (KeySetUnavailable) without a fetch. So an
 *   outage costs the JWKS one request per isolate per cooldown, however many upgrades arrive.
 * What is shared is a plain promise of a parsed key set (the response is read by the request that
 * fetched it); should that request be cancelled before its fetch ends, the waiters' own bounds end
 * their wait, and a fetch older than its bound is not waited on again.
 */
export function lastGoodRemoteKeySet(url: string, options: RemoteKeySetOptions): JWTVerifyGetKey {
  let held: { keys: JWTVerifyGetKey; fetchedAt: number } | undefined;
  let lastAttemptAt = -Infinity;
  let inFlight: { keys: Promise<JWTVerifyGetKey>; startedAt: number } | undefined;

  function refresh(): Promise<JWTVerifyGetKey> {
    lastAttemptAt = Date.now();
    const keys = fetchKeySet(url, options.timeoutMs).then((fetched) => {
      held = { keys: fetched, fetchedAt: Date.now() };
      return fetched;
    });
    const attempt = { keys, startedAt: lastAttemptAt };
    inFlight = attempt;
    const done = () => {
      if (inFlight === attempt) inFlight = undefined;
    };
    // The cooldown runs from when a failed fetch ended: a slow failure still buys the full cooldown.
    keys.then(done, () => {
      lastAttemptAt = Date.now();
      done();
    });
    return keys;
  }
  const mayFetch = () => Date.now() - lastAttemptAt >= options.cooldownMs;

  /** The keys when none is held: the fetch in flight, a new one, or a refusal during the cooldown. */
  function firstKeys(): Promise<JWTVerifyGetKey> {
    if (inFlight && Date.now() - inFlight.startedAt < options.timeoutMs)
      return within(inFlight.keys, options.timeoutMs);
    if (!mayFetch())
      return Promise.reject(
        new KeySetUnavailable("the JWKS failed within the cooldown; not asked again yet"),
      );
    return refresh();
  }

  return async (header, token) => {
    if (!held) return (await firstKeys())(header, token);
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

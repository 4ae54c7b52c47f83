import Cloudflare from "cloudflare";
import { zeroTrustCheck, sslCheck, zoneCheck } from "./account";
import { analyticsCheck } from "./analytics";
import type { Check, PreflightContext } from "./check";
import { dnsCheck } from "./dns";
import { lineCheck } from "./line";
import { idSubjectOf } from "./ids";
import { rateLimitCheck } from "./rateLimit";
import { apiFailure, problem, type CheckResult } from "./result";
import { checkToken } from "./token";
import { tunnelCheck } from "./tunnel";
import { workerRouteCheck } from "./workerRoute";

/** The whole run is bounded: whatever has not answered by then is reported as such. */
export const DEFAULT_BOUND_MS = 30_000;
/** One request's bound; with no retries, a hanging request cannot hold the run past the bound. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Every check after the token's, in the order they print. */
export const CHECKS: readonly Check[] = [
  zeroTrustCheck,
  zoneCheck,
  rateLimitCheck,
  dnsCheck,
  workerRouteCheck,
  tunnelCheck,
  sslCheck,
  lineCheck,
  analyticsCheck,
];

export interface ClientOptions {
  apiToken: string;
  baseURL?: string;
  boundMs: number;
  /** Aborts every request still in flight (at the bound). */
  signal: AbortSignal;
}

/**
 * The SDK client, token only (no API key or email from the environment), no retries (a 429
 * waits out its Retry-After, which would eat the bound; preflight is read-only and re-runnable),
 * every request tied to the run's abort signal.
 */
export function preflightClient(options: ClientOptions): Cloudflare {
  return new Cloudflare({
    apiToken: options.apiToken,
    apiKey: null,
    apiEmail: null,
    userServiceKey: null,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    timeout: Math.min(REQUEST_TIMEOUT_MS, options.boundMs),
    maxRetries: 0,
    fetch: (url, init) =>
      fetch(url, {
        ...init,
        signal: init?.signal ? AbortSignal.any([init.signal, options.signal]) : options.signal,
      }),
  });
}

const outOfTime = (check: string, boundMs: number): CheckResult[] => [
  problem(
    check,
    `no answer from the Cloudflare API within ${boundMs / 1000} s`,
    "check the network and https://www.cloudflarestatus.com, then run preflight again",
  ),
];

/** Runs `work`, or gives `late()` once `deadline` has passed. */
function bounded<T>(work: Promise<T>, deadline: Promise<void>, late: () => T): Promise<T> {
  return Promise.race([work, deadline.then(late)]);
}

/**
 * The token first: if it cannot be used, that one line is the whole answer. Then every check at
 * once; an API failure inside a check becomes that check's line.
 */
export async function runPreflight(
  context: PreflightContext,
  boundMs: number,
  deadline: Promise<void>,
): Promise<CheckResult[]> {
  const token = await bounded(
    checkToken(context.client, context.settings, context.stack, context.plannedResources),
    deadline,
    () => ({
      results: outOfTime("token", boundMs),
      fatal: true,
    }),
  );
  if (token.fatal) return token.results;
  const rest = await Promise.all(
    CHECKS.map((check) =>
      bounded(
        check
          .run(context)
          .catch((error: unknown) => [
            apiFailure(
              check.name,
              error,
              check.reading,
              check.permission,
              check.permission &&
                idSubjectOf(check.permission.scope, context.settings, context.stack),
            ),
          ]),
        deadline,
        () => outOfTime(check.name, boundMs),
      ),
    ),
  );
  return [...token.results, ...rest.flat()];
}

import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from "cloudflare";
import type { IdSubject } from "./ids";
import { describePermission, type RequiredPermission } from "./permissions";

export type CheckStatus = "ok" | "problem" | "warning";

export interface CheckResult {
  check: string;
  status: CheckStatus;
  message: string;
  /** What to do about it; set on every problem and warning. */
  action?: string;
}

export const ok = (check: string, message: string): CheckResult => ({
  check,
  status: "ok",
  message,
});
export const problem = (check: string, message: string, action: string): CheckResult => ({
  check,
  status: "problem",
  message,
  action,
});
export const warning = (check: string, message: string, action: string): CheckResult => ({
  check,
  status: "warning",
  message,
  action,
});

/** One line: `problem  zone: <message> → <action>`. */
export function formatResult(result: CheckResult): string {
  return `${result.status.padEnd(9)}${result.check}: ${result.message}${result.action ? ` → ${result.action}` : ""}`;
}

/** Cloudflare's own error code and message from an API error envelope, e.g. `10000 Authentication error`. */
export function apiErrorText(error: APIError): string {
  const first = error.errors[0];
  return first ? `${first.code} ${first.message}` : `HTTP ${error.status}`;
}

export function isNotFound(error: unknown): boolean {
  return error instanceof APIError && error.status === 404;
}

/**
 * How Access answers on an account that has no Zero Trust organization: 403, code 9999, and a
 * message that starts with this (`access.api.error.not_enabled: Access is not enabled.` and more).
 * Other stand-ins and older answers give the bare string, some with another code.
 */
export const ZERO_TRUST_NOT_ENABLED = "access.api.error.not_enabled";
/** Access's code for that answer (Cloudflare uses 9999 for other Access errors too). */
export const ZERO_TRUST_NOT_ENABLED_CODE = 9999;

export function isZeroTrustNotEnabled(error: unknown): boolean {
  return (
    error instanceof APIError &&
    error.errors.some((e) => {
      const message = String(e.message ?? "").trim();
      return (
        message.startsWith(ZERO_TRUST_NOT_ENABLED) ||
        (e.code === ZERO_TRUST_NOT_ENABLED_CODE && /\bnot[ _]enabled\b/i.test(message))
      );
    })
  );
}

/** Cloudflare's answer for an ID in a path that it cannot route: `7003 Could not route to …`. */
export const NOT_ROUTED_CODE = 7003;

export function isNotRouted(error: unknown): boolean {
  return error instanceof APIError && error.errors.some((e) => e.code === NOT_ROUTED_CODE);
}

/** A 403 that means "this token may not", not "Zero Trust is not set up". */
export function isForbidden(error: unknown): boolean {
  return error instanceof APIError && error.status === 403 && !isZeroTrustNotEnabled(error);
}

/**
 * An API failure as one line of the check that met it: what happened and what to do, never a
 * stack trace. `reading` names what the check was reading, `permission` the token permission
 * that covers it, `subject` the stack's ID in the request's path.
 */
export function apiFailure(
  check: string,
  error: unknown,
  reading: string,
  permission?: RequiredPermission,
  subject?: IdSubject,
): CheckResult {
  if (error instanceof APIUserAbortError)
    return problem(
      check,
      `no answer from the Cloudflare API while reading ${reading} within the time bound`,
      "check the network and https://www.cloudflarestatus.com, then run preflight again",
    );
  if (error instanceof APIConnectionTimeoutError)
    return problem(
      check,
      `the Cloudflare API did not answer while reading ${reading} (timed out)`,
      "check the network and https://www.cloudflarestatus.com, then run preflight again",
    );
  if (error instanceof APIConnectionError) {
    const cause =
      error.cause instanceof Error
        ? (((error.cause as Error & { cause?: { code?: string } }).cause?.code ??
            error.cause.message) as string)
        : error.message;
    return problem(
      check,
      `cannot reach the Cloudflare API (${cause}) while reading ${reading}`,
      "check the network, a proxy or CLOUDFLARE_BASE_URL, then run preflight again",
    );
  }
  if (error instanceof APIError) {
    const text = apiErrorText(error);
    if (isNotRouted(error))
      return subject
        ? problem(
            check,
            `Cloudflare cannot route the request for ${reading} (${text}): no ${subject.scope} ${subject.id} exists that this token can see`,
            `check ${subject.key} in ${subject.file} (${subject.where}), or give the token access to that ${subject.scope}`,
          )
        : problem(
            check,
            `Cloudflare cannot route the request for ${reading} (${text}): an ID in it names nothing this token can see`,
            "check voice-edge:accountId and voice-edge:zone → id in the stack file, or give the token access to them",
          );
    if (error.status === 401)
      return problem(
        check,
        `Cloudflare refused the token (${text})`,
        "set CLOUDFLARE_API_TOKEN to a valid, active API token",
      );
    if (error.status === 403)
      return problem(
        check,
        `the token may not read ${reading} (${text})`,
        permission
          ? `give the token ${describePermission(permission)} on this ${permission.scope}`
          : "give the token the permissions the README lists",
      );
    if (error.status === 429)
      return problem(
        check,
        `Cloudflare rate-limited the request for ${reading} (${text})`,
        "wait a few minutes (the API allows 1,200 requests per 5 minutes per user) and run preflight again",
      );
    return problem(
      check,
      `Cloudflare answered ${error.status} while reading ${reading} (${text})`,
      "run preflight again; if it persists, check https://www.cloudflarestatus.com",
    );
  }
  return problem(
    check,
    `unexpected failure while reading ${reading}: ${error instanceof Error ? error.message : String(error)}`,
    "run preflight again; report it if it persists",
  );
}

/**
 * What the guard in front of each bridge (HAProxy: infra/guard) answers, read into typed values:
 * its refusals of an upgrade and its `/health`. Pure functions, free of Worker types, tested in Node.
 */

/** The session options a 4400 may name (the edge's own query check, or the guard's 400); nothing else a bridge writes reaches a client. */
export const SESSION_OPTION_PARAMETERS = ["text_prompt", "voice_prompt", "seed"] as const;
export type SessionOptionParameter = (typeof SESSION_OPTION_PARAMETERS)[number];

/** `retryAfterS` when the guard's `Retry-After` is missing or unreadable, and the bounds put on it. */
export const RETRY_AFTER_DEFAULT_S = 5;
export const RETRY_AFTER_MIN_S = 1;
export const RETRY_AFTER_MAX_S = 300;

/** Why a session the edge authenticated did not reach a bridge, as the page receives it. */
export type SessionRefusalReason =
  /** `line`: the waiting line offers this page a place (false: the line is full). */
  | { error: "bridge_busy"; retryAfterS: number; line?: boolean }
  | { error: "session_options_invalid"; parameter?: SessionOptionParameter }
  | { error: "bridge_unavailable" };

/** What the log line names: the reason, or for `bridge_unavailable` the finer cause. */
export type SessionRefusalCause =
  SessionRefusalReason["error"] | "bridge_timeout" | "bridge_rejected";

export interface ClassifiedRefusal {
  reason: SessionRefusalReason;
  failure: SessionRefusalCause;
}

const clamp = (seconds: number) =>
  Math.min(RETRY_AFTER_MAX_S, Math.max(RETRY_AFTER_MIN_S, Math.ceil(seconds)));

/** `Retry-After` as whole seconds within the bounds: delta-seconds or an HTTP date; else `fallback`. */
export function retryAfterSeconds(
  header: string | null,
  now: number = Date.now(),
  fallback: number = RETRY_AFTER_DEFAULT_S,
): number {
  const value = header?.trim() ?? "";
  if (/^\d{1,10}$/.test(value)) return clamp(Number(value));
  // An HTTP date ends in GMT; V8's lenient Date.parse would read "-3" or "2.5" as dates.
  const date = / GMT$/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isNaN(date)) return clamp((date - now) / 1000);
  return clamp(fallback);
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function knownParameter(value: unknown): SessionOptionParameter | undefined {
  return SESSION_OPTION_PARAMETERS.find((name) => name === value);
}

/** Statuses whose body the edge reads (busy and refused options); every other body is cancelled unread. */
export function answerBodyMatters(status: number): boolean {
  return status === 400 || status === 429 || status === 503;
}

/**
 * The page's reason for a non-101 answer to the upgrade: 429, or a 503 that says busy (a
 * `Retry-After`, or the guard's `bridge_busy` body), is busy (seconds from `Retry-After`, else the
 * body's `retryAfterS`), 400 is refused options (the parameter only when the
 * guard names a known one), anything else — 502/504/530 from the tunnel, a 3xx, a 404 — is unavailable.
 */
export function refusalOfAnswer(
  status: number,
  retryAfter: string | null,
  body: string,
  now: number = Date.now(),
): ClassifiedRefusal {
  const answer = jsonObject(body);
  const fromBody = answer?.retryAfterS;
  // The guard's 503 says busy with Retry-After; its 503 without (`bridge_unavailable`: the server
  // behind it is down) and a tunnel's bare 503 are no reason to come back in N seconds.
  const saysBusy =
    retryAfter !== null || answer?.error === "bridge_busy" || typeof fromBody === "number";
  if (status === 429 || (status === 503 && saysBusy)) {
    const fallback = typeof fromBody === "number" ? fromBody : RETRY_AFTER_DEFAULT_S;
    const retryAfterS = retryAfterSeconds(retryAfter, now, fallback);
    return { reason: { error: "bridge_busy", retryAfterS }, failure: "bridge_busy" };
  }
  if (status === 400) {
    const parameter =
      answer?.error === "session_options_invalid" ? knownParameter(answer.parameter) : undefined;
    return {
      reason: { error: "session_options_invalid", ...(parameter ? { parameter } : {}) },
      failure: "session_options_invalid",
    };
  }
  return { reason: { error: "bridge_unavailable" }, failure: "bridge_rejected" };
}

/** The guard's `/health` as the edge reads it. */
export interface GuardHealth {
  /** The guard answered 2xx and did not say `up: false`. */
  up: boolean;
  /** The guard answered with `up: false`: it runs, the server behind it does not. */
  serverDown?: true;
  sessions?: number;
  capacity?: number;
  /** Its operator drains it: up and admitting no new session, or down for maintenance. */
  draining?: true;
  /** Up, and admitting no new session now (full, or draining). Not an outage. */
  busy: boolean;
}

const count = (value: unknown) =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;

/**
 * 2xx is up unless the JSON says `up: false` (a health URL that is not the guard's, answering 2xx
 * without that JSON, counts as up); any other status is down — the guard's own 503 with
 * `up: false` says it runs and its server does not (with `draining: true`: drained, so its
 * operator's maintenance). Busy: `sessions >= capacity` or draining.
 */
export function guardHealthOf(status: number, body: string): GuardHealth {
  const answer = jsonObject(body) ?? {};
  const draining = answer.draining === true;
  if (answer.up === false)
    return {
      up: false,
      serverDown: true,
      ...(draining ? { draining: true as const } : {}),
      busy: false,
    };
  if (status < 200 || status > 299) return { up: false, busy: false };
  const sessions = count(answer.sessions);
  const capacity = count(answer.capacity);
  const full = sessions !== undefined && capacity !== undefined && sessions >= capacity;
  return {
    up: true,
    ...(sessions !== undefined ? { sessions } : {}),
    ...(capacity !== undefined ? { capacity } : {}),
    ...(draining ? { draining: true as const } : {}),
    busy: full || draining,
  };
}

/** Reads at most `maxBytes` of a body and cancels the rest: a bridge's answer is never read whole. */
export async function readBodyPrefix(
  body: ReadableStream<Uint8Array> | null,
  maxBytes = 2_048,
): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body that breaks off says no more than what came.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes.subarray(0, maxBytes));
}

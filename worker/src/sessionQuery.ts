/**
 * The page's query as the PersonaPlex server reads it, what in it the server would break on, and the
 * query the bridge gets. The server reads aiohttp's `request.query`, which is yarl's `URL.query`: the
 * raw query split on `&` only, each part split at its first `=`, `+` a space, names and values
 * percent-decoded, an escape that is not one (`%`, `%zz`) kept as it is, blank values kept.
 * `URLSearchParams` reads the same way. HAProxy, the guard, reads the raw bytes otherwise (`;` and `?`
 * separate parameters there, and a bad escape turns its decoding off), so the bridge never gets the
 * page's bytes: it gets these pairs re-encoded, which every reader splits and decodes alike.
 */
import type { SessionOptionParameter } from "./guardAnswers";
import { isVoiceFileName } from "./voices";

export type QueryPair = [name: string, value: string];

/** The query's parameters in order, as the server's `request.query` holds them. */
export function readQuery(search: string): QueryPair[] {
  return [...new URLSearchParams(search)];
}

/**
 * `?` and the pairs in `application/x-www-form-urlencoded` form (only letters, digits and `*-._` stay
 * as they are, a space is `+`), or "" for none: `;`, `?`, `%` and `/` in a value arrive escaped.
 */
export function canonicalSearch(pairs: readonly QueryPair[]): string {
  return pairs.length === 0 ? "" : `?${new URLSearchParams(pairs as QueryPair[]).toString()}`;
}

export type SessionOptionProblem =
  "missing" | "repeated" | "not_a_voice_file_name" | "not_accepted";

export interface RefusedSessionOption {
  parameter: SessionOptionParameter;
  problem: SessionOptionProblem;
}

function oneValue(
  pairs: readonly QueryPair[],
  parameter: "voice_prompt" | "text_prompt",
): string | RefusedSessionOption {
  const values = pairs.filter(([name]) => name === parameter);
  if (values.length === 0) return { parameter, problem: "missing" };
  if (values.length > 1) return { parameter, problem: "repeated" };
  return values[0][1];
}

/**
 * What the server would break on, in the order its handler reads the query (after its 101, so the
 * page would see only a dropped connection): `voice_prompt` missing, repeated or not a `<name>.pt`
 * file name (the server joins it to its voice directory unchecked), `text_prompt` missing or
 * repeated, any `seed` (the handler raises on it). Null when none.
 */
export function sessionOptionsProblem(pairs: readonly QueryPair[]): RefusedSessionOption | null {
  const voice = oneValue(pairs, "voice_prompt");
  if (typeof voice !== "string") return voice;
  if (!isVoiceFileName(voice))
    return { parameter: "voice_prompt", problem: "not_a_voice_file_name" };
  const text = oneValue(pairs, "text_prompt");
  if (typeof text !== "string") return text;
  if (pairs.some(([name]) => name === "seed"))
    return { parameter: "seed", problem: "not_accepted" };
  return null;
}

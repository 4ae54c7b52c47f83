import { LINE_PATH, WEB_CLIENT_PATH, WS_PATH } from "../worker/src/routes";

/**
 * Rule expressions for rate limiting, written only with what the zone's plan allows:
 * `eq` on the path (all plans; several paths joined with `or`) and `in {…}` on the host (Pro and up). No regex.
 */
export interface RateLimitMatch {
  /** Counted together: any of them matches. */
  paths: readonly string[];
  /** Restrict to these hostnames; empty means every hostname on the zone. */
  hosts: readonly string[];
}

const quote = (value: string) => `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/**
 * The paths a rule counts: the voice socket's path brings the other ways into a session with it —
 * the waiting line's (a page that waits opens both, and the line socket must not be an unlimited way
 * in) and the PersonaPlex web client's own path (the same session under another name).
 */
export function countedPaths(paths: readonly string[]): string[] {
  const counted = [...paths];
  const voice = counted.indexOf(WS_PATH);
  if (voice === -1) return counted;
  const companions = [LINE_PATH, WEB_CLIENT_PATH].filter((path) => !counted.includes(path));
  counted.splice(voice + 1, 0, ...companions);
  return counted;
}

export function rateLimitExpression(match: RateLimitMatch): string {
  const paths = countedPaths(match.paths);
  const anyPath = paths.map((path) => `http.request.uri.path eq ${quote(path)}`).join(" or ");
  if (match.hosts.length === 0) return `(${anyPath})`;
  return `(${paths.length > 1 ? `(${anyPath})` : anyPath} and http.host in {${match.hosts.map(quote).join(" ")}})`;
}

/** The fields an expression built by `rateLimitExpression` uses, for checking against the plan. */
export function fieldsUsed(match: RateLimitMatch): ("path" | "host")[] {
  return match.hosts.length === 0 ? ["path"] : ["path", "host"];
}

/** Every rate-limit rule this project writes has a `ref` with this prefix; rules without it are someone else's. */
export const MANAGED_RULE_REF_PREFIX = "voice_edge_";

export function managedRuleRef(index: number): string {
  return `${MANAGED_RULE_REF_PREFIX}rate_limit_${index + 1}`;
}

export function isManagedRuleRef(ref: string | undefined): boolean {
  return ref !== undefined && ref.startsWith(MANAGED_RULE_REF_PREFIX);
}

/**
 * Cloudflare's Workers route patterns (developers.cloudflare.com/workers/configuration/routing/routes,
 * "Matching behavior" and "Validity"): an optional `http://` or `https://` (without one, both
 * match), a hostname that may begin with `*` (any characters: `*example.com` is example.com and
 * its subhosts, `*.example.com` the subhosts only), a path (`/` when none) that may end with `*`
 * (every suffix, the query string too; without it, that path exactly and no query string). Paths
 * are case-sensitive, hostnames are not. When several patterns match a URL, the most specific wins.
 */
export interface RoutePattern {
  scheme?: "http" | "https";
  /** Without the leading `*`. */
  host: string;
  hostWildcard: boolean;
  /** Without the trailing `*`. */
  path: string;
  pathWildcard: boolean;
}

export function parseRoutePattern(pattern: string): RoutePattern {
  const scheme = pattern.match(/^(https?):\/\//i);
  const rest = scheme ? pattern.slice(scheme[0].length) : pattern;
  const slash = rest.indexOf("/");
  const rawHost = (slash === -1 ? rest : rest.slice(0, slash)).toLowerCase();
  const rawPath = slash === -1 ? "/" : rest.slice(slash);
  const hostWildcard = rawHost.startsWith("*");
  const pathWildcard = rawPath.endsWith("*");
  return {
    ...(scheme ? { scheme: scheme[1].toLowerCase() as "http" | "https" } : {}),
    host: hostWildcard ? rawHost.slice(1) : rawHost,
    hostWildcard,
    path: pathWildcard ? rawPath.slice(0, -1) : rawPath,
    pathWildcard,
  };
}

/** A URL both patterns match, host and path (`mycosoft.com/voice/`), or undefined when there is none. */
function commonUrl(a: RoutePattern, b: RoutePattern): string | undefined {
  if (a.scheme && b.scheme && a.scheme !== b.scheme) return undefined;
  let host: string;
  if (!a.hostWildcard && !b.hostWildcard) {
    if (a.host !== b.host) return undefined;
    host = a.host;
  } else if (a.hostWildcard !== b.hostWildcard) {
    const [exact, wild] = a.hostWildcard ? [b, a] : [a, b];
    if (!exact.host.endsWith(wild.host)) return undefined;
    host = exact.host;
  } else {
    const [long, short] = a.host.length >= b.host.length ? [a, b] : [b, a];
    if (!long.host.endsWith(short.host)) return undefined;
    host = long.host.startsWith(".") || long.host === "" ? `www${long.host}` : long.host;
  }
  let path: string;
  if (!a.pathWildcard && !b.pathWildcard) {
    if (a.path !== b.path) return undefined;
    path = a.path;
  } else if (a.pathWildcard !== b.pathWildcard) {
    const [exact, wild] = a.pathWildcard ? [b, a] : [a, b];
    if (!exact.path.startsWith(wild.path)) return undefined;
    path = exact.path;
  } else {
    const [long, short] = a.path.length >= b.path.length ? [a, b] : [b, a];
    if (!long.path.startsWith(short.path)) return undefined;
    path = long.path;
  }
  const scheme = a.scheme ?? b.scheme ?? "https";
  return `${scheme}://${host}${path}`;
}

/**
 * Which of two patterns is more specific: > 0 `a`, < 0 `b`, 0 undecided. The hostname decides
 * first (Cloudflare's known issues: `a.example.com/*` wins over `*.example.com/a` for
 * `a.example.com/a`): an exact one over a wildcard, a longer wildcard suffix over a shorter. Then
 * the path: an exact one over a wildcard, a longer prefix over a shorter, except that `X*` wins
 * over `X/*` (the known issue with a trailing `/*`). The scheme does not count.
 */
function specificity(a: RoutePattern, b: RoutePattern): number {
  if (a.hostWildcard !== b.hostWildcard) return a.hostWildcard ? -1 : 1;
  if (a.hostWildcard && a.host.length !== b.host.length) return a.host.length - b.host.length;
  if (a.pathWildcard !== b.pathWildcard) return a.pathWildcard ? -1 : 1;
  if (a.pathWildcard) {
    if (a.path === `${b.path}/`) return -1;
    if (b.path === `${a.path}/`) return 1;
    return a.path.length - b.path.length;
  }
  return 0;
}

export type RouteOverlap =
  | { overlaps: false }
  | {
      overlaps: true;
      /** A URL both match, e.g. `https://mycosoft.com/voice/`. */
      url: string;
      /** The pattern Cloudflare runs for the URLs both match; undefined when its rules do not say. */
      winner?: "a" | "b";
    };

/** Whether two route patterns can match a common URL, and which one serves it. */
export function routeOverlap(a: string, b: string): RouteOverlap {
  const pa = parseRoutePattern(a);
  const pb = parseRoutePattern(b);
  const url = commonUrl(pa, pb);
  if (url === undefined) return { overlaps: false };
  const order = specificity(pa, pb);
  return order === 0
    ? { overlaps: true, url }
    : { overlaps: true, url, winner: order > 0 ? "a" : "b" };
}

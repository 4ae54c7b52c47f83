import { routePattern } from "../worker";
import { stackFileName } from "../config/stackFiles";
import type { Check } from "./check";
import { requiredPermission } from "./permissions";
import { ok, problem, warning, type CheckResult } from "./result";
import { parseRoutePattern, routeOverlap } from "./routeMatching";

const CHECK = "worker-route";

interface ZoneRoute {
  pattern: string;
  script?: string | null;
}

const boundTo = (route: ZoneRoute) =>
  route.script ? `script ${route.script}` : "no script (Workers off)";

/** A route over every path of its hostnames (`*example.com/*`): a site's Worker, which the edge's own route carves /voice/ out of. */
const coversWholeHosts = (pattern: string) => {
  const { path, pathWildcard } = parseRoutePattern(pattern);
  return pathWildcard && path === "/";
};

export const workerRouteCheck: Check = {
  name: CHECK,
  reading: "the zone's Worker routes",
  permission: requiredPermission("Workers Routes Write"),
  async run({ client, stack, settings }) {
    const pattern = routePattern(settings.publicHostname);
    const file = stackFileName(stack);
    const fix = `delete or narrow that route (dashboard → ${settings.zone.name} → Workers Routes) or choose another voice-edge:publicHostname in ${file}`;
    const routes: ZoneRoute[] = [];
    for await (const route of client.workers.routes.list({ zone_id: settings.zone.id }))
      routes.push(route);
    const same = routes.filter((route) => route.pattern === pattern);
    const others = same.filter((route) => route.script !== settings.workerName);
    if (others.length > 0) {
      return [
        problem(
          CHECK,
          `the route ${pattern} is bound to ${others.map(boundTo).join(", ")}, not ${settings.workerName}`,
          `delete that route (dashboard → ${settings.zone.name} → Workers Routes) or choose another voice-edge:publicHostname in ${file}`,
        ),
      ];
    }

    const results: CheckResult[] = [];
    for (const route of routes) {
      if (route.pattern === pattern || route.script === settings.workerName) continue;
      const overlap = routeOverlap(route.pattern, pattern);
      if (!overlap.overlaps) continue;
      const shared = `the route ${route.pattern} (${boundTo(route)}) matches URLs of ${pattern} too (e.g. ${overlap.url})`;
      if (overlap.winner === "a")
        results.push(
          problem(
            CHECK,
            `${shared} and is the more specific: Cloudflare runs ${boundTo(route)} there, not ${settings.workerName}`,
            fix,
          ),
        );
      else if (overlap.winner === undefined)
        results.push(
          problem(
            CHECK,
            `${shared}, and Cloudflare's matching rules do not say which of the two runs there`,
            fix,
          ),
        );
      else if (!route.script) continue;
      else if (coversWholeHosts(route.pattern))
        results.push(
          warning(
            CHECK,
            `${shared}; ${pattern} is the more specific, so after \`pulumi up\` ${route.script} no longer serves them`,
            `check that ${route.script} serves nothing under ${pattern}`,
          ),
        );
      else
        results.push(
          problem(
            CHECK,
            `${shared}; ${pattern} is the more specific, so \`pulumi up\` would take them from ${route.script}, which is routed to them on purpose`,
            fix,
          ),
        );
    }
    if (results.length > 0) return results;
    if (same.length > 0) return [ok(CHECK, `${pattern} → ${settings.workerName} (this stack's)`)];
    return [ok(CHECK, `no route ${pattern} yet: \`pulumi up\` creates it`)];
  },
};

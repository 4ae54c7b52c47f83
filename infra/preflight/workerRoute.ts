import { routePattern } from "../worker";
import { stackFileName } from "../config/stackFiles";
import type { Check } from "./check";
import { requiredPermission } from "./permissions";
import { ok, problem } from "./result";

const CHECK = "worker-route";

export const workerRouteCheck: Check = {
  name: CHECK,
  reading: "the zone's Worker routes",
  permission: requiredPermission("Workers Routes Write"),
  async run({ client, stack, settings }) {
    const pattern = routePattern(settings.publicHostname);
    const routes = [];
    for await (const route of client.workers.routes.list({ zone_id: settings.zone.id }))
      if (route.pattern === pattern) routes.push(route);
    const others = routes.filter((route) => route.script !== settings.workerName);
    if (others.length > 0) {
      const bound = others
        .map((route) => (route.script ? `script ${route.script}` : "no script (Workers off)"))
        .join(", ");
      return [
        problem(
          CHECK,
          `the route ${pattern} is bound to ${bound}, not ${settings.workerName}`,
          `delete that route (dashboard → ${settings.zone.name} → Workers Routes) or choose another voice-edge:publicHostname in ${stackFileName(stack)}`,
        ),
      ];
    }
    if (routes.length > 0) return [ok(CHECK, `${pattern} → ${settings.workerName} (this stack's)`)];
    return [ok(CHECK, `no route ${pattern} yet: \`pulumi up\` creates it`)];
  },
};

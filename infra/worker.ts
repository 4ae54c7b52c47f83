import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { BUNDLE_MODULE_NAME, type WorkerBundle } from "../worker/build";
import { LINE_BINDINGS, LINE_CLASS_NAME, lineScriptName } from "../worker/src/line/contract";
import { ROUTE_PREFIX } from "../worker/src/routes";
import { child, type Scope } from "./childNames";
import { bridgesOf, type Bridge, type StackSecrets, type StackSettings } from "./config/schema";
import { bridgeWatchSettings } from "./bridgeWatch";
import type { OriginLock } from "./originLock";
import {
  bridgeWatchBindings,
  pointsBindings,
  workerBindings,
  type BindingValues,
} from "./workerBindings";

export interface EdgeWorker {
  script: cloudflare.WorkersScript;
  route: cloudflare.WorkersRoute;
}

export function routePattern(publicHostname: string): string {
  return `${publicHostname}${ROUTE_PREFIX}*`;
}

const origin = (bridge: Bridge) => `https://${bridge.originHostname}`;

/**
 * Every bridge by name with its upgrade and health URLs, as the `BRIDGES` json carries them; the
 * `tunnel` form's one bridge keeps `edge.bridgeHealthUrl` when the stack sets one.
 */
export function fleetOf(
  settings: StackSettings,
): { name: string; url: string; healthUrl: string }[] {
  return bridgesOf(settings).map((bridge) => ({
    name: bridge.name,
    url: `${origin(bridge)}${bridge.path}`,
    healthUrl:
      (bridge.single && settings.edge.bridgeHealthUrl) || `${origin(bridge)}${bridge.healthPath}`,
  }));
}

/**
 * Where the Worker finds its bridges. The `tunnel` form keeps the one `BRIDGE_URL` (and its health
 * URL) a one-bridge stack always had, so its Worker's bindings do not change; a `bridges` list is
 * the `BRIDGES` json, each bridge by name with its origin hostname's URL.
 */
export function bridgeBindings(
  settings: StackSettings,
): Pick<BindingValues, "BRIDGE_URL" | "BRIDGES" | "EDGE_CONFIG"> {
  const fleet = fleetOf(settings);
  if (bridgesOf(settings)[0]?.single) {
    const [bridge] = fleet;
    return {
      BRIDGE_URL: bridge.url,
      BRIDGES: undefined,
      EDGE_CONFIG: { ...settings.edge, bridgeHealthUrl: bridge.healthUrl },
    };
  }
  return { BRIDGE_URL: undefined, BRIDGES: fleet, EDGE_CONFIG: settings.edge };
}

/** The edge Worker's binding to the coordinator: the class in the line script, by `scriptName`. */
export function coordinatorBinding(
  settings: StackSettings,
): cloudflare.types.input.WorkersScriptBinding {
  return {
    type: "durable_object_namespace",
    name: LINE_BINDINGS.coordinator,
    className: LINE_CLASS_NAME,
    scriptName: lineScriptName(settings.workerName),
  };
}

/**
 * The Worker from the shared bundle, bound to the bridge through the origin hostname, and its
 * route; with the line on, bound to the coordinator too, uploaded after the line script that
 * holds its class.
 */
export function edgeWorker(
  settings: StackSettings,
  secrets: StackSecrets,
  bundle: WorkerBundle,
  lock: OriginLock,
  watchState: cloudflare.D1Database | undefined,
  line: cloudflare.WorkersScript | undefined,
  scope: Scope,
): EdgeWorker {
  const bindings = workerBindings({
    ...bridgeBindings(settings),
    JWT_SECRET: secrets.jwtSecret === undefined ? undefined : pulumi.secret(secrets.jwtSecret),
    JWT_SECRET_PREVIOUS:
      secrets.jwtSecretPrevious === undefined
        ? undefined
        : pulumi.secret(secrets.jwtSecretPrevious),
    BRIDGE_ACCESS_CLIENT_ID: pulumi.secret(lock.serviceToken.clientId),
    BRIDGE_ACCESS_CLIENT_SECRET: pulumi.secret(lock.serviceToken.clientSecret),
  });
  if (watchState) {
    if (!secrets.alertWebhookUrl)
      throw new Error("bridge_probe needs alertWebhookUrl (the config schema checks this first)");
    const watchSettings = bridgeWatchSettings(settings);
    if (watchSettings.users && !secrets.analyticsReadToken)
      throw new Error(
        "the alerts on what users feel need analyticsReadToken (the config schema checks this first)",
      );
    bindings.push(
      ...bridgeWatchBindings({
        databaseId: watchState.uuid,
        settings: watchSettings,
        webhookUrl: pulumi.secret(secrets.alertWebhookUrl),
        webhookSecret:
          secrets.alertWebhookSecret === undefined
            ? undefined
            : pulumi.secret(secrets.alertWebhookSecret),
        analyticsReadToken:
          watchSettings.users && secrets.analyticsReadToken
            ? pulumi.secret(secrets.analyticsReadToken)
            : undefined,
      }),
    );
  }
  if (line) bindings.push(coordinatorBinding(settings));
  bindings.push(
    ...pointsBindings(
      settings.analytics?.dataset,
      secrets.analyticsVisitorKey === undefined
        ? undefined
        : pulumi.secret(secrets.analyticsVisitorKey),
    ),
  );
  const scriptChild = child(scope, "worker", "edge-worker", line ? { dependsOn: [line] } : {});
  const script = new cloudflare.WorkersScript(
    scriptChild.name,
    {
      accountId: settings.accountId,
      scriptName: settings.workerName,
      content: bundle.code,
      mainModule: BUNDLE_MODULE_NAME,
      compatibilityDate: settings.compatibilityDate,
      bindings,
      observability: { enabled: true },
    },
    scriptChild.opts,
  );
  const routeChild = child(scope, "route", "edge-route");
  const route = new cloudflare.WorkersRoute(
    routeChild.name,
    {
      zoneId: settings.zone.id,
      pattern: routePattern(settings.publicHostname),
      script: script.scriptName,
    },
    routeChild.opts,
  );
  return { script, route };
}

import type * as pulumi from "@pulumi/pulumi";
import type * as cloudflare from "@pulumi/cloudflare";
import { SECRET_BINDINGS, type BindingName, type EdgeSettings } from "../worker/src/bindings";
import { POINTS_BINDING, VISITOR_KEY_BINDING } from "../worker/src/analytics/points";
import {
  BRIDGE_WATCH_BINDINGS,
  type BridgeWatchSettings,
} from "../worker/src/bridgeWatch/bindings";

/** The points' bindings: added by `pointsBindings` only when the stack sets a dataset. */
type PointsBindingName = typeof POINTS_BINDING | typeof VISITOR_KEY_BINDING;

/** A value for every binding the Worker reads (but the points'): a renamed binding fails to compile here. */
export type BindingValues = {
  BRIDGE_URL: pulumi.Input<string> | undefined;
  BRIDGES: { name: string; url: string; healthUrl?: string }[] | undefined;
  EDGE_CONFIG: EdgeSettings;
  JWT_SECRET: pulumi.Input<string> | undefined;
  JWT_SECRET_PREVIOUS: pulumi.Input<string> | undefined;
  BRIDGE_ACCESS_CLIENT_ID: pulumi.Input<string>;
  BRIDGE_ACCESS_CLIENT_SECRET: pulumi.Input<string>;
} & Record<Exclude<BindingName, PointsBindingName>, unknown>;

/** The Worker's binding list: json for the settings and the bridge list, `secret_text` for secrets, plain text otherwise. */
export function workerBindings(
  values: BindingValues,
): cloudflare.types.input.WorkersScriptBinding[] {
  const bindings: cloudflare.types.input.WorkersScriptBinding[] = [];
  for (const [name, value] of Object.entries(values) as [BindingName, unknown][]) {
    if (value === undefined) continue;
    if (name === "EDGE_CONFIG" || name === "BRIDGES")
      bindings.push({ name, type: "json", json: JSON.stringify(value) });
    else if ((SECRET_BINDINGS as readonly string[]).includes(name))
      bindings.push({ name, type: "secret_text", text: value as pulumi.Input<string> });
    else bindings.push({ name, type: "plain_text", text: value as pulumi.Input<string> });
  }
  return bindings;
}

/**
 * The stack's Analytics Engine dataset (`voice-edge:analytics.dataset`) and, with it, the
 * visitor hash's key as a secret; none without a dataset, so such a stack's inputs are unchanged.
 */
export function pointsBindings(
  dataset: string | undefined,
  visitorKey: pulumi.Input<string> | undefined,
): cloudflare.types.input.WorkersScriptBinding[] {
  if (dataset === undefined) return [];
  return [
    { name: POINTS_BINDING, type: "analytics_engine", dataset },
    ...(visitorKey === undefined
      ? []
      : [{ name: VISITOR_KEY_BINDING, type: "secret_text", text: visitorKey }]),
  ];
}

export interface BridgeWatchBindingValues {
  databaseId: pulumi.Input<string>;
  settings: BridgeWatchSettings;
  webhookUrl: pulumi.Input<string>;
  webhookSecret?: pulumi.Input<string>;
  /** Only with the alerts on what users feel (`settings.users`). */
  analyticsReadToken?: pulumi.Input<string>;
}

/** The bridge watch's bindings (read only by the Worker's scheduled handler): D1 state, settings, webhook secrets, the SQL API's read token. */
export function bridgeWatchBindings(
  values: BridgeWatchBindingValues,
): cloudflare.types.input.WorkersScriptBinding[] {
  const names = BRIDGE_WATCH_BINDINGS;
  return [
    { name: names.state, type: "d1", id: values.databaseId },
    { name: names.settings, type: "json", json: JSON.stringify(values.settings) },
    { name: names.webhookUrl, type: "secret_text", text: values.webhookUrl },
    ...(values.webhookSecret === undefined
      ? []
      : [{ name: names.webhookSecret, type: "secret_text", text: values.webhookSecret }]),
    ...(values.analyticsReadToken === undefined
      ? []
      : [{ name: names.analyticsReadToken, type: "secret_text", text: values.analyticsReadToken }]),
  ];
}

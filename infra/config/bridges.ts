import { createHmac } from "node:crypto";
import { z } from "zod";
import type { Problem } from "./errors";
import { hostname, urlPath } from "./fields";
import { bridgeServiceSchema, type OriginRequestSettings } from "./tunnel";

/** Each bridge is its own tunnel, CNAME and Access destination; Access caps an application's destinations. */
export const MAX_BRIDGES = 20;

/** One VM of the fleet: PersonaPlex, its guard and cloudflared, behind its own tunnel. */
export const bridgeSchema = z.strictObject({
  /** Names the bridge's children (`<component>-<name>-tunnel`) and its tunnel (`<workerName>-<name>`). */
  name: z
    .string()
    .regex(
      /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/,
      "must be 1 to 32 lowercase letters, digits and dashes, such as gpu-1",
    ),
  /** Public hostname of this bridge's tunnel; locked to the Worker by Access. */
  originHostname: hostname,
  /** Where cloudflared on the bridge's VM finds the bridge: by default the guard on the same VM. */
  service: bridgeServiceSchema,
  path: urlPath.default("/api/chat"),
  /** Sessions the bridge serves at once: one GPU, one conversation (the guard's own bounds). */
  capacity: z.int().min(1).max(64).default(1),
});

export type BridgeSettings = z.infer<typeof bridgeSchema>;

/** The stack keys a bridge comes from: the single-bridge `tunnel` form, or the `bridges` list. */
export interface FleetKeys<T, B> {
  tunnel?: T;
  bridges?: B[];
}

/** Each bridge's entry with the key path a message names it by (`tunnel`, or `bridges.2`). */
export function bridgeEntries<T, B>(
  settings: FleetKeys<T, B>,
): { path: (string | number)[]; entry: T | B }[] {
  if (settings.bridges)
    return settings.bridges.map((entry, i) => ({ path: ["bridges", i], entry }));
  return settings.tunnel ? [{ path: ["tunnel"], entry: settings.tunnel }] : [];
}

/** Every bridge's origin hostname, with the path of its key. */
export function originHostnamesOf(
  settings: FleetKeys<{ originHostname: string }, { originHostname: string }>,
): { path: (string | number)[]; hostname: string }[] {
  return bridgeEntries(settings).map(({ path, entry }) => ({
    path: [...path, "originHostname"],
    hostname: entry.originHostname,
  }));
}

/** Every bridge's cloudflared service, with the path of its key. */
export function servicesOf(
  settings: FleetKeys<{ bridgeService: string }, { service: string }>,
): { path: (string | number)[]; service: string }[] {
  return bridgeEntries(settings).map(({ path, entry }) =>
    "bridgeService" in entry
      ? { path: [...path, "bridgeService"], service: entry.bridgeService }
      : { path: [...path, "service"], service: entry.service },
  );
}

/** A stack declares its bridges one way: the `tunnel` key (a fleet of one) or the `bridges` list. */
export function validateTunnelOrBridges(settings: FleetKeys<unknown, unknown>): Problem[] {
  if (settings.tunnel !== undefined && settings.bridges !== undefined)
    return [
      {
        path: ["bridges"],
        message:
          "is set together with voice-edge:tunnel: keep one (tunnel is a fleet of one bridge; bridges lists each)",
      },
    ];
  if (settings.tunnel === undefined && settings.bridges === undefined)
    return [
      {
        path: ["tunnel"],
        message:
          "is required, or voice-edge:bridges: a list of {name, originHostname} (one per bridge VM)",
      },
    ];
  if (settings.bridges?.length === 0)
    return [{ path: ["bridges"], message: "must list at least one bridge" }];
  return [];
}

/** At most MAX_BRIDGES bridges. */
export function validateBridgeCount(settings: FleetKeys<unknown, unknown>): Problem[] {
  const count = settings.bridges?.length ?? 0;
  if (count <= MAX_BRIDGES) return [];
  return [
    { path: ["bridges"], message: `lists ${count} bridges; at most ${MAX_BRIDGES} are supported` },
  ];
}

/** Names and hostnames are each a bridge's own: they name its tunnel, its children and its record. */
export function validateUniqueBridges(
  settings: FleetKeys<unknown, { name: string; originHostname: string }>,
): Problem[] {
  const problems: Problem[] = [];
  const firstOf = (key: "name" | "originHostname") => {
    const seen = new Map<string, number>();
    (settings.bridges ?? []).forEach((bridge, i) => {
      const first = seen.get(bridge[key]);
      if (first === undefined) seen.set(bridge[key], i);
      else
        problems.push({
          path: ["bridges", i, key],
          message: `${bridge[key]} is already bridge ${first}'s ${key}; each bridge needs its own`,
        });
    });
  };
  firstOf("name");
  firstOf("originHostname");
  return problems.sort((a, b) => Number(a.path[1]) - Number(b.path[1]));
}

/** `edge.bridgeHealthUrl` is one bridge's health URL: a listed bridge's is `/health` on its hostname. */
export function validateFleetHealthUrl(
  settings: FleetKeys<unknown, unknown> & { edge: { bridgeHealthUrl?: string } },
): Problem[] {
  if (settings.bridges === undefined || settings.edge.bridgeHealthUrl === undefined) return [];
  return [
    {
      path: ["edge", "bridgeHealthUrl"],
      message:
        "names one bridge's health URL; with voice-edge:bridges each bridge is probed at /health on its originHostname: remove it",
    },
  ];
}

/** A bridge as the resources read it, whichever form the stack wrote it in. */
export interface Bridge {
  name: string;
  originHostname: string;
  service: string;
  path: string;
  healthPath: string;
  capacity: number;
  originRequest?: OriginRequestSettings;
  /** The single-bridge `tunnel` form: its resources keep the names a one-bridge stack always had. */
  single: boolean;
}

/** The name a `tunnel`-form bridge goes by in outputs. */
export const SINGLE_BRIDGE_NAME = "bridge";

export interface FleetSettings {
  tunnel?: {
    originHostname: string;
    bridgeService: string;
    bridgePath: string;
    healthPath: string;
    originRequest?: OriginRequestSettings;
  };
  bridges?: BridgeSettings[];
}

/** The stack's bridges as one list: `tunnel` is a fleet of one, `bridges` as written. */
export function bridgesOf(settings: FleetSettings): Bridge[] {
  if (settings.bridges)
    return settings.bridges.map((bridge) => ({
      ...bridge,
      healthPath: "/health",
      single: false,
    }));
  const tunnel = settings.tunnel;
  if (!tunnel) return [];
  return [
    {
      name: SINGLE_BRIDGE_NAME,
      originHostname: tunnel.originHostname,
      service: tunnel.bridgeService,
      path: tunnel.bridgePath,
      healthPath: tunnel.healthPath,
      capacity: 1,
      ...(tunnel.originRequest && { originRequest: tunnel.originRequest }),
      single: true,
    },
  ];
}

/**
 * A listed bridge's tunnel secret, derived from the stack's one `tunnelSecret` so a fleet needs no
 * new secret per VM, yet no bridge's connector token works for another's tunnel. The single
 * `tunnel` form keeps the stack's secret itself (its tunnel is never replaced).
 */
export function bridgeTunnelSecret(tunnelSecret: string, bridge: Bridge): string {
  if (bridge.single) return tunnelSecret;
  return createHmac("sha256", Buffer.from(tunnelSecret, "base64"))
    .update(`voice-edge bridge tunnel:${bridge.name}`)
    .digest("base64");
}

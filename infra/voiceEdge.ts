import * as pulumi from "@pulumi/pulumi";
import { HEALTH_PATH, WS_PATH } from "../worker/src/routes";
import { KIT_PATH } from "../worker/src/kit";
import { alerts } from "./alerts";
import { bridgeWatchDatabase, bridgeWatchSchedule } from "./bridgeWatch";
import { lineScript } from "./line";
import type { Scope } from "./childNames";
import { serviceRecords } from "./dns";
import { originLock } from "./originLock";
import { rateLimitRuleset } from "./rateLimit";
import { RESOURCE_TYPES } from "./resourceTypes";
import { bridgesOf, type Bridge } from "./config/schema";
import { bridgeTunnel, tunnelName } from "./tunnel";
import { validateVoiceEdgeArgs, type VoiceEdgeArgs } from "./voiceEdgeArgs";
import { edgeWorker } from "./worker";
import { zoneSettings } from "./zoneSettings";

export type { VoiceEdgeArgs, VoiceEdgeLineArgs } from "./voiceEdgeArgs";

export interface BridgeOutput {
  name: string;
  hostname: string;
  /** The tunnel's name in the account (dashboard → Networks → Tunnels). */
  tunnelName: string;
  tunnelId: string;
  /** Prints the guard's files for the bridge's VM. */
  guardConfigCommand: string;
}

/**
 * The command that prints a bridge's guard files: the stack's `guard` settings with, for a listed
 * bridge, its own `capacity`. The `tunnel` form's one bridge needs no selector.
 */
export function guardConfigCommand(stack: string, bridge: Bridge): string {
  const command = `npm run guard -- --print-config --stack ${stack}`;
  return bridge.single ? command : `${command} --bridge ${bridge.name}`;
}

/**
 * The voice edge as one Pulumi component: zone settings and rate limit (zone owner only), the
 * Access lock, the tunnel, its DNS, the Worker and its route, the waiting line's own script when
 * the line is on, and the alerts. Every resource is a
 * child named after the component (`<name>-worker`, `<name>-tunnel`, …), so a program may hold
 * several; give the Cloudflare provider through `providers` (or let the default provider read
 * CLOUDFLARE_API_TOKEN). The arguments are validated first: a bad one throws a
 * VoiceEdgeArgsError naming it, before anything is declared.
 */
export class VoiceEdge extends pulumi.ComponentResource {
  /** The website's NEXT_PUBLIC_PERSONAPLEX_WS_URL. */
  readonly publicWsUrl: string;
  readonly healthUrl: string;
  /** The client kit a page imports without a build step (docs/client-kit.md). */
  readonly clientKitUrl: string;
  /** The first allowed page origin: what a browser on the website sends, and what the smoke test sends. */
  readonly websiteOrigin: string | null;
  readonly workerName: pulumi.Output<string>;
  readonly bundleSha256: string;
  readonly bundleSizeBytes: number;
  /** The first bridge's hostname, tunnel and connector token (a fleet of one's only bridge). */
  readonly originHostname: string;
  readonly tunnelId: pulumi.Output<string>;
  /** What `cloudflared service install` needs on the bridge's VM (a secret). */
  readonly connectorToken: pulumi.Output<string>;
  /** Every bridge: its name, hostname, tunnel and the command that prints its guard's files. */
  readonly bridges: pulumi.Output<BridgeOutput[]>;
  /** Each bridge's connector token by bridge name (one secret). */
  readonly bridgeConnectorTokens: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: VoiceEdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    const { settings, secrets, bundle, line } = validateVoiceEdgeArgs(name, args);
    super(RESOURCE_TYPES.component, name, {}, opts);
    const children: Scope = { name, opts: { parent: this } };

    zoneSettings(settings, children);
    rateLimitRuleset(settings, children);
    const lock = originLock(settings, children);
    const originGuard = [lock.application, lock.policy];
    const tunnels = bridgesOf(settings).map((bridge) =>
      bridgeTunnel(settings, bridge, secrets, originGuard, children),
    );
    const [first] = tunnels;
    serviceRecords(
      settings,
      tunnels.map((t) => ({ bridge: t.bridge, tunnelId: t.tunnel.id })),
      originGuard,
      children,
    );
    const watchState = bridgeWatchDatabase(settings, children);
    const coordinator = line && lineScript(settings, line, lock, children);
    const worker = edgeWorker(settings, secrets, bundle, lock, watchState, coordinator, children);
    bridgeWatchSchedule(settings, worker.script, children);
    alerts(
      settings,
      secrets,
      { tunnelIds: tunnels.map((t) => t.tunnel.id), serviceTokenId: lock.serviceToken.id },
      children,
    );

    this.publicWsUrl = `wss://${settings.publicHostname}${WS_PATH}`;
    this.healthUrl = `https://${settings.publicHostname}${HEALTH_PATH}`;
    this.clientKitUrl = `https://${settings.publicHostname}${KIT_PATH}`;
    this.websiteOrigin = settings.edge.allowedOrigins[0] ?? null;
    this.workerName = worker.script.scriptName;
    this.bundleSha256 = bundle.sha256;
    this.bundleSizeBytes = bundle.sizeBytes;
    this.originHostname = first.bridge.originHostname;
    this.tunnelId = first.tunnel.id;
    this.connectorToken = first.connectorToken;
    this.bridges = pulumi.output(
      tunnels.map(({ bridge, tunnel }) => ({
        name: bridge.name,
        hostname: bridge.originHostname,
        tunnelName: tunnelName(settings, bridge),
        tunnelId: tunnel.id,
        guardConfigCommand: guardConfigCommand(pulumi.getStack(), bridge),
      })),
    );
    this.bridgeConnectorTokens = pulumi.secret(
      pulumi
        .all(tunnels.map((t) => t.connectorToken))
        .apply((tokens) =>
          Object.fromEntries(tokens.map((token, i) => [tunnels[i].bridge.name, token])),
        ),
    );
    this.registerOutputs({
      publicWsUrl: this.publicWsUrl,
      healthUrl: this.healthUrl,
      clientKitUrl: this.clientKitUrl,
      websiteOrigin: this.websiteOrigin,
      workerName: this.workerName,
      bundleSha256: this.bundleSha256,
      bundleSizeBytes: this.bundleSizeBytes,
      originHostname: this.originHostname,
      tunnelId: this.tunnelId,
      connectorToken: this.connectorToken,
      bridges: this.bridges,
      bridgeConnectorTokens: this.bridgeConnectorTokens,
    });
  }
}

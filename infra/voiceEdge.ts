import * as pulumi from "@pulumi/pulumi";
import { HEALTH_PATH, WS_PATH } from "../worker/src/routes";
import { alerts } from "./alerts";
import { bridgeWatchDatabase, bridgeWatchSchedule } from "./bridgeWatch";
import type { Scope } from "./childNames";
import { serviceRecords } from "./dns";
import { originLock } from "./originLock";
import { rateLimitRuleset } from "./rateLimit";
import { RESOURCE_TYPES } from "./resourceTypes";
import { bridgeTunnel } from "./tunnel";
import { validateVoiceEdgeArgs, type VoiceEdgeArgs } from "./voiceEdgeArgs";
import { edgeWorker } from "./worker";
import { zoneSettings } from "./zoneSettings";

export type { VoiceEdgeArgs } from "./voiceEdgeArgs";

/**
 * The voice edge as one Pulumi component: zone settings and rate limit (zone owner only), the
 * Access lock, the tunnel, its DNS, the Worker and its route, and the alerts. Every resource is a
 * child named after the component (`<name>-worker`, `<name>-tunnel`, …), so a program may hold
 * several; give the Cloudflare provider through `providers` (or let the default provider read
 * CLOUDFLARE_API_TOKEN). The arguments are validated first: a bad one throws a
 * VoiceEdgeArgsError naming it, before anything is declared.
 */
export class VoiceEdge extends pulumi.ComponentResource {
  /** The website's NEXT_PUBLIC_PERSONAPLEX_WS_URL. */
  readonly publicWsUrl: string;
  readonly healthUrl: string;
  /** The first allowed page origin: what a browser on the website sends, and what the smoke test sends. */
  readonly websiteOrigin: string | null;
  readonly workerName: pulumi.Output<string>;
  readonly bundleSha256: string;
  readonly bundleSizeBytes: number;
  readonly originHostname: string;
  readonly tunnelId: pulumi.Output<string>;
  /** What `cloudflared service install` needs on the bridge's VM (a secret). */
  readonly connectorToken: pulumi.Output<string>;

  constructor(name: string, args: VoiceEdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    const { settings, secrets, bundle } = validateVoiceEdgeArgs(name, args);
    super(RESOURCE_TYPES.component, name, {}, opts);
    const children: Scope = { name, opts: { parent: this } };

    zoneSettings(settings, children);
    rateLimitRuleset(settings, children);
    const lock = originLock(settings, children);
    const originGuard = [lock.application, lock.policy];
    const bridge = bridgeTunnel(settings, secrets, originGuard, children);
    serviceRecords(settings, bridge.tunnel.id, originGuard, children);
    const watchState = bridgeWatchDatabase(settings, children);
    const worker = edgeWorker(settings, secrets, bundle, lock, watchState, children);
    bridgeWatchSchedule(settings, worker.script, children);
    alerts(
      settings,
      secrets,
      { tunnelId: bridge.tunnel.id, serviceTokenId: lock.serviceToken.id },
      children,
    );

    this.publicWsUrl = `wss://${settings.publicHostname}${WS_PATH}`;
    this.healthUrl = `https://${settings.publicHostname}${HEALTH_PATH}`;
    this.websiteOrigin = settings.edge.allowedOrigins[0] ?? null;
    this.workerName = worker.script.scriptName;
    this.bundleSha256 = bundle.sha256;
    this.bundleSizeBytes = bundle.sizeBytes;
    this.originHostname = settings.tunnel.originHostname;
    this.tunnelId = bridge.tunnel.id;
    this.connectorToken = bridge.connectorToken;
    this.registerOutputs({
      publicWsUrl: this.publicWsUrl,
      healthUrl: this.healthUrl,
      websiteOrigin: this.websiteOrigin,
      workerName: this.workerName,
      bundleSha256: this.bundleSha256,
      bundleSizeBytes: this.bundleSizeBytes,
      originHostname: this.originHostname,
      tunnelId: this.tunnelId,
      connectorToken: this.connectorToken,
    });
  }
}

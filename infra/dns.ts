import * as cloudflare from "@pulumi/cloudflare";
import type * as pulumi from "@pulumi/pulumi";
import { bridgeChild, child, type Scope } from "./childNames";
import type { Bridge, StackSettings } from "./config/schema";
import { tunnelCnameTarget } from "./tunnelIngress";

/** A proxied AAAA to the discard prefix: the hostname exists only for the Worker route. */
export const WORKER_ONLY_ADDRESS = "100::";
const AUTOMATIC_TTL = 1;

export interface ServiceRecords {
  publicRecord?: cloudflare.DnsRecord;
  /** One CNAME per bridge, in the stack's order. */
  originRecords: cloudflare.DnsRecord[];
}

/** Marks the records this project creates (preflight tells them from records made by others). */
export function recordComment(
  settings: StackSettings,
  purpose: "tunnel to the bridge" | "Worker route only",
): string {
  return `${settings.workerName}: ${purpose}`;
}

/** Each bridge's CNAME to its tunnel is published only after `originGuard` (the Access lock) exists. */
export function serviceRecords(
  settings: StackSettings,
  tunnels: { bridge: Bridge; tunnelId: pulumi.Output<string> }[],
  originGuard: pulumi.Resource[],
  scope: Scope,
): ServiceRecords {
  const zoneId = settings.zone.id;
  const publicChild = child(scope, "public-record", "public-hostname");
  const publicRecord =
    settings.publicDns === "worker-only"
      ? new cloudflare.DnsRecord(
          publicChild.name,
          {
            zoneId,
            name: settings.publicHostname,
            type: "AAAA",
            content: WORKER_ONLY_ADDRESS,
            proxied: true,
            ttl: AUTOMATIC_TTL,
            comment: recordComment(settings, "Worker route only"),
          },
          publicChild.opts,
        )
      : undefined;
  const originRecords = tunnels.map(({ bridge, tunnelId }) => {
    const originChild = bridgeChild(scope, bridge, "origin-record", "origin-hostname", {
      dependsOn: originGuard,
    });
    return new cloudflare.DnsRecord(
      originChild.name,
      {
        zoneId,
        name: bridge.originHostname,
        type: "CNAME",
        content: tunnelId.apply(tunnelCnameTarget),
        proxied: true,
        ttl: AUTOMATIC_TTL,
        comment: recordComment(settings, "tunnel to the bridge"),
      },
      originChild.opts,
    );
  });
  return { publicRecord, originRecords };
}

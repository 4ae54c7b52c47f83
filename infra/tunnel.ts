import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { child, type Scope } from "./childNames";
import type { StackSecrets, StackSettings } from "./config/schema";
import { tunnelIngress } from "./tunnelIngress";

export interface BridgeTunnel {
  tunnel: cloudflare.ZeroTrustTunnelCloudflared;
  config: cloudflare.ZeroTrustTunnelCloudflaredConfig;
  /** What `cloudflared tunnel run --token` needs on the bridge's VM. */
  connectorToken: pulumi.Output<string>;
}

/** The tunnel's name: `tunnel.name`, or `<workerName>-bridge`. Cloudflare refuses a second tunnel with the same name. */
export function tunnelName(settings: StackSettings): string {
  return settings.tunnel.name ?? `${settings.workerName}-bridge`;
}

/**
 * A remotely managed tunnel: the origin hostname to the bridge's private URL (by default the
 * guard on the VM, `http://localhost:8999`), everything else 404.
 * The ingress is written only after `originGuard` (the Access lock) exists, so the origin
 * hostname never serves the bridge unlocked, not even between two steps of a `pulumi up`.
 */
export function bridgeTunnel(
  settings: StackSettings,
  secrets: StackSecrets,
  originGuard: pulumi.Resource[],
  scope: Scope,
): BridgeTunnel {
  const accountId = settings.accountId;
  const tunnelChild = child(scope, "tunnel", "bridge-tunnel");
  const tunnel = new cloudflare.ZeroTrustTunnelCloudflared(
    tunnelChild.name,
    {
      accountId,
      name: tunnelName(settings),
      configSrc: "cloudflare",
      tunnelSecret: pulumi.secret(secrets.tunnelSecret),
    },
    tunnelChild.opts,
  );
  const configChild = child(scope, "tunnel-config", "bridge-tunnel-config", {
    dependsOn: originGuard,
  });
  const config = new cloudflare.ZeroTrustTunnelCloudflaredConfig(
    configChild.name,
    {
      accountId,
      tunnelId: tunnel.id,
      config: {
        ingresses: tunnelIngress(
          settings.tunnel.originHostname,
          settings.tunnel.bridgeService,
          settings.tunnel.originRequest,
        ),
      },
    },
    configChild.opts,
  );
  const connectorToken = pulumi.secret(
    cloudflare.getZeroTrustTunnelCloudflaredTokenOutput(
      { accountId, tunnelId: tunnel.id },
      scope.opts,
    ).token,
  );
  return { tunnel, config, connectorToken };
}

import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { bridgeChild, type Scope } from "./childNames";
import { bridgeTunnelSecret } from "./config/bridges";
import type { Bridge, StackSecrets, StackSettings } from "./config/schema";
import { tunnelIngress } from "./tunnelIngress";

export interface BridgeTunnel {
  bridge: Bridge;
  tunnel: cloudflare.ZeroTrustTunnelCloudflared;
  config: cloudflare.ZeroTrustTunnelCloudflaredConfig;
  /** What `cloudflared tunnel run --token` needs on the bridge's VM. */
  connectorToken: pulumi.Output<string>;
}

/**
 * A bridge's tunnel name: the single form's `tunnel.name` or `<workerName>-bridge`; a listed
 * bridge's `<workerName>-<name>`. Cloudflare refuses a second tunnel with the same name.
 */
export function tunnelName(settings: StackSettings, bridge: Bridge): string {
  if (!bridge.single) return `${settings.workerName}-${bridge.name}`;
  return settings.tunnel?.name ?? `${settings.workerName}-bridge`;
}

/**
 * A remotely managed tunnel: the origin hostname to the bridge's private URL (by default the
 * guard on the VM, `http://localhost:8999`), everything else 404.
 * The ingress is written only after `originGuard` (the Access lock) exists, so the origin
 * hostname never serves the bridge unlocked, not even between two steps of a `pulumi up`.
 */
export function bridgeTunnel(
  settings: StackSettings,
  bridge: Bridge,
  secrets: StackSecrets,
  originGuard: pulumi.Resource[],
  scope: Scope,
): BridgeTunnel {
  const accountId = settings.accountId;
  const tunnelChild = bridgeChild(scope, bridge, "tunnel", "bridge-tunnel");
  const tunnel = new cloudflare.ZeroTrustTunnelCloudflared(
    tunnelChild.name,
    {
      accountId,
      name: tunnelName(settings, bridge),
      configSrc: "cloudflare",
      tunnelSecret: pulumi.secret(bridgeTunnelSecret(secrets.tunnelSecret, bridge)),
    },
    tunnelChild.opts,
  );
  const configChild = bridgeChild(scope, bridge, "tunnel-config", "bridge-tunnel-config", {
    dependsOn: originGuard,
  });
  const config = new cloudflare.ZeroTrustTunnelCloudflaredConfig(
    configChild.name,
    {
      accountId,
      tunnelId: tunnel.id,
      config: {
        ingresses: tunnelIngress(bridge.originHostname, bridge.service, bridge.originRequest),
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
  return { bridge, tunnel, config, connectorToken };
}

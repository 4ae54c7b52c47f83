import type { OriginRequestSettings } from "./config/tunnel";

/** The tunnel's ingress rules: the origin hostname to the bridge, everything else a 404. */
export interface IngressRule {
  hostname?: string;
  service: string;
  /** The provider's `originRequest` of this rule: how cloudflared checks an https:// bridge's certificate. */
  originRequest?: OriginRequestSettings;
}

export const CATCH_ALL_SERVICE = "http_status:404";

/**
 * The bridge's rule carries the stack's originRequest (its keys are the provider's names) when any
 * is set; the config-wide originRequest stays unset, since the only other rule answers a status.
 */
export function tunnelIngress(
  originHostname: string,
  bridgeService: string,
  originRequest: OriginRequestSettings = {},
): IngressRule[] {
  const set = Object.fromEntries(
    Object.entries(originRequest).filter(([, value]) => value !== undefined),
  ) as OriginRequestSettings;
  return [
    {
      hostname: originHostname,
      service: bridgeService.replace(/\/$/, ""),
      ...(Object.keys(set).length > 0 && { originRequest: set }),
    },
    { service: CATCH_ALL_SERVICE },
  ];
}

/** What a proxied CNAME for a remotely managed tunnel points at. */
export function tunnelCnameTarget(tunnelId: string): string {
  return `${tunnelId}.cfargotunnel.com`;
}

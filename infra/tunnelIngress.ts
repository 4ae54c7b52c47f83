/** The tunnel's ingress rules: the origin hostname to the bridge, everything else a 404. */
export interface IngressRule {
  hostname?: string;
  service: string;
}

export const CATCH_ALL_SERVICE = "http_status:404";

export function tunnelIngress(originHostname: string, bridgeService: string): IngressRule[] {
  return [
    { hostname: originHostname, service: bridgeService.replace(/\/$/, "") },
    { service: CATCH_ALL_SERVICE },
  ];
}

/** What a proxied CNAME for a remotely managed tunnel points at. */
export function tunnelCnameTarget(tunnelId: string): string {
  return `${tunnelId}.cfargotunnel.com`;
}

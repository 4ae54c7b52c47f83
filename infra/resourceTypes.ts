import type { DeclaredResource, ProgramRun } from "./offlineRun";

/**
 * The type tokens of every resource the program declares, in one place: the offline run fakes
 * computed fields by them, `npm run plan` sorts and summarises by them, the tests look resources
 * up by them. The provider's classes carry the same tokens (a test checks), but only at run time.
 */
export const RESOURCE_TYPES = {
  component: "voice-edge:index:VoiceEdge",
  provider: "pulumi:providers:cloudflare",
  zoneSetting: "cloudflare:index/zoneSetting:ZoneSetting",
  urlNormalization: "cloudflare:index/urlNormalizationSettings:UrlNormalizationSettings",
  dnsRecord: "cloudflare:index/dnsRecord:DnsRecord",
  ruleset: "cloudflare:index/ruleset:Ruleset",
  tunnel: "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared",
  tunnelConfig:
    "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig",
  serviceToken: "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken",
  accessPolicy: "cloudflare:index/zeroTrustAccessPolicy:ZeroTrustAccessPolicy",
  accessApp: "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication",
  script: "cloudflare:index/workersScript:WorkersScript",
  route: "cloudflare:index/workersRoute:WorkersRoute",
  cron: "cloudflare:index/workersCronTrigger:WorkersCronTrigger",
  d1: "cloudflare:index/d1Database:D1Database",
  notification: "cloudflare:index/notificationPolicy:NotificationPolicy",
  webhook: "cloudflare:index/notificationPolicyWebhooks:NotificationPolicyWebhooks",
  healthCheck: "cloudflare:index/healthcheck:Healthcheck",
} as const;

/** The invokes (data sources) the program calls; the offline run answers these and refuses any other. */
export const INVOKE_TOKENS = {
  tunnelToken:
    "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken",
} as const;

/** `cloudflare:index/workersScript:WorkersScript` → `WorkersScript`. */
export function shortType(type: string): string {
  return type.split(":").at(-1) ?? type;
}

export function resourcesOfType(run: ProgramRun, type: string): DeclaredResource[] {
  return run.resources.filter((r) => r.type === type);
}

/** The one resource of that type and name; throws, naming both, when there is none or more than one. */
export function oneResource(run: ProgramRun, type: string, name: string): DeclaredResource {
  const found = run.resources.filter((r) => r.type === type && r.name === name);
  if (found.length !== 1)
    throw new Error(`expected one ${shortType(type)} ${name}, found ${found.length}`);
  return found[0];
}

/** Every resource as `<ShortType> <name>`, sorted: what a run declares at a glance. */
export function inventory(run: ProgramRun): string[] {
  return run.resources.map((r) => `${shortType(r.type)} ${r.name}`).sort();
}

import type Cloudflare from "cloudflare";
import { ALERT_TYPES } from "../config/planLimits";
import { alertTypesOf, type StackSettings } from "../config/schema";
import { RESOURCE_TYPES } from "../resourceTypes";

/** A permission group as the lines and the README name it. */
export interface TokenPermission {
  /** The permission group's name in the API (`… Write` is "Edit" in the dashboard). */
  group: string;
  scope: "zone" | "account";
  /** Where it is in the dashboard's token builder. */
  dashboard: string;
  /** What the stack does with it. */
  why: string;
}

export interface RequiredPermission extends TokenPermission {
  /** The resource types (`RESOURCE_TYPES`) whose creation and updates need it. */
  writes: readonly string[];
  /** A read in that area: a 403 here means the token lacks the group. */
  probe: (client: Cloudflare, settings: StackSettings) => Promise<unknown>;
  /** Only stacks that declare what needs it need it; unset: every stack. */
  neededBy?: (settings: StackSettings) => boolean;
}

/** A probe's list call in the account: one small page is enough to see a 403. */
const firstPageOfAccount = (s: StackSettings) => ({ account_id: s.accountId, per_page: 5 });

/**
 * Every permission group the token needs for `pulumi up` and for preflight, in one place: the
 * token check compares against it, and the README lists exactly these (a test holds them equal).
 */
export const REQUIRED_TOKEN_PERMISSIONS: readonly RequiredPermission[] = [
  {
    group: "Zone Read",
    scope: "zone",
    dashboard: "Zone → Zone → Read",
    why: "read the zone and its plan",
    writes: [],
    probe: (client, s) => client.zones.get({ zone_id: s.zone.id }),
  },
  {
    group: "Zone Settings Write",
    scope: "zone",
    dashboard: "Zone → Zone Settings → Edit",
    why: "websockets, ssl, always_use_https and zone.extraSettings",
    writes: [RESOURCE_TYPES.zoneSetting],
    probe: (client, s) => client.zones.settings.get("ssl", { zone_id: s.zone.id }),
  },
  {
    group: "DNS Write",
    scope: "zone",
    dashboard: "Zone → DNS → Edit",
    why: "the origin hostname's CNAME and the worker-only AAAA",
    writes: [RESOURCE_TYPES.dnsRecord],
    probe: (client, s) => client.dns.records.list({ zone_id: s.zone.id, per_page: 5 }),
  },
  {
    group: "Workers Routes Write",
    scope: "zone",
    dashboard: "Zone → Workers Routes → Edit",
    why: "the Worker's route",
    writes: [RESOURCE_TYPES.route],
    probe: (client, s) => client.workers.routes.list({ zone_id: s.zone.id }),
  },
  {
    group: "Zone WAF Write",
    scope: "zone",
    dashboard: "Zone → Zone WAF → Edit",
    why: "the http_ratelimit entry-point ruleset and URL normalization",
    writes: [RESOURCE_TYPES.ruleset, RESOURCE_TYPES.urlNormalization],
    probe: (client, s) => client.rulesets.list({ zone_id: s.zone.id }),
  },
  {
    group: "Workers Scripts Write",
    scope: "account",
    dashboard: "Account → Workers Scripts → Edit",
    why: "the Worker script, and the line's script whose migration tag `pulumi up` reads (line on)",
    writes: [RESOURCE_TYPES.script, RESOURCE_TYPES.cron],
    probe: (client, s) => client.workers.scripts.list({ account_id: s.accountId }),
  },
  {
    group: "Cloudflare Tunnel Write",
    scope: "account",
    dashboard: "Account → Cloudflare Tunnel → Edit",
    why: "the tunnel and its ingress",
    writes: [RESOURCE_TYPES.tunnel, RESOURCE_TYPES.tunnelConfig],
    probe: (client, s) => client.zeroTrust.tunnels.cloudflared.list(firstPageOfAccount(s)),
  },
  {
    group: "Access: Apps and Policies Write",
    scope: "account",
    dashboard: "Account → Access: Apps and Policies → Edit",
    why: "the Access application and policy that lock the origin hostname",
    writes: [RESOURCE_TYPES.accessApp, RESOURCE_TYPES.accessPolicy],
    probe: (client, s) => client.zeroTrust.access.applications.list(firstPageOfAccount(s)),
  },
  {
    group: "Access: Service Tokens Write",
    scope: "account",
    dashboard: "Account → Access: Service Tokens → Edit",
    why: "the Worker's service token",
    writes: [RESOURCE_TYPES.serviceToken],
    probe: (client, s) => client.zeroTrust.access.serviceTokens.list(firstPageOfAccount(s)),
  },
  {
    group: "Notifications Write",
    scope: "account",
    dashboard: "Account → Notifications → Edit",
    why: "alert policies and the webhook",
    writes: [RESOURCE_TYPES.notification, RESOURCE_TYPES.webhook],
    probe: (client, s) => client.alerting.policies.list({ account_id: s.accountId }),
  },
  {
    group: "Health Checks Write",
    scope: "zone",
    dashboard: "Zone → Health Checks → Edit",
    why: "the Health Check of /voice/health (alerts with health_check_status_notification: Pro and up)",
    writes: [RESOURCE_TYPES.healthCheck],
    probe: (client, s) => client.healthchecks.list({ zone_id: s.zone.id }),
    neededBy: (s) => alertTypesOf(s).includes(ALERT_TYPES.healthCheck),
  },
  {
    group: "D1 Write",
    scope: "account",
    dashboard: "Account → D1 → Edit",
    why: "the bridge probe's state (alerts with bridge_probe: the Free plan's default)",
    writes: [RESOURCE_TYPES.d1],
    probe: (client, s) => client.d1.database.list({ account_id: s.accountId }),
    neededBy: (s) => alertTypesOf(s).includes(ALERT_TYPES.bridgeProbe),
  },
];

/** The permission groups this stack needs: every unconditional one, and those its alerts need. */
export function requiredPermissionsFor(settings: StackSettings): RequiredPermission[] {
  return REQUIRED_TOKEN_PERMISSIONS.filter((permission) => permission.neededBy?.(settings) ?? true);
}

export function requiredPermission(group: string): RequiredPermission {
  const permission = REQUIRED_TOKEN_PERMISSIONS.find((p) => p.group === group);
  if (!permission) throw new Error(`${group} is not in REQUIRED_TOKEN_PERMISSIONS`);
  return permission;
}

/**
 * Account Analytics Read: not required (`pulumi up` never needs it, so the token check does not
 * ask for it), but with it preflight can tell, for a stack with `voice-edge:analytics.dataset`,
 * whether the account has enabled Analytics Engine (the `analytics` check; without it, a warning).
 */
export const ANALYTICS_READ_PERMISSION: TokenPermission = {
  group: "Account Analytics Read",
  scope: "account",
  dashboard: "Account → Account Analytics → Read",
  why: "preflight's analytics check: whether the account has enabled Analytics Engine (SHOW TABLES through the SQL API)",
};

/** `"DNS Write" (Zone → DNS → Edit)`, as the lines and the README name a permission. */
export function describePermission(permission: TokenPermission): string {
  return `"${permission.group}" (${permission.dashboard})`;
}

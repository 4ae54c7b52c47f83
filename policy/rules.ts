/**
 * The policy pack's rules as plain functions over resource properties: each returns the
 * violations it finds (empty when the resource complies). `policies.ts` wires them to Pulumi.
 */
import { REQUIRED_ZONE_SETTINGS } from "../infra/config/schema";

export interface ZoneSettingProps {
  settingId?: string;
  value?: unknown;
}

export function zoneSettingViolations(props: ZoneSettingProps): string[] {
  const id = props.settingId as keyof typeof REQUIRED_ZONE_SETTINGS | undefined;
  if (!id || !(id in REQUIRED_ZONE_SETTINGS)) return [];
  const required = REQUIRED_ZONE_SETTINGS[id];
  return props.value === required
    ? []
    : [
        `zone setting ${id} must be "${required}" for the voice service, not ${JSON.stringify(props.value)}`,
      ];
}

export interface DnsRecordProps {
  name?: string;
  type?: string;
  proxied?: boolean;
}

const PROXIABLE_TYPES = new Set(["A", "AAAA", "CNAME"]);

export function dnsRecordViolations(props: DnsRecordProps): string[] {
  if (!props.type || !PROXIABLE_TYPES.has(props.type)) return [];
  return props.proxied === true
    ? []
    : [
        `DNS record ${props.name} (${props.type}) must be proxied: unproxied, it exposes its target and skips the Worker, WAF and Access`,
      ];
}

export interface WorkersBinding {
  name?: string;
  type?: string;
}

const SECRET_LOOKING_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|API_?KEY|CLIENT_ID)/i;

export function bindingViolations(bindings: WorkersBinding[] | undefined): string[] {
  return (bindings ?? [])
    .filter(
      (binding) =>
        binding.name && SECRET_LOOKING_NAME.test(binding.name) && binding.type !== "secret_text",
    )
    .map(
      (binding) =>
        `binding ${binding.name} looks secret but is ${binding.type}: use secret_text so the value is encrypted and never shown`,
    );
}

export interface NotificationPolicyProps {
  name?: string;
  mechanisms?: { emails?: unknown[]; webhooks?: unknown[]; pagerduties?: unknown[] };
}

export function notificationViolations(props: NotificationPolicyProps): string[] {
  const mechanisms = props.mechanisms ?? {};
  const count =
    (mechanisms.emails?.length ?? 0) +
    (mechanisms.webhooks?.length ?? 0) +
    (mechanisms.pagerduties?.length ?? 0);
  return count > 0
    ? []
    : [
        `notification policy ${props.name ?? ""} has no mechanism: nobody would be told`.replace(
          "  ",
          " ",
        ),
      ];
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function compatibilityDateViolations(
  compatibilityDate: string | undefined,
  now: Date,
  maxAgeDays = 365,
): string[] {
  if (!compatibilityDate) return ["the Worker has no compatibility date: pin one"];
  const age = Math.floor((now.getTime() - Date.parse(`${compatibilityDate}T00:00:00Z`)) / DAY_MS);
  return age > maxAgeDays
    ? [
        `the Worker's compatibility date ${compatibilityDate} is ${age} days old (more than ${maxAgeDays}): review the runtime changes since and move it forward`,
      ]
    : [];
}

export interface RateLimitRule {
  expression?: string;
}

interface RouteMatch {
  host: string;
  pathPrefix: string;
}

/** `mycosoft.com/voice/*` → host `mycosoft.com`, path prefix `/voice/`. */
export function parseRoutePattern(pattern: string): RouteMatch {
  const slash = pattern.indexOf("/");
  const host = slash === -1 ? pattern : pattern.slice(0, slash);
  const path = slash === -1 ? "/" : pattern.slice(slash);
  return { host, pathPrefix: path.replace(/\*$/, "") };
}

/** Reads the path and the optional host list back from expressions that infra/rateLimitExpression.ts writes. */
export function parseRateLimitExpression(expression: string): {
  paths: string[];
  hosts: string[] | null;
} {
  const paths = [
    ...expression.matchAll(/http\.request\.uri\.path (?:eq|starts_with)\s*"((?:[^"\\]|\\.)*)"/g),
  ].map((m) => m[1]);
  const hostList = expression.match(/http\.host in \{([^}]*)\}/);
  const hostEq = [...expression.matchAll(/http\.host eq "([^"]*)"/g)].map((m) => m[1]);
  const hosts = hostList
    ? [...hostList[1].matchAll(/"([^"]*)"/g)].map((m) => m[1])
    : hostEq.length > 0
      ? hostEq
      : null;
  return { paths, hosts };
}

/**
 * Every Worker route must sit on a path some rate-limit rule covers: a rule whose path lies under
 * the route and whose host list (if any) includes the route's host. `coveredElsewhere` lists route
 * patterns whose zone's rate limit is declared by the zone-owning stack.
 */
export function routeViolations(
  routePatterns: string[],
  rules: RateLimitRule[],
  coveredElsewhere: string[] = [],
): string[] {
  const parsedRules = rules.map((rule) => parseRateLimitExpression(rule.expression ?? ""));
  return routePatterns
    .filter((pattern) => !coveredElsewhere.includes(pattern))
    .filter((pattern) => {
      const route = parseRoutePattern(pattern);
      return !parsedRules.some(
        (rule) =>
          rule.paths.some((path) => path.startsWith(route.pathPrefix)) &&
          (rule.hosts === null || rule.hosts.includes(route.host)),
      );
    })
    .map(
      (pattern) =>
        `Worker route ${pattern} is not covered by any rate-limit rule in this stack (nor listed as covered by the zone-owning stack)`,
    );
}

/**
 * The voice-edge policies, without the PolicyPack (constructing one starts a gRPC server):
 * `pack.ts` serves them, tests import them from here.
 */
import * as cloudflare from "@pulumi/cloudflare";
import {
  validateResourceOfType,
  type Policy,
  type ResourceValidationPolicy,
  type StackValidationPolicy,
} from "@pulumi/policy";
import {
  bindingViolations,
  compatibilityDateViolations,
  dnsRecordViolations,
  notificationViolations,
  routeViolations,
  zoneSettingViolations,
  type RateLimitRule,
  type WorkersBinding,
} from "./rules";

const report = (violations: string[], reportViolation: (message: string) => void) =>
  violations.forEach((v) => reportViolation(v));

export const zoneSettingsForVoice: ResourceValidationPolicy = {
  name: "zone-settings-for-voice",
  description:
    "Where zone settings are declared: websockets on, SSL Full (strict), Always Use HTTPS on.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(
    cloudflare.ZoneSetting,
    (props, _args, reportViolation) =>
      report(
        zoneSettingViolations({ settingId: props.settingId, value: props.value }),
        reportViolation,
      ),
  ),
};

export const serviceDnsProxied: ResourceValidationPolicy = {
  name: "service-dns-proxied",
  description: "The service's DNS records are proxied through Cloudflare.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(cloudflare.DnsRecord, (props, _args, reportViolation) =>
    report(dnsRecordViolations(props), reportViolation),
  ),
};

export interface RouteCoverageConfig {
  /** Route patterns whose rate limit the zone-owning stack declares (from `npm run --silent policy-config`). */
  coveredElsewhere?: string[];
}

export const workerRoutesRateLimited: StackValidationPolicy = {
  name: "worker-routes-rate-limited",
  description: "Every Worker route pattern sits on a path that a rate-limit rule covers.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: { coveredElsewhere: { type: "array", items: { type: "string" }, default: [] } },
  },
  validateStack: (args, reportViolation) => {
    const { coveredElsewhere = [] } = args.getConfig<RouteCoverageConfig>();
    const routes = args.resources
      .filter((r) => r.isType(cloudflare.WorkersRoute))
      .map((r) => r.props.pattern as string);
    const rules = args.resources
      .filter((r) => r.isType(cloudflare.Ruleset) && r.props.phase === "http_ratelimit")
      .flatMap((r) => (r.props.rules ?? []) as RateLimitRule[]);
    report(routeViolations(routes, rules, coveredElsewhere), reportViolation);
  },
};

export const secretBindingsAreSecret: ResourceValidationPolicy = {
  name: "secret-bindings-are-secret-text",
  description: "Worker bindings whose names look secret are secret_text.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(
    cloudflare.WorkersScript,
    (props, _args, reportViolation) =>
      report(bindingViolations(props.bindings as WorkersBinding[] | undefined), reportViolation),
  ),
};

export const notificationsHaveMechanism: ResourceValidationPolicy = {
  name: "notifications-have-a-mechanism",
  description:
    "Every notification policy tells someone: at least one email, webhook or PagerDuty mechanism.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(
    cloudflare.NotificationPolicy,
    (props, _args, reportViolation) => report(notificationViolations(props), reportViolation),
  ),
};

export const compatibilityDateFresh: ResourceValidationPolicy = {
  name: "worker-compatibility-date-fresh",
  description: "The Worker's compatibility date is less than a year old.",
  enforcementLevel: "advisory",
  validateResource: validateResourceOfType(
    cloudflare.WorkersScript,
    (props, _args, reportViolation) =>
      report(compatibilityDateViolations(props.compatibilityDate, new Date()), reportViolation),
  ),
};

export const policies: Policy[] = [
  zoneSettingsForVoice,
  serviceDnsProxied,
  workerRoutesRateLimited,
  secretBindingsAreSecret,
  notificationsHaveMechanism,
  compatibilityDateFresh,
];

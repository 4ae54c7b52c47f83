import { requiredPermission } from "./permissions";
import { isNotFound, isNotRouted, isZeroTrustNotEnabled, ok, problem, warning } from "./result";
import type { Check } from "./check";
import { stackFileName } from "../config/stackFiles";

export const zeroTrustCheck: Check = {
  name: "zero-trust",
  reading: "the account's Zero Trust organization",
  permission: requiredPermission("Access: Apps and Policies Write"),
  async run({ client, settings }) {
    try {
      const organization = await client.zeroTrust.organizations.list({
        account_id: settings.accountId,
      });
      return [
        ok(
          "zero-trust",
          `organization ${organization.auth_domain ?? organization.name ?? "present"}: Access can lock the origin hostname`,
        ),
      ];
    } catch (error) {
      if (!isZeroTrustNotEnabled(error)) throw error;
      return [
        problem(
          "zero-trust",
          "the account has no Zero Trust organization (access.api.error.not_enabled): the Access application and service token cannot be created",
          "Cloudflare dashboard → Zero Trust: choose a team name and the Free plan (one time; the API cannot do it)",
        ),
      ];
    }
  },
};

export const zoneCheck: Check = {
  name: "zone",
  reading: "the zone",
  permission: requiredPermission("Zone Read"),
  async run({ client, stack, settings }) {
    const file = stackFileName(stack);
    let zone;
    try {
      zone = await client.zones.get({ zone_id: settings.zone.id });
    } catch (error) {
      if (!isNotFound(error) && !isNotRouted(error)) throw error;
      return [
        problem(
          "zone",
          `no zone with ID ${settings.zone.id} is visible to this token`,
          `put the zone's ID (dashboard → ${settings.zone.name} → Overview) into voice-edge:zone → id in ${file}, or give the token access to that zone`,
        ),
      ];
    }
    const plan = zone.plan?.legacy_id ?? "unknown";
    const results = [];
    if (zone.name !== settings.zone.name) {
      results.push(
        problem(
          "zone",
          `zone ${settings.zone.id} is ${zone.name}, the stack says zone.name: ${settings.zone.name}`,
          `correct voice-edge:zone → name (or → id) in ${file}`,
        ),
      );
    }
    if (plan !== settings.zone.plan) {
      results.push(
        problem(
          "zone",
          `${zone.name} is on the ${plan} plan, the stack says zone.plan: ${settings.zone.plan}`,
          `set voice-edge:zone → plan: ${plan} in ${file} (the schema then checks the rules against that plan)`,
        ),
      );
    }
    if (results.length > 0) return results;
    return [ok("zone", `${zone.name} (${plan} plan, matches zone.plan)`)];
  },
};

export const sslCheck: Check = {
  name: "ssl",
  reading: "the zone's ssl setting",
  permission: requiredPermission("Zone Settings Write"),
  async run({ client, settings }) {
    const setting = await client.zones.settings.get("ssl", { zone_id: settings.zone.id });
    const value = String((setting as { value?: unknown }).value);
    if (value === "strict") return [ok("ssl", "the zone already uses Full (strict)")];
    const who = settings.zone.owner ? "this stack sets" : "the zone owner's stack sets";
    return [
      warning(
        "ssl",
        `the zone uses "${value}"; ${who} ssl: strict, which is zone-wide — every proxied origin on ${settings.zone.name}, the website's too, must then present a valid certificate (publicly trusted or a Cloudflare Origin CA certificate) or visitors get 526`,
        "check the website's origin certificate before `pulumi up`; `pulumi destroy` does not switch ssl back",
      ),
    ];
  },
};

import { originHostnamesOf } from "./bridges";
import { z } from "zod";
import { PROJECT, type Problem } from "./errors";
import { cloudflareId, hostname } from "./fields";
import { ZONE_PLANS } from "./planLimits";
import {
  KNOWN_ZONE_SETTINGS,
  ZONE_SETTING_VALUES,
  type ZoneSettingId,
  type ZoneSettingValue,
} from "./zoneSettingValues";

/** What the voice service needs from the zone: WebSockets, SSL Full (strict), HTTPS only. */
export const REQUIRED_ZONE_SETTINGS = {
  websockets: "on",
  ssl: "strict",
  always_use_https: "on",
} as const;

export const zoneSchema = z.strictObject({
  id: cloudflareId("zone ID"),
  name: hostname,
  plan: z.enum(ZONE_PLANS),
  /**
   * Whether this stack declares the zone-wide resources (zone settings, the zone's one
   * `http_ratelimit` ruleset). Exactly one stack per zone may.
   */
  owner: z.boolean(),
  /** Zone settings beyond the three the service needs, e.g. `min_tls_version: "1.2"`, `http3: "on"`, in the API's value forms. */
  extraSettings: z
    .record(z.string(), z.unknown())
    .default({})
    .transform((values, ctx) => {
      const settings: Partial<Record<ZoneSettingId, ZoneSettingValue>> = {};
      for (const [id, value] of Object.entries(values)) {
        if (id in REQUIRED_ZONE_SETTINGS) {
          ctx.addIssue({
            code: "custom",
            path: [id],
            input: value,
            message: `is fixed by the service (${id}: ${REQUIRED_ZONE_SETTINGS[id as keyof typeof REQUIRED_ZONE_SETTINGS]}); remove it`,
          });
          continue;
        }
        const schema = ZONE_SETTING_VALUES[id as ZoneSettingId] as
          z.ZodType<ZoneSettingValue> | undefined;
        if (!schema) {
          ctx.addIssue({
            code: "custom",
            path: [id],
            input: value,
            message: `is not a zone setting this program knows; known: ${KNOWN_ZONE_SETTINGS.join(", ")}`,
          });
          continue;
        }
        const parsed = schema.safeParse(value);
        if (parsed.success) settings[id as ZoneSettingId] = parsed.data;
        else
          ctx.addIssue({
            code: "custom",
            path: [id],
            input: value,
            message: `${parsed.error.issues[0].message} (got ${JSON.stringify(value)})`,
          });
      }
      return settings;
    }),
  /**
   * How the zone normalizes URLs before rules see them (`UrlNormalizationSettings`, zone owner
   * only). The rate limit matches `/voice/ws` exactly, so `/voice/./ws` must arrive normalized.
   */
  urlNormalization: z
    .strictObject({
      type: z.enum(["cloudflare", "rfc3986"]).default("cloudflare"),
      scope: z
        .enum(["incoming", "both"], {
          error: 'must be "incoming" or "both" ("none" would let /voice/./ws past the rate limit)',
        })
        .default("incoming"),
    })
    .default({ type: "cloudflare", scope: "incoming" }),
});

export type ZoneSettings = z.infer<typeof zoneSchema>;

/** The Worker's route and the tunnel's hostname are records of the stack's zone. */
export function validateHostnamesInZone(settings: {
  zone: { name: string };
  publicHostname: string;
  tunnel?: { originHostname: string };
  bridges?: { originHostname: string }[];
}): Problem[] {
  const zone = settings.zone.name;
  const inZone = (host: string) => host === zone || host.endsWith(`.${zone}`);
  const problems: Problem[] = [];
  if (!inZone(settings.publicHostname))
    problems.push({
      path: ["publicHostname"],
      message: `${settings.publicHostname} is not in zone ${zone}`,
    });
  for (const { path, hostname } of originHostnamesOf(settings))
    if (!inZone(hostname)) problems.push({ path, message: `${hostname} is not in zone ${zone}` });
  return problems;
}

/** A second stack claiming the zone: refused before any resource is declared. */
export function zoneOwnerConflict(
  settings: { zone: { name: string; id: string }; publicHostname: string },
  ownerFile: string,
): string {
  return `${PROJECT}:zone → owner: zone ${settings.zone.name} (${settings.zone.id}) is already owned by ${ownerFile}; set zone.owner: false here and let ${ownerFile}'s rate limit cover this stack's ${settings.publicHostname}`;
}

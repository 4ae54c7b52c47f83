import * as cloudflare from "@pulumi/cloudflare";
import type * as pulumi from "@pulumi/pulumi";
import { REQUIRED_ZONE_SETTINGS, type StackSettings } from "./config/schema";

export interface ZoneSettings {
  settings: cloudflare.ZoneSetting[];
  urlNormalization: cloudflare.UrlNormalizationSettings;
}

/**
 * One ZoneSetting per setting, and the zone's URL normalization, declared only by the
 * zone-owning stack. Normalization matters to the service: the rate limit matches the path
 * exactly, and only normalized paths (`/voice/./ws` → `/voice/ws`) are counted.
 */
export function zoneSettings(settings: StackSettings, opts: pulumi.CustomResourceOptions): ZoneSettings | undefined {
  if (!settings.zone.owner) return undefined;
  const zoneId = settings.zone.id;
  const values = { ...settings.zone.extraSettings, ...REQUIRED_ZONE_SETTINGS };
  return {
    settings: Object.entries(values).map(([settingId, value]) => new cloudflare.ZoneSetting(`zone-${settingId.replace(/_/g, "-")}`, { zoneId, settingId, value }, opts)),
    urlNormalization: new cloudflare.UrlNormalizationSettings("zone-url-normalization", { zoneId, ...settings.zone.urlNormalization }, opts),
  };
}

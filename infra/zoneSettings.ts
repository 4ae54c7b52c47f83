import * as cloudflare from "@pulumi/cloudflare";
import { child, type Scope } from "./childNames";
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
export function zoneSettings(settings: StackSettings, scope: Scope): ZoneSettings | undefined {
  if (!settings.zone.owner) return undefined;
  const zoneId = settings.zone.id;
  const values = { ...settings.zone.extraSettings, ...REQUIRED_ZONE_SETTINGS };
  const normalization = child(scope, "url-normalization", "zone-url-normalization");
  return {
    settings: Object.entries(values).map(([settingId, value]) => {
      const setting = `zone-${settingId.replace(/_/g, "-")}`;
      const { name, opts } = child(scope, setting, setting);
      return new cloudflare.ZoneSetting(name, { zoneId, settingId, value }, opts);
    }),
    urlNormalization: new cloudflare.UrlNormalizationSettings(
      normalization.name,
      { zoneId, ...settings.zone.urlNormalization },
      normalization.opts,
    ),
  };
}

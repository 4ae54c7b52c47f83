import * as cloudflare from "@pulumi/cloudflare";
import type * as pulumi from "@pulumi/pulumi";
import { REQUIRED_ZONE_SETTINGS, type StackSettings } from "./config/schema";

/** One ZoneSetting per setting, declared only by the zone-owning stack. */
export function zoneSettings(settings: StackSettings, opts: pulumi.CustomResourceOptions): cloudflare.ZoneSetting[] {
  if (!settings.zone.owner) return [];
  const values = { ...settings.zone.extraSettings, ...REQUIRED_ZONE_SETTINGS };
  return Object.entries(values).map(
    ([settingId, value]) => new cloudflare.ZoneSetting(`zone-${settingId.replace(/_/g, "-")}`, { zoneId: settings.zone.id, settingId, value }, opts),
  );
}

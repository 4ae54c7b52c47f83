// The bridge watch: a Cron Trigger on the edge Worker that probes every bridge's health through the
// same path as an upgrade and tells the alert webhook when one goes down, or when none has been
// free for a while (the Free plan has no Cloudflare notification for 5XX). Its bindings are parsed
// only by the scheduled handler, never on the upgrade path.
import * as z from "zod/mini";

/** Every minute: the shortest interval a Cron Trigger has. */
export const BRIDGE_WATCH_CRON = "* * * * *";

/** The binding names; Pulumi and the local edge build their lists from these. */
export const BRIDGE_WATCH_BINDINGS = {
  /** D1 database holding the watch's state (a row per bridge, one for capacity), written only when it changes. */
  state: "BRIDGE_WATCH_DB",
  /** json: the watch's settings (below). */
  settings: "BRIDGE_WATCH",
  /** secret: where notifications go (a Slack incoming-webhook URL works: the body has `text`). */
  webhookUrl: "ALERT_WEBHOOK_URL",
  /** secret, optional: sent as `cf-webhook-auth`, as Cloudflare's own webhook notifications do. */
  webhookSecret: "ALERT_WEBHOOK_SECRET",
} as const;

export const BRIDGE_WATCH_SECRET_BINDINGS = [
  BRIDGE_WATCH_BINDINGS.webhookUrl,
  BRIDGE_WATCH_BINDINGS.webhookSecret,
] as const;

export const bridgeWatchSettingsSchema = z.strictObject({
  /** Names the service in every notification, e.g. "voice-edge-prod (mycosoft.com)". */
  service: z.string().check(z.minLength(1)),
  /** Consecutive failed probes (one a minute) before the one "down" notification. */
  failuresBeforeAlert: z._default(z.int().check(z.minimum(1), z.maximum(30)), 3),
  /** Whether the way back up (a bridge up again, a bridge free again) is notified too. */
  notifyRecovery: z._default(z.boolean(), false),
  /** Consecutive ticks (minutes) with no free bridge before the one "capacity" notification. */
  busyMinutesBeforeAlert: z._default(z.int().check(z.minimum(1), z.maximum(1440)), 30),
});

export type BridgeWatchSettings = z.infer<typeof bridgeWatchSettingsSchema>;

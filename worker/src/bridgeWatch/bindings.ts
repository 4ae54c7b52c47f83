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
  /** secret, only with the alerts on what users feel (`users` below): an "Account Analytics: Read" API token for the SQL API. */
  analyticsReadToken: "ANALYTICS_READ_TOKEN",
} as const;

export const BRIDGE_WATCH_SECRET_BINDINGS = [
  BRIDGE_WATCH_BINDINGS.webhookUrl,
  BRIDGE_WATCH_BINDINGS.webhookSecret,
  BRIDGE_WATCH_BINDINGS.analyticsReadToken,
] as const;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost"]);

/** Only a stand-in on this machine may replace the SQL API: the read token goes wherever this points. */
export function loopbackUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === "http:" || url.protocol === "https:") && LOOPBACK_HOSTS.has(url.hostname)
    );
  } catch {
    return false;
  }
}

const share = z.number().check(z.gt(0), z.lte(1));

/**
 * The alerts on what users feel: each check asks the edge's Analytics Engine dataset, through the
 * SQL API, what share of visitors were turned away (and, with the line, waited longer than
 * `waitedLongerThanS`) over the last `turnedAwayMinutes`. Absent: the watch asks nothing.
 */
export const userAlertSettingsSchema = z.strictObject({
  /** The account whose dataset is asked. */
  accountId: z.string().check(z.regex(/^[0-9a-f]{32}$/, "must be a 32-digit hex account ID")),
  /** The dataset the edge writes its points to (`voice-edge:analytics.dataset`). */
  dataset: z
    .string()
    .check(z.regex(/^[A-Za-z0-9_]{1,64}$/, "must be letters, digits and underscores (at most 64)")),
  /** Alert when at least this share (0–1) of visitors was turned away (busy, unavailable, …). */
  turnedAwayShare: z.optional(share),
  /** The window both shares are measured over, in minutes. */
  turnedAwayMinutes: z._default(z.int().check(z.minimum(5), z.maximum(1440)), 15),
  /** Fewer visitors than this in the window say nothing either way (no alert on 2 of 3). */
  minVisitors: z._default(z.int().check(z.minimum(1), z.maximum(100_000)), 10),
  /** With the line: a wait longer than this many seconds counts as a long wait… */
  waitedLongerThanS: z.optional(z.int().check(z.minimum(1), z.maximum(3600))),
  /** …and at least this share (0–1) of visitors whose wait ended waiting that long alerts. */
  waitedShare: z.optional(share),
  /** Tests only: a SQL API stand-in on loopback instead of api.cloudflare.com. */
  sqlApiUrl: z.optional(
    z
      .string()
      .check(z.refine(loopbackUrl, "may only point to 127.0.0.1 or localhost (a test's stand-in)")),
  ),
});

export type UserAlertSettings = z.infer<typeof userAlertSettingsSchema>;

export const bridgeWatchSettingsSchema = z.strictObject({
  /** Names the service in every notification, e.g. "voice-edge-prod (mycosoft.com)". */
  service: z.string().check(z.minLength(1)),
  /** Consecutive failed probes (one a minute) before the one "down" notification. */
  failuresBeforeAlert: z._default(z.int().check(z.minimum(1), z.maximum(30)), 3),
  /** Whether the way back up (a bridge up again, a bridge free again) is notified too. */
  notifyRecovery: z._default(z.boolean(), false),
  /** Consecutive ticks (minutes) with no free bridge before the one "capacity" notification. */
  busyMinutesBeforeAlert: z._default(z.int().check(z.minimum(1), z.maximum(1440)), 30),
  /** The alerts on what users feel; absent, the watch never asks the SQL API. */
  users: z.optional(userAlertSettingsSchema),
});

export type BridgeWatchSettings = z.infer<typeof bridgeWatchSettingsSchema>;

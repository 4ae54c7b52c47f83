import * as z from "zod/mini";
import { bindingProblems, type Parsed } from "../bindings";
import {
  BRIDGE_WATCH_BINDINGS,
  bridgeWatchSettingsSchema,
  loopbackUrl,
  type BridgeWatchSettings,
} from "./bindings";
import type { Webhook } from "./notify";

/** https only; plain http only to loopback, so the same bundle can be tested against a local receiver. */
export function webhookUrlAllowed(value: string): boolean {
  try {
    return new URL(value).protocol === "https:" || loopbackUrl(value);
  } catch {
    return false;
  }
}

const nonEmpty = z.string().check(z.minLength(1));

// Messages never echo the value: the webhook URL is a secret.
const watchBindingsSchema = z
  .object({
    [BRIDGE_WATCH_BINDINGS.state]: z.custom<D1Database>(
      (value) => typeof (value as D1Database | undefined)?.batch === "function",
      "must be a D1 database binding",
    ),
    [BRIDGE_WATCH_BINDINGS.settings]: bridgeWatchSettingsSchema,
    [BRIDGE_WATCH_BINDINGS.webhookUrl]: nonEmpty.check(
      z.refine(
        webhookUrlAllowed,
        "must be an https:// URL (http:// only to 127.0.0.1 or localhost)",
      ),
    ),
    [BRIDGE_WATCH_BINDINGS.webhookSecret]: z.optional(nonEmpty),
    [BRIDGE_WATCH_BINDINGS.analyticsReadToken]: z.optional(nonEmpty),
  })
  .check(
    z.refine(
      (env) =>
        !env[BRIDGE_WATCH_BINDINGS.settings].users ||
        env[BRIDGE_WATCH_BINDINGS.analyticsReadToken] !== undefined,
      {
        message: `is required when ${BRIDGE_WATCH_BINDINGS.settings}.users is set (the SQL API's read token)`,
        path: [BRIDGE_WATCH_BINDINGS.analyticsReadToken],
      },
    ),
  );

export interface WatchBindings {
  db: D1Database;
  settings: BridgeWatchSettings;
  webhook: Webhook;
  /** The SQL API's read token: present when `settings.users` is. */
  analyticsReadToken?: string;
}

export type ParsedWatchBindings = Parsed<{ watch: WatchBindings }>;

/** Read by the scheduled handler only: the upgrade path never parses these. */
export function parseWatchBindings(env: unknown): ParsedWatchBindings {
  const result = watchBindingsSchema.safeParse(env);
  if (!result.success) return { ok: false, problems: bindingProblems(result.error.issues) };
  const parsed = result.data;
  return {
    ok: true,
    watch: {
      db: parsed[BRIDGE_WATCH_BINDINGS.state],
      settings: parsed[BRIDGE_WATCH_BINDINGS.settings],
      webhook: {
        url: parsed[BRIDGE_WATCH_BINDINGS.webhookUrl],
        secret: parsed[BRIDGE_WATCH_BINDINGS.webhookSecret],
      },
      analyticsReadToken: parsed[BRIDGE_WATCH_BINDINGS.analyticsReadToken],
    },
  };
}

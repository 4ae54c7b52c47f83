import { z } from "zod";

/**
 * Zone settings a stack may add through `zone.extraSettings`, each in the value form Cloudflare's
 * API takes (`PATCH /zones/{zone_id}/settings/{setting_id}`): switches are the strings "on"/"off",
 * TLS versions are strings, TTLs are numbers. YAML booleans on switches and a number for
 * `min_tls_version` are written as the API's strings; anything else the API would refuse is
 * refused here, before `pulumi up`.
 */
const onOff = z
  .union([z.enum(["on", "off"]), z.boolean()], { error: 'must be "on" or "off"' })
  .transform((value) => (typeof value === "boolean" ? (value ? "on" : "off") : value));

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.map((v) => `"${v}"`).join(", ")}` });

const anyOfNumbers = (values: readonly number[], unit: string) => {
  const message = `must be one of ${values.join(", ")} (${unit}), as a number`;
  return z.number({ error: message }).refine((value) => values.includes(value), message);
};

const TLS_VERSIONS = ["1.0", "1.1", "1.2", "1.3"] as const;
const tlsVersion = z
  .union([z.enum(TLS_VERSIONS), z.number()], {
    error: `must be one of ${TLS_VERSIONS.map((v) => `"${v}"`).join(", ")}`,
  })
  .transform((value, ctx) => {
    const text = typeof value === "number" ? value.toFixed(1) : value;
    if (!(TLS_VERSIONS as readonly string[]).includes(text)) {
      ctx.addIssue({
        code: "custom",
        message: `must be one of ${TLS_VERSIONS.map((v) => `"${v}"`).join(", ")}`,
      });
      return z.NEVER;
    }
    return text;
  });

const BROWSER_CACHE_TTLS = [
  0, 30, 60, 120, 300, 1200, 1800, 3600, 7200, 10800, 14400, 18000, 28800, 43200, 57600, 72000,
  86400, 172800, 259200, 345600, 432000, 691200, 1382400, 2073600, 2678400, 5356800, 16070400,
  31536000,
];
const CHALLENGE_TTLS = [
  300, 900, 1800, 2700, 3600, 7200, 10800, 14400, 28800, 57600, 86400, 604800, 2592000, 31536000,
];

export const ZONE_SETTING_VALUES = {
  "0rtt": onOff,
  always_online: onOff,
  automatic_https_rewrites: onOff,
  brotli: onOff,
  browser_cache_ttl: anyOfNumbers(BROWSER_CACHE_TTLS, "seconds; 0 respects the origin's headers"),
  browser_check: onOff,
  cache_level: oneOf(["aggressive", "basic", "simplified"]),
  challenge_ttl: anyOfNumbers(CHALLENGE_TTLS, "seconds"),
  development_mode: onOff,
  early_hints: onOff,
  email_obfuscation: onOff,
  hotlink_protection: onOff,
  http2: onOff,
  http3: onOff,
  ip_geolocation: onOff,
  ipv6: onOff,
  min_tls_version: tlsVersion,
  opportunistic_encryption: onOff,
  opportunistic_onion: onOff,
  origin_error_page_pass_thru: onOff,
  prefetch_preload: onOff,
  pseudo_ipv4: oneOf(["off", "add_header", "overwrite_header"]),
  response_buffering: onOff,
  rocket_loader: onOff,
  security_level: oneOf(["off", "essentially_off", "low", "medium", "high", "under_attack"]),
  server_side_exclude: onOff,
  sort_query_string_for_cache: onOff,
  tls_1_3: oneOf(["on", "off", "zrt"]),
  tls_client_auth: onOff,
  true_client_ip_header: onOff,
} as const satisfies Record<string, z.ZodType>;

export type ZoneSettingId = keyof typeof ZONE_SETTING_VALUES;
export type ZoneSettingValue = string | number;

export const KNOWN_ZONE_SETTINGS = Object.keys(ZONE_SETTING_VALUES) as ZoneSettingId[];

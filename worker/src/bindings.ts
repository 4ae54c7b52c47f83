// zod/mini keeps the bundle small (about 20 KiB against 450 KiB for classic zod).
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { JWT_ALGORITHMS } from "./config/algorithms";
import {
  jwtSecretSchema,
  rfc3339TimeSchema,
  validateEdgeSettings,
  validateHmacSecret,
  validatePreviousSecretDiffers,
  validatePreviousSecretWindow,
  type EdgeKeyNames,
  type Problem,
} from "./config/rules";
import { isForwardableHeader } from "./headers";
import { POINTS_BINDING, VISITOR_KEY_BINDING, type PointsDataset } from "./analytics/points";

// zod/mini ships without messages; English alone adds ~4 KiB and names what was expected.
z.config(en());

function urlOrUndefined(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Why `text` is not a bare origin such as http://localhost:3000 (scheme, host, optional port), or undefined when it is one. */
export function originProblem(text: string): string | undefined {
  const url = urlOrUndefined(text);
  if (!url) return "is not a URL: use a bare origin such as http://localhost:3000";
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return `has scheme ${url.protocol}: use http:// or https://, e.g. http://localhost:3000`;
  if (url.origin !== text)
    return `is not a bare origin: use ${url.origin} (scheme, host and optional port; no path or trailing slash)`;
  return undefined;
}

const origin = z
  .string()
  .check(
    z.refine(
      (value) => originProblem(value) === undefined,
      "must be a bare origin such as https://mycosoft.com (scheme, host and optional port; no path or trailing slash)",
    ),
  );

const IPV4_LITERAL = /^\d{1,3}(\.\d{1,3}){3}$/;
const LOOPBACK_HOSTS = new Set(["localhost", "[::1]"]);

/**
 * Workers can fetch only hostnames over http(s); an IP literal (e.g. the seed's 192.168.0.188)
 * is unreachable from Cloudflare. Loopback stays allowed so the same bundle runs locally.
 */
export function bridgeUrlProblem(value: string): string | undefined {
  const url = urlOrUndefined(value);
  if (!url) return "must be an absolute URL such as https://voice-origin.example.com/api/chat";
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `scheme ${url.protocol} is not fetchable from a Worker: use https:// (or http://) with the bridge's path, e.g. https://voice-origin.example.com/api/chat`;
  }
  if (url.search || url.hash)
    return "must not carry a query string or fragment (the client's query is forwarded)";
  const loopback = LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith("127.");
  if (!loopback && (IPV4_LITERAL.test(url.hostname) || url.hostname.startsWith("["))) {
    return `${url.hostname} is an IP address: Workers fetch hostnames only; reach a private bridge through a Cloudflare Tunnel hostname`;
  }
  return undefined;
}

/** Normalized to origin + path once per isolate, so each upgrade only appends the client's query. */
export const bridgeUrl = z.pipe(
  z.string().check(
    z.superRefine((value, ctx) => {
      const problem = bridgeUrlProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    }),
  ),
  z.transform((value: string) => {
    const url = new URL(value);
    return url.origin + url.pathname;
  }),
);

/** A bridge's name: what logs and alerts call it (the stack's `bridges[].name`). */
export const BRIDGE_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/** What a `BRIDGE_URL` bridge is called: a fleet of one. */
export const SINGLE_BRIDGE_NAME = "bridge";

/** At most this many bridges: the Worker tries each once per upgrade, one after another. */
export const MAX_BRIDGES = 20;

const bridgeEntry = z.strictObject({
  name: z
    .string()
    .check(z.regex(BRIDGE_NAME, "must be 1 to 32 lowercase letters, digits and dashes")),
  url: bridgeUrl,
  /** The guard's health URL; defaults to `/health` on the bridge's origin. */
  healthUrl: z.optional(z.url({ protocol: /^https?$/ })),
});

/** `BRIDGES`: the fleet, each bridge with its name and upgrade URL. */
export const bridgeList = z.array(bridgeEntry).check(
  z.minLength(1),
  z.maxLength(MAX_BRIDGES),
  z.superRefine((bridges, ctx) => {
    const seen = new Set<string>();
    bridges.forEach((bridge, i) => {
      if (seen.has(bridge.name))
        ctx.addIssue({
          code: "custom",
          input: bridge.name,
          path: [i, "name"],
          message: `${bridge.name} names two bridges; each bridge needs its own name`,
        });
      seen.add(bridge.name);
    });
  }),
);

/** Bounds of `auth.maxTokenLifetimeSeconds`: ten seconds to a week. */
export const MIN_TOKEN_LIFETIME_CAP_S = 10;
export const MAX_TOKEN_LIFETIME_CAP_S = 7 * 24 * 3600;

const boundedInt = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));
const millis = (min: number, max: number, fallback: number) =>
  z._default(boundedInt(min, max), fallback);
const httpUrl = z.url({ protocol: /^https?$/ });
const nonEmpty = z.string().check(z.minLength(1));

/** An HTTP token (RFC 9110): what header and cookie names are made of. */
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const jwtAuth = z.strictObject({
  mode: z.literal("jwt"),
  algorithms: z.array(z.enum(JWT_ALGORITHMS)).check(z.minLength(1)),
  issuer: z.optional(nonEmpty),
  audience: z.optional(nonEmpty),
  jwksUrl: z.optional(httpUrl),
  clockToleranceSeconds: z._default(boundedInt(0, 300), 30),
  /** Cookie that carries the token for same-site pages; the cookie transport is off without it. */
  cookieName: z.optional(z.string().check(z.regex(HTTP_TOKEN, "must be a cookie name"))),
  /** Query parameter that carries the token (last resort); `null` turns the transport off. */
  queryParameter: z._default(z.nullable(nonEmpty), "access_token"),
  /** Until when tokens signed with `JWT_SECRET_PREVIOUS` are still accepted (an HS* secret rotation), at most 30 days ahead. */
  previousSecretAcceptedUntil: z.optional(rfc3339TimeSchema),
  /** Longest lifetime (`exp` − `iat`) a token may have; with it set, `iat` is required. */
  maxTokenLifetimeSeconds: z.optional(
    boundedInt(MIN_TOKEN_LIFETIME_CAP_S, MAX_TOKEN_LIFETIME_CAP_S),
  ),
});

/** Whether the edge authenticates: `off` must be written out; a missing `auth` is an error. */
export const authSettingsSchema = z.discriminatedUnion(
  "mode",
  [z.strictObject({ mode: z.literal("off") }), jwtAuth],
  {
    error:
      'must be { mode: "jwt", algorithms: [...] } or { mode: "off" } (auth is never off by omission)',
  },
);

/** A header name the stack may forward: not a credential, an identity, a transport or a forgeable address. */
const forwardableHeader = z.string().check(
  z.regex(HTTP_TOKEN, "must be a header name"),
  z.superRefine((name, ctx) => {
    if (!isForwardableHeader(name))
      ctx.addIssue({
        code: "custom",
        input: name,
        message: `${name} is set by the edge or Cloudflare, or carries credentials or a forgeable address: it cannot be forwarded`,
      });
  }),
);

/** Non-secret settings of the edge, carried in the `EDGE_CONFIG` json binding. */
export const edgeSettingsSchema = z.strictObject({
  auth: authSettingsSchema,
  allowedOrigins: z._default(z.array(origin), []),
  /** Native clients send no Origin header; browsers always do. */
  allowMissingOrigin: z._default(z.boolean(), false),
  /** Bridge health URL; defaults to `/health` on the bridge's origin. */
  bridgeHealthUrl: z.optional(httpUrl),
  /** Client headers the bridge also receives (by name); none by default. */
  forwardHeaders: z._default(z.array(forwardableHeader), []),
  /** Client cookies the bridge receives (by name); none by default, never the token cookie. */
  forwardCookies: z._default(
    z.array(z.string().check(z.regex(HTTP_TOKEN, "must be a cookie name"))),
    [],
  ),
  /** Header that gives the bridge the client's address, from Cloudflare's `CF-Connecting-IP` (never the client's own headers). */
  clientAddressHeader: z.optional(forwardableHeader),
  /** Bounds one try of one bridge: the connect and the handshake up to its 101 or refusal. */
  bridgeConnectTimeoutMs: millis(100, 60_000, 10_000),
  /** Bounds all the tries of one upgrade together; a try never outlives it. */
  admissionTimeoutMs: z.optional(boundedInt(100, 120_000)),
  healthTimeoutMs: millis(100, 30_000, 2_000),
  jwksTimeoutMs: millis(100, 30_000, 2_000),
});

export type EdgeSettings = z.infer<typeof edgeSettingsSchema>;
export type JwtAuthSettings = z.infer<typeof jwtAuth>;

/** How the Worker names the keys the shared rules speak of. */
export const BINDING_KEY_NAMES: EdgeKeyNames = {
  edge: "EDGE_CONFIG",
  jwtSecret: "JWT_SECRET",
  jwtSecretPrevious: "JWT_SECRET_PREVIOUS",
};

/** The Access service token is an ID and a secret: one without the other cannot authenticate. */
export function validateAccessServiceToken(env: {
  BRIDGE_ACCESS_CLIENT_ID?: string;
  BRIDGE_ACCESS_CLIENT_SECRET?: string;
}): Problem[] {
  if (!env.BRIDGE_ACCESS_CLIENT_ID === !env.BRIDGE_ACCESS_CLIENT_SECRET) return [];
  const missing = env.BRIDGE_ACCESS_CLIENT_ID
    ? "BRIDGE_ACCESS_CLIENT_SECRET"
    : "BRIDGE_ACCESS_CLIENT_ID";
  return [
    {
      path: [missing],
      message: "BRIDGE_ACCESS_CLIENT_ID and BRIDGE_ACCESS_CLIENT_SECRET must be set together",
    },
  ];
}

/** The fleet and how to reach it: read alike by the edge and by the line's coordinator. */
export const fleetBindingFields = {
  /** The one bridge's upgrade URL (a fleet of one), or … */
  BRIDGE_URL: z.optional(bridgeUrl),
  /** … json: every bridge, `[{name, url, healthUrl?}]`. Exactly one of the two is set. */
  BRIDGES: z.optional(bridgeList),
  /** Cloudflare Access service token the Worker presents to the origin hostname (Worker secrets). */
  BRIDGE_ACCESS_CLIENT_ID: z.optional(nonEmpty),
  BRIDGE_ACCESS_CLIENT_SECRET: z.optional(nonEmpty),
};

const bindingFields = z.object({
  BRIDGE_URL: fleetBindingFields.BRIDGE_URL,
  BRIDGES: fleetBindingFields.BRIDGES,
  EDGE_CONFIG: edgeSettingsSchema,
  /** HMAC key for HS* tokens (a Worker secret). */
  JWT_SECRET: z.optional(jwtSecretSchema),
  /** The HMAC key being rotated out, accepted until `auth.previousSecretAcceptedUntil`. */
  JWT_SECRET_PREVIOUS: z.optional(jwtSecretSchema),
  BRIDGE_ACCESS_CLIENT_ID: fleetBindingFields.BRIDGE_ACCESS_CLIENT_ID,
  BRIDGE_ACCESS_CLIENT_SECRET: fleetBindingFields.BRIDGE_ACCESS_CLIENT_SECRET,
  /** The stack's Analytics Engine dataset (`voice-edge:analytics.dataset`): a point per request; none without it. */
  [POINTS_BINDING]: z.optional(
    z.custom<PointsDataset>(
      (value) =>
        typeof value === "object" &&
        value !== null &&
        typeof (value as PointsDataset).writeDataPoint === "function",
      "must be an Analytics Engine dataset binding",
    ),
  ),
  /** The key of the points' `visitor` hash (a Worker secret); no visitor blob without it. */
  [VISITOR_KEY_BINDING]: z.optional(nonEmpty),
});

/** The rules across bindings, once each binding has parsed on its own. */
export function validateBindings(env: z.infer<typeof bindingFields>): Problem[] {
  const edge = env.EDGE_CONFIG;
  const secrets = { jwtSecret: env.JWT_SECRET, jwtSecretPrevious: env.JWT_SECRET_PREVIOUS };
  return [
    ...validateHmacSecret(edge, secrets, BINDING_KEY_NAMES),
    ...validatePreviousSecretWindow(edge, secrets, BINDING_KEY_NAMES),
    ...validatePreviousSecretDiffers(secrets, BINDING_KEY_NAMES),
    ...validateEdgeSettings(edge).map((problem) => ({
      ...problem,
      path: ["EDGE_CONFIG", ...problem.path],
    })),
    ...validateAccessServiceToken(env),
    ...validateBridgeBindings(env),
  ];
}

/** One way to name the bridges; `bridgeHealthUrl` is one bridge's, so only with `BRIDGE_URL`. */
export function validateBridgeBindings(env: {
  BRIDGE_URL?: string;
  BRIDGES?: unknown[];
  EDGE_CONFIG?: { bridgeHealthUrl?: string };
}): Problem[] {
  if (env.BRIDGE_URL !== undefined && env.BRIDGES !== undefined)
    return [{ path: ["BRIDGES"], message: "is set together with BRIDGE_URL: set one of the two" }];
  if (env.BRIDGE_URL === undefined && env.BRIDGES === undefined)
    return [
      {
        path: ["BRIDGE_URL"],
        message: "is required, or BRIDGES (json: [{name, url}], one entry per bridge)",
      },
    ];
  if (env.BRIDGES !== undefined && env.EDGE_CONFIG?.bridgeHealthUrl !== undefined)
    return [
      {
        path: ["EDGE_CONFIG", "bridgeHealthUrl"],
        message: "names one bridge's health URL: with BRIDGES give an entry its own healthUrl",
      },
    ];
  return [];
}

/** One bridge as the upgrade and the probes reach it. */
export interface BridgeTarget {
  name: string;
  /** Origin and path, without a query: the client's query is appended. */
  url: string;
  healthUrl: string;
}

/** The fleet, whichever binding named it: `BRIDGE_URL` is a fleet of one called `bridge`. */
export function bridgeTargets(env: {
  BRIDGE_URL?: string;
  BRIDGES?: { name: string; url: string; healthUrl?: string }[];
  EDGE_CONFIG?: { bridgeHealthUrl?: string };
}): BridgeTarget[] {
  const entries = env.BRIDGES ?? [
    {
      name: SINGLE_BRIDGE_NAME,
      url: env.BRIDGE_URL ?? "",
      healthUrl: env.EDGE_CONFIG?.bridgeHealthUrl,
    },
  ];
  return entries.map((entry) => ({
    name: entry.name,
    url: entry.url,
    healthUrl: entry.healthUrl ?? new URL("/health", entry.url).toString(),
  }));
}

/** Every binding the Worker reads. Pulumi and the local edge build their binding lists from these names. */
export const bindingsSchema = bindingFields.check(
  z.superRefine((env, ctx) => {
    for (const problem of validateBindings(env))
      ctx.addIssue({
        code: "custom",
        input: undefined,
        path: problem.path,
        message: problem.message,
      });
  }),
);

export type Bindings = z.infer<typeof bindingsSchema> & { bridges: readonly BridgeTarget[] };
export type BindingName = keyof z.input<typeof bindingsSchema>;

/** Bindings that hold secrets: uploaded as `secret_text`, never logged. */
export const SECRET_BINDINGS = [
  "JWT_SECRET",
  "JWT_SECRET_PREVIOUS",
  "BRIDGE_ACCESS_CLIENT_ID",
  "BRIDGE_ACCESS_CLIENT_SECRET",
  VISITOR_KEY_BINDING,
] as const satisfies readonly BindingName[];

export interface BindingProblem {
  binding: string;
  path: string;
  message: string;
}

/** A parse of some bindings: the values, or every problem with them. */
export type Parsed<T> = ({ ok: true } & T) | { ok: false; problems: BindingProblem[] };

export type ParsedBindings = Parsed<{ bindings: Bindings }>;

/** Each zod issue as the binding it concerns (the first path segment), for the `config_invalid` log line. */
export function bindingProblems(issues: readonly z.core.$ZodIssue[]): BindingProblem[] {
  return issues.map((issue) => ({
    binding: String(issue.path[0] ?? "env"),
    path: issue.path.join("."),
    message: issue.message,
  }));
}

export function parseBindings(env: unknown): ParsedBindings {
  const result = bindingsSchema.safeParse(env);
  if (result.success)
    return { ok: true, bindings: { ...result.data, bridges: bridgeTargets(result.data) } };
  return { ok: false, problems: bindingProblems(result.error.issues) };
}

const parsedPerEnv = new WeakMap<object, ParsedBindings>();

/** Parses the bindings once per isolate (the env object is stable for an isolate's life). */
export function bindingsFor(env: object): ParsedBindings {
  let parsed = parsedPerEnv.get(env);
  if (!parsed) {
    parsed = parseBindings(env);
    parsedPerEnv.set(env, parsed);
  }
  return parsed;
}

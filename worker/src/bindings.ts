// zod/mini keeps the bundle small (about 20 KiB against 450 KiB for classic zod).
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { foldHeaderName, HEADERS_NEVER_FORWARDED } from "./headers";

// zod/mini ships without messages; English alone adds ~4 KiB and names what was expected.
z.config(en());

/** Algorithms a stack may allow. `none` is not representable. */
export const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
export const ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"] as const;
export const JWT_ALGORITHMS = [...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

export const isHmacAlgorithm = (alg: string): boolean => (HMAC_ALGORITHMS as readonly string[]).includes(alg);

/** Why `text` is not a bare origin such as http://localhost:3000 (scheme, host, optional port), or undefined when it is one. */
export function originProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL: use a bare origin such as http://localhost:3000";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `has scheme ${url.protocol}: use http:// or https://, e.g. http://localhost:3000`;
  if (url.origin !== text) return `is not a bare origin: use ${url.origin} (scheme, host and optional port; no path or trailing slash)`;
  return undefined;
}

const origin = z.string().check(
  z.refine((value) => originProblem(value) === undefined, "must be a bare origin such as https://mycosoft.com (scheme, host and optional port; no path or trailing slash)"),
);

const IPV4_LITERAL = /^\d{1,3}(\.\d{1,3}){3}$/;
const LOOPBACK_HOSTS = new Set(["localhost", "[::1]"]);

/**
 * Workers can fetch only hostnames over http(s); an IP literal (e.g. the seed's 192.168.0.188)
 * is unreachable from Cloudflare. Loopback stays allowed so the same bundle runs locally.
 */
export function bridgeUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be an absolute URL such as https://voice-origin.example.com/api/chat";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `scheme ${url.protocol} is not fetchable from a Worker: use https:// (or http://) with the bridge's path, e.g. https://voice-origin.example.com/api/chat`;
  }
  if (url.search || url.hash) return "must not carry a query string or fragment (the client's query is forwarded)";
  const loopback = LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith("127.");
  if (!loopback && (IPV4_LITERAL.test(url.hostname) || url.hostname.startsWith("["))) {
    return `${url.hostname} is an IP address: Workers fetch hostnames only; reach a private bridge through a Cloudflare Tunnel hostname`;
  }
  return undefined;
}

/** Normalized to origin + path once per isolate, so each upgrade only appends the client's query. */
const bridgeUrl = z.pipe(
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

const boundedInt = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));
const millis = (min: number, max: number, fallback: number) => z._default(boundedInt(min, max), fallback);
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
  /** Until when tokens signed with `JWT_SECRET_PREVIOUS` are still accepted (an HS* secret rotation). */
  previousSecretAcceptedUntil: z.optional(z.iso.datetime({ offset: true, error: "must be an RFC 3339 time such as 2026-12-01T12:00:00Z" })),
});

/** Whether the edge authenticates: `off` must be written out; a missing `auth` is an error. */
export const authSettingsSchema = z.discriminatedUnion("mode", [z.strictObject({ mode: z.literal("off") }), jwtAuth], {
  error: 'must be { mode: "jwt", algorithms: [...] } or { mode: "off" } (auth is never off by omission)',
});

const NEVER_FORWARDED = new Set(HEADERS_NEVER_FORWARDED.map(foldHeaderName));

/** A header name the stack may forward: not a credential, an identity, a transport or a forgeable address. */
const forwardableHeader = z.string().check(
  z.regex(HTTP_TOKEN, "must be a header name"),
  z.refine((name) => !NEVER_FORWARDED.has(foldHeaderName(name)), "is set by the edge or carries credentials or a forgeable address: it cannot be forwarded"),
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
  forwardCookies: z._default(z.array(z.string().check(z.regex(HTTP_TOKEN, "must be a cookie name"))), []),
  /** Header that gives the bridge the client's address, from Cloudflare's `CF-Connecting-IP` (never the client's own headers). */
  clientAddressHeader: z.optional(forwardableHeader),
  bridgeConnectTimeoutMs: millis(100, 60_000, 10_000),
  healthTimeoutMs: millis(100, 30_000, 2_000),
  jwksTimeoutMs: millis(100, 30_000, 2_000),
});

export type EdgeSettings = z.infer<typeof edgeSettingsSchema>;
export type JwtAuthSettings = z.infer<typeof jwtAuth>;

/** Every binding the Worker reads. Pulumi and the local edge build their binding lists from these names. */
export const bindingsSchema = z
  .object({
    BRIDGE_URL: bridgeUrl,
    EDGE_CONFIG: edgeSettingsSchema,
    /** HMAC key for HS* tokens (a Worker secret). */
    JWT_SECRET: z.optional(z.string().check(z.minLength(32, "must be at least 32 characters"))),
    /** The HMAC key being rotated out, accepted until `auth.previousSecretAcceptedUntil`. */
    JWT_SECRET_PREVIOUS: z.optional(z.string().check(z.minLength(32, "must be at least 32 characters"))),
    /** Cloudflare Access service token the Worker presents to the origin hostname (Worker secrets). */
    BRIDGE_ACCESS_CLIENT_ID: z.optional(nonEmpty),
    BRIDGE_ACCESS_CLIENT_SECRET: z.optional(nonEmpty),
  })
  .check(z.superRefine((env, ctx) => {
    const auth = env.EDGE_CONFIG.auth;
    if (auth.mode === "jwt") {
      if (auth.algorithms.some(isHmacAlgorithm) && !env.JWT_SECRET) {
        ctx.addIssue({ code: "custom", input: undefined, path: ["JWT_SECRET"], message: `is required when EDGE_CONFIG.auth.algorithms includes an HS* algorithm (${auth.algorithms.join(", ")})` });
      }
      if (env.JWT_SECRET_PREVIOUS && !auth.previousSecretAcceptedUntil) {
        ctx.addIssue({ code: "custom", input: undefined, path: ["EDGE_CONFIG", "auth", "previousSecretAcceptedUntil"], message: "is required while JWT_SECRET_PREVIOUS is set: the rotation window's end" });
      }
      if (auth.cookieName && env.EDGE_CONFIG.forwardCookies.includes(auth.cookieName)) {
        ctx.addIssue({ code: "custom", input: undefined, path: ["EDGE_CONFIG", "forwardCookies"], message: `must not name the token cookie (${auth.cookieName})` });
      }
      if (auth.algorithms.some((alg) => !isHmacAlgorithm(alg)) && !auth.jwksUrl) {
        ctx.addIssue({ code: "custom", input: undefined, path: ["EDGE_CONFIG", "auth", "jwksUrl"], message: "is required when an asymmetric algorithm is allowed" });
      }
    }
    if (!env.BRIDGE_ACCESS_CLIENT_ID !== !env.BRIDGE_ACCESS_CLIENT_SECRET) {
      ctx.addIssue({ code: "custom", input: undefined, path: [env.BRIDGE_ACCESS_CLIENT_ID ? "BRIDGE_ACCESS_CLIENT_SECRET" : "BRIDGE_ACCESS_CLIENT_ID"], message: "BRIDGE_ACCESS_CLIENT_ID and BRIDGE_ACCESS_CLIENT_SECRET must be set together" });
    }
  }));

export type Bindings = z.infer<typeof bindingsSchema>;
export type BindingName = keyof z.input<typeof bindingsSchema>;

/** Bindings that hold secrets: uploaded as `secret_text`, never logged. */
export const SECRET_BINDINGS = ["JWT_SECRET", "JWT_SECRET_PREVIOUS", "BRIDGE_ACCESS_CLIENT_ID", "BRIDGE_ACCESS_CLIENT_SECRET"] as const satisfies readonly BindingName[];

export interface BindingProblem {
  binding: string;
  path: string;
  message: string;
}

export type ParsedBindings = { ok: true; bindings: Bindings } | { ok: false; problems: BindingProblem[] };

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
  if (result.success) return { ok: true, bindings: result.data };
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

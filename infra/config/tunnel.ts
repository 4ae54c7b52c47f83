import { z } from "zod";
import { rfc3339TimeSchema } from "../../worker/src/config/rules";
import type { Problem } from "./errors";
import { hostname, urlPath } from "./fields";

/** cloudflared's ingress `service` is an origin: a path there is refused by cloudflared when the tunnel config loads. */
export function bridgeServiceProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined; // the URL check itself reports it
  const url = new URL(value);
  if (url.username || url.password) return "must not carry a user name or password";
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    return `must be scheme, host and port only, e.g. ${url.protocol}//${url.host}: cloudflared ingress rules cannot proxy to a path; the path (${url.pathname}${url.search}) belongs in tunnel.bridgePath`;
  }
  return undefined;
}

export const tunnelSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)
    .optional(),
  /** Public hostname of the bridge behind the tunnel; locked to the Worker by Access. */
  originHostname: hostname,
  /** Where cloudflared on the bridge's VM finds the bridge, e.g. http://192.168.0.188:8999. */
  bridgeService: z
    .url({
      protocol: /^https?$/,
      error: "must be an http:// or https:// URL such as http://192.168.0.188:8999",
    })
    .superRefine((value, ctx) => {
      const problem = bridgeServiceProblem(value);
      if (problem) ctx.addIssue({ code: "custom", input: value, message: problem });
    }),
  bridgePath: urlPath.default("/api/chat"),
  healthPath: urlPath.default("/health"),
});

/** The Access service token the Worker presents to the origin hostname; rotated through config. */
export const accessServiceTokenSchema = z.strictObject({
  /** How long the token lives, in Go duration form (`8760h` = a year) or `forever`. */
  duration: z
    .string()
    .regex(
      /^(forever|(\d+(ns|us|µs|ms|s|m|h))+)$/,
      "must be a duration such as 8760h or 2h45m, or forever",
    )
    .default("8760h"),
  /** Raise by one to rotate the client secret; the previous one keeps working until previousClientSecretExpiresAt. */
  clientSecretVersion: z.int().min(1).default(1),
  previousClientSecretExpiresAt: z.optional(rfc3339TimeSchema),
});

/** The Worker fetches the origin hostname: were it the public one, the Worker would fetch itself. */
export function validateOriginHostnameDiffers(settings: {
  publicHostname: string;
  tunnel: { originHostname: string };
}): Problem[] {
  if (settings.tunnel.originHostname !== settings.publicHostname) return [];
  return [
    {
      path: ["tunnel", "originHostname"],
      message: "must differ from publicHostname (the Worker fetches the origin hostname)",
    },
  ];
}

/** A rotated client secret says until when the one it replaces keeps working. */
export function validateServiceTokenRotation(settings: {
  accessServiceToken: { clientSecretVersion: number; previousClientSecretExpiresAt?: string };
}): Problem[] {
  const token = settings.accessServiceToken;
  if (token.clientSecretVersion <= 1 || token.previousClientSecretExpiresAt) return [];
  return [
    {
      path: ["accessServiceToken", "previousClientSecretExpiresAt"],
      message:
        "is required once clientSecretVersion is above 1: until when the previous secret keeps working (RFC 3339, e.g. 2026-12-01T12:00:00Z)",
    },
  ];
}

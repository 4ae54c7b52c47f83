import type { types } from "@pulumi/cloudflare";
import { z } from "zod";
import { rfc3339TimeSchema } from "../../worker/src/config/rules";
import { originHostnamesOf } from "./bridges";
import { addProblems, type Problem } from "./errors";
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

/** The seed's own bridge port, where the guard (HAProxy) on the VM listens in front of PersonaPlex's 8998. */
export const DEFAULT_BRIDGE_SERVICE = "http://localhost:8999";

type ProviderOriginRequest = types.input.ZeroTrustTunnelCloudflaredConfigConfigIngressOriginRequest;

/** A certificate's name: DNS labels, a single one (`localhost`, what mkcert certifies) included. */
const serverName = z
  .string()
  .regex(
    /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
    "must be a lowercase hostname the origin's certificate names, such as localhost or bridge.internal",
  );

/**
 * How cloudflared's TLS to an https:// bridge is checked, when it reaches PersonaPlex's `--ssl`
 * server directly instead of the guard. The keys are the provider's own input names (the
 * `satisfies` makes a rename upstream fail to compile) and go to the bridge's ingress rule as they are.
 */
export const originRequestSchema = z.strictObject({
  /** Accept any certificate the origin presents. */
  noTlsVerify: z.boolean().optional(),
  /** The CA (or the self-signed certificate itself) the origin's certificate is checked against: a file on the VM. */
  caPool: z
    .string()
    .regex(
      /^\/[^\0\n]*[^/\0\n]$/,
      "must be an absolute path to a PEM file on the bridge's VM, such as /etc/cloudflared/personaplex-ca.pem",
    )
    .optional(),
  /** The name to expect on the origin's certificate (and to send as SNI) when it is not the service's host. */
  originServerName: serverName.optional(),
} satisfies { [K in keyof ProviderOriginRequest]?: z.ZodType });

export type OriginRequestSettings = z.infer<typeof originRequestSchema>;

/** TLS settings mean nothing over http://, and noTlsVerify leaves a CA pool unused: both are mistakes worth a refusal. */
export function validateOriginRequest(tunnel: {
  bridgeService: string;
  originRequest?: OriginRequestSettings;
}): Problem[] {
  const originRequest = tunnel.originRequest ?? {};
  const set = (Object.keys(originRequest) as (keyof OriginRequestSettings)[]).filter(
    (key) => originRequest[key] !== undefined,
  );
  if (set.length > 0 && !tunnel.bridgeService.startsWith("https://"))
    return set.map((key) => ({
      path: ["originRequest", key],
      message: `is a TLS setting and applies only to an https:// tunnel.bridgeService (bridgeService is ${tunnel.bridgeService}); remove it, or point bridgeService at the server's https:// port`,
    }));
  if (originRequest.noTlsVerify === true && originRequest.caPool !== undefined)
    return [
      {
        path: ["originRequest", "caPool"],
        message:
          "is never read while originRequest.noTlsVerify is true (no certificate is checked); keep one of the two",
      },
    ];
  return [];
}

/** Where cloudflared on the bridge's VM finds the bridge: by default the guard on the same VM. */
export const bridgeServiceSchema = z
  .url({
    protocol: /^https?$/,
    error: `must be an http:// or https:// URL such as ${DEFAULT_BRIDGE_SERVICE}`,
  })
  .superRefine((value, ctx) => {
    const problem = bridgeServiceProblem(value);
    if (problem) ctx.addIssue({ code: "custom", input: value, message: problem });
  })
  .default(DEFAULT_BRIDGE_SERVICE);

export const tunnelSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)
      .optional(),
    /** Public hostname of the bridge behind the tunnel; locked to the Worker by Access. */
    originHostname: hostname,
    /** Where cloudflared on the bridge's VM finds the bridge: by default the guard on the same VM. */
    bridgeService: bridgeServiceSchema,
    /** Only with an https:// bridgeService: how cloudflared checks the bridge's certificate. */
    originRequest: originRequestSchema.optional(),
    bridgePath: urlPath.default("/api/chat"),
    healthPath: urlPath.default("/health"),
  })
  .superRefine((tunnel, ctx) => addProblems(ctx, validateOriginRequest(tunnel)));

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
  tunnel?: { originHostname: string };
  bridges?: { originHostname: string }[];
}): Problem[] {
  return originHostnamesOf(settings)
    .filter(({ hostname }) => hostname === settings.publicHostname)
    .map(({ path }) => ({
      path,
      message: "must differ from publicHostname (the Worker fetches the origin hostname)",
    }));
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

import * as cloudflare from "@pulumi/cloudflare";
import { child, type Scope } from "./childNames";
import { bridgesOf, type StackSettings } from "./config/schema";

export interface OriginLock {
  serviceToken: cloudflare.ZeroTrustAccessServiceToken;
  policy: cloudflare.ZeroTrustAccessPolicy;
  application: cloudflare.ZeroTrustAccessApplication;
}

/**
 * Keeps the bridges' origin hostnames from being a public way around the Worker: one Access
 * application over all of them (a fleet of one keeps its single `domain`) whose only policy admits the service token the Worker presents (non_identity), and
 * answers 401 instead of a login redirect to anything else.
 */
export function originLock(settings: StackSettings, scope: Scope): OriginLock {
  const accountId = settings.accountId;
  const token = settings.accessServiceToken;
  const tokenChild = child(scope, "origin-service-token", "origin-service-token");
  const serviceToken = new cloudflare.ZeroTrustAccessServiceToken(
    tokenChild.name,
    {
      accountId,
      name: `${settings.workerName} worker`,
      duration: token.duration,
      clientSecretVersion: token.clientSecretVersion,
      ...(token.previousClientSecretExpiresAt
        ? { previousClientSecretExpiresAt: token.previousClientSecretExpiresAt }
        : {}),
    },
    tokenChild.opts,
  );
  const policyChild = child(scope, "origin-policy", "origin-service-token-policy");
  const policy = new cloudflare.ZeroTrustAccessPolicy(
    policyChild.name,
    {
      accountId,
      name: `${settings.workerName}: only the edge Worker`,
      decision: "non_identity",
      includes: [{ serviceToken: { tokenId: serviceToken.id } }],
    },
    policyChild.opts,
  );
  const applicationChild = child(scope, "origin-application", "origin-access-application");
  const application = new cloudflare.ZeroTrustAccessApplication(
    applicationChild.name,
    {
      accountId,
      name: `${settings.workerName} bridge origin`,
      type: "self_hosted",
      ...accessDomains(bridgesOf(settings).map((bridge) => bridge.originHostname)),
      policies: [{ id: policy.id, precedence: 1 }],
      serviceAuth401Redirect: true,
      appLauncherVisible: false,
    },
    applicationChild.opts,
  );
  return { serviceToken, policy, application };
}

/**
 * The hostnames an Access application secures: one as `domain`, as a one-bridge stack always
 * had it; several as public `destinations` (which supersede `domain` for what Access checks).
 */
export function accessDomains(hostnames: string[]): {
  domain: string;
  destinations?: { type: "public"; uri: string }[];
} {
  if (hostnames.length <= 1) return { domain: hostnames[0] ?? "" };
  return {
    domain: hostnames[0],
    destinations: hostnames.map((uri) => ({ type: "public", uri })),
  };
}

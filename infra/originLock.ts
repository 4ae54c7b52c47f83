import * as cloudflare from "@pulumi/cloudflare";
import { child, type Scope } from "./childNames";
import type { StackSettings } from "./config/schema";

export interface OriginLock {
  serviceToken: cloudflare.ZeroTrustAccessServiceToken;
  policy: cloudflare.ZeroTrustAccessPolicy;
  application: cloudflare.ZeroTrustAccessApplication;
}

/**
 * Keeps the origin hostname from being a public way around the Worker: an Access application
 * on it whose only policy admits the service token the Worker presents (non_identity), and
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
      domain: settings.tunnel.originHostname,
      policies: [{ id: policy.id, precedence: 1 }],
      serviceAuth401Redirect: true,
      appLauncherVisible: false,
    },
    applicationChild.opts,
  );
  return { serviceToken, policy, application };
}

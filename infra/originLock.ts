import * as cloudflare from "@pulumi/cloudflare";
import type * as pulumi from "@pulumi/pulumi";
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
export function originLock(settings: StackSettings, opts: pulumi.CustomResourceOptions): OriginLock {
  const accountId = settings.accountId;
  const token = settings.accessServiceToken;
  const serviceToken = new cloudflare.ZeroTrustAccessServiceToken(
    "origin-service-token",
    {
      accountId,
      name: `${settings.workerName} worker`,
      duration: token.duration,
      clientSecretVersion: token.clientSecretVersion,
      ...(token.previousClientSecretExpiresAt ? { previousClientSecretExpiresAt: token.previousClientSecretExpiresAt } : {}),
    },
    opts,
  );
  const policy = new cloudflare.ZeroTrustAccessPolicy(
    "origin-service-token-policy",
    { accountId, name: `${settings.workerName}: only the edge Worker`, decision: "non_identity", includes: [{ serviceToken: { tokenId: serviceToken.id } }] },
    opts,
  );
  const application = new cloudflare.ZeroTrustAccessApplication(
    "origin-access-application",
    {
      accountId,
      name: `${settings.workerName} bridge origin`,
      type: "self_hosted",
      domain: settings.tunnel.originHostname,
      policies: [{ id: policy.id, precedence: 1 }],
      serviceAuth401Redirect: true,
      appLauncherVisible: false,
    },
    opts,
  );
  return { serviceToken, policy, application };
}

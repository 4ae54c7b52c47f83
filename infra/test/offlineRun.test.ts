import * as cloudflare from "@pulumi/cloudflare";
import { describe, expect, it } from "vitest";
import { runProgramOffline } from "../offlineRun";
import { RESOURCE_TYPES } from "../resourceTypes";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

describe("the offline run answers only what the program uses", () => {
  it("fails on an invoke it has no answer for, naming its token", async () => {
    await expect(
      runProgramOffline("prod", { entry: fixture("unknownInvoke.ts"), secrets: {} }),
    ).rejects.toThrow(
      "the offline run has no answer for the invoke cloudflare:index/getZone:getZone",
    );
  });

  it("refuses a program that declares two resources under one URN, as the engine would", async () => {
    await expect(
      runProgramOffline("prod", { entry: fixture("duplicateUrn.ts"), secrets: {} }),
    ).rejects.toThrow(
      "Duplicate resource URN (the engine refuses the program): urn:pulumi:prod::voice-edge::cloudflare:index/dnsRecord:DnsRecord::same-name",
    );
  });
});

describe("the resource-type table", () => {
  const classes: Partial<Record<keyof typeof RESOURCE_TYPES, unknown>> = {
    zoneSetting: cloudflare.ZoneSetting,
    urlNormalization: cloudflare.UrlNormalizationSettings,
    dnsRecord: cloudflare.DnsRecord,
    ruleset: cloudflare.Ruleset,
    tunnel: cloudflare.ZeroTrustTunnelCloudflared,
    tunnelConfig: cloudflare.ZeroTrustTunnelCloudflaredConfig,
    serviceToken: cloudflare.ZeroTrustAccessServiceToken,
    accessPolicy: cloudflare.ZeroTrustAccessPolicy,
    accessApp: cloudflare.ZeroTrustAccessApplication,
    script: cloudflare.WorkersScript,
    route: cloudflare.WorkersRoute,
    cron: cloudflare.WorkersCronTrigger,
    d1: cloudflare.D1Database,
    notification: cloudflare.NotificationPolicy,
    webhook: cloudflare.NotificationPolicyWebhooks,
    healthCheck: cloudflare.Healthcheck,
  };

  it.each(Object.entries(classes))("%s is the provider class's own token", (key, cls) => {
    expect((cls as { __pulumiType: string }).__pulumiType).toBe(
      RESOURCE_TYPES[key as keyof typeof RESOURCE_TYPES],
    );
  });
});

import { describe, expect, it } from "vitest";
import { runProgramOffline } from "../offlineRun";
import { resourcesOfType as ofType, RESOURCE_TYPES as T } from "../resourceTypes";
import { refusal } from "./programRun";

const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 3).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/alerts-test",
};
const onFree = (alerts: Record<string, unknown>) => ({
  secrets: SECRETS,
  override: {
    "voice-edge:zone": { id: "0".repeat(32), name: "mycosoft.com", plan: "free", owner: true },
    "voice-edge:alerts": alerts,
  },
});

describe("alerts.cloudflareWebhook: false (an account that refuses webhook destinations)", () => {
  it("declares no webhook destination; Cloudflare's policies mail, the bridge probe still posts", async () => {
    const run = await runProgramOffline(
      "prod",
      onFree({ emails: ["ops@mycosoft.com"], cloudflareWebhook: false }),
    );
    expect(ofType(run, T.webhook)).toEqual([]);
    const policies = ofType(run, T.notification);
    expect(policies.length).toBeGreaterThan(0);
    for (const policy of policies)
      expect(policy.inputs.mechanisms).toEqual({ emails: [{ id: "ops@mycosoft.com" }] });
    expect(ofType(run, T.d1)).toHaveLength(1);
  });

  it("declares the destination by default, for every policy", async () => {
    const run = await runProgramOffline("prod", onFree({ emails: ["ops@mycosoft.com"] }));
    expect(ofType(run, T.webhook)).toHaveLength(1);
  });

  it("is refused when Cloudflare's policies would then reach nobody, naming the key and the stack file", async () => {
    const message = await refusal("prod", onFree({ cloudflareWebhook: false }));
    expect(message).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
    expect(message).toContain(
      "voice-edge:alerts → cloudflareWebhook: is false, so Cloudflare's notification policies (",
    );
    expect(message).toContain("add alerts.emails or alerts.pagerdutyIds");
  });
});

import { describe, expect, it } from "vitest";
import { BRIDGE_WATCH_BINDINGS } from "../../worker/src/bridgeWatch/bindings";
import { runProgramOffline } from "../offlineRun";
import { bindingsOf, refusal } from "./programRun";

const READ_TOKEN = "analytics-read-token-9c2e5a";
const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 7).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
};
const DATASET = { "voice-edge:analytics": { dataset: "voice_edge_prod" } };
const alerts = (more: Record<string, unknown>) => ({
  "voice-edge:alerts": { emails: ["ops@mycosoft.com"], ...more },
});

const watchBindings = (run: Awaited<ReturnType<typeof runProgramOffline>>) => {
  const bindings = bindingsOf(run);
  return {
    settings: JSON.parse(
      bindings.find((b) => b.name === BRIDGE_WATCH_BINDINGS.settings)!.json!,
    ) as Record<string, unknown>,
    token: bindings.find((b) => b.name === BRIDGE_WATCH_BINDINGS.analyticsReadToken),
  };
};

describe("the alerts on what users feel, as the program declares them", () => {
  it("binds the read token as a secret_text, inside the Worker's secret bindings, and the rules in the watch's settings", async () => {
    const run = await runProgramOffline("prod", {
      secrets: { ...SECRETS, analyticsReadToken: READ_TOKEN },
      override: { ...DATASET, ...alerts({ turnedAwayShare: 0.2, minVisitors: 20 }) },
    });
    const { settings, token } = watchBindings(run);
    expect(token).toEqual({
      name: BRIDGE_WATCH_BINDINGS.analyticsReadToken,
      type: "secret_text",
      text: READ_TOKEN,
    });
    expect(settings.users).toEqual({
      accountId: "0".repeat(32),
      dataset: "voice_edge_prod",
      turnedAwayShare: 0.2,
      turnedAwayMinutes: 15,
      minVisitors: 20,
    });
    // Only the secret binding carries the token: not the settings, not an output.
    expect(JSON.stringify(settings)).not.toContain(READ_TOKEN);
    expect(JSON.stringify(run.outputs)).not.toContain(READ_TOKEN);
  });

  it.each([
    ["no share and no token", DATASET, {}],
    ["a dataset without a share", { ...DATASET, ...alerts({ turnedAwayMinutes: 30 }) }, {}],
  ])("binds no token and asks nothing with %s", async (_case, override, secrets) => {
    const run = await runProgramOffline("prod", { secrets: { ...SECRETS, ...secrets }, override });
    const { settings, token } = watchBindings(run);
    expect(token).toBeUndefined();
    expect(settings).not.toHaveProperty("users");
  });

  it("refuses the read token stored in plaintext", async () => {
    const message = await refusal("prod", {
      secrets: { ...SECRETS, analyticsReadToken: READ_TOKEN },
      plaintext: ["analyticsReadToken"],
      override: { ...DATASET, ...alerts({ turnedAwayShare: 0.2 }) },
    });
    expect(message).toContain("voice-edge:analyticsReadToken: is a secret stored in plaintext");
    expect(message).not.toContain(READ_TOKEN);
  });

  it("refuses a share without the read token, naming the secret and the stack file", async () => {
    const message = await refusal("prod", {
      secrets: SECRETS,
      override: { ...DATASET, ...alerts({ turnedAwayShare: 0.2 }) },
    });
    expect(message).toContain('Invalid configuration for stack "prod"');
    expect(message).toContain(
      "voice-edge:analyticsReadToken: is required because alerts.turnedAwayShare is set",
    );
  });

  it("refuses a share on a stack without points", async () => {
    const message = await refusal("prod", {
      secrets: { ...SECRETS, analyticsReadToken: READ_TOKEN },
      override: alerts({ turnedAwayShare: 0.2 }),
    });
    expect(message).toContain(
      "voice-edge:alerts → turnedAwayShare: is counted from the edge's points: set voice-edge:analytics.dataset",
    );
  });
});

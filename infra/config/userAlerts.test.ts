import { describe, expect, it } from "vitest";
import { bridgeWatchSettings } from "../bridgeWatch";
import { validateUserAlerts, validateUserAlertToken, type UserAlertInput } from "./alerts";
import type { Problem } from "./errors";
import { loadStackSettings, projectValues, readStackFile } from "./stackFiles";
import { parseStackSecrets, parseStackSettings, StackConfigError } from "./schema";

const prod = () => projectValues(readStackFile("prod"));
const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 1).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
};

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as Error).message;
  }
  throw new Error("expected the config to be refused");
}

const withAlerts = (alerts: Record<string, unknown>) => ({
  ...prod(),
  alerts: { ...(prod().alerts as object), ...alerts },
});

describe("the alerts on what users feel: bounds, named with the key and the stack file", () => {
  it.each([
    ["turnedAwayShare", 0, "Too small: expected number to be >0"],
    ["turnedAwayShare", 1.5, "Too big: expected number to be <=1"],
    ["turnedAwayShare", "20%", "expected number"],
    ["turnedAwayMinutes", 4, "Too small: expected number to be >=5"],
    ["turnedAwayMinutes", 1441, "Too big: expected number to be <=1440"],
    ["turnedAwayMinutes", 7.5, "expected int"],
    ["minVisitors", 0, "Too small: expected number to be >=1"],
    ["waitedLongerThanS", 0, "Too small: expected number to be >=1"],
    ["waitedLongerThanS", 3601, "Too big: expected number to be <=3600"],
    ["waitedShare", 2, "Too big: expected number to be <=1"],
  ])("alerts.%s %s", (key, value, bound) => {
    const message = refusal(() =>
      parseStackSettings("prod", "Pulumi.prod.yaml", withAlerts({ [key]: value })),
    );
    expect(message).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
    expect(message).toContain(`voice-edge:alerts → ${key}: `);
    expect(message).toContain(bound);
  });

  it("is off unless a share is set: the watch's settings carry no `users`, and no token is needed", () => {
    const settings = loadStackSettings("prod");
    expect(settings.alerts.turnedAwayShare).toBeUndefined();
    expect(bridgeWatchSettings(settings)).not.toHaveProperty("users");
    expect(() => parseStackSecrets("prod", "Pulumi.prod.yaml", settings, SECRETS)).not.toThrow();
  });

  it("refuses a share on a stack without the edge's points, naming the key to set", () => {
    const message = refusal(() =>
      parseStackSettings("prod", "Pulumi.prod.yaml", withAlerts({ turnedAwayShare: 0.2 })),
    );
    expect(message).toContain(
      "voice-edge:alerts → turnedAwayShare: is counted from the edge's points: set voice-edge:analytics.dataset",
    );
  });
});

const input = (
  alerts: Partial<UserAlertInput["alerts"]>,
  more: Partial<Omit<UserAlertInput, "alerts">> = {},
): UserAlertInput => ({
  zone: { plan: "free" },
  line: { enabled: false },
  analytics: { dataset: "voice_edge_prod" },
  ...more,
  alerts: { emails: [], pagerdutyIds: [], ...alerts },
});

describe("validateUserAlerts", () => {
  it.each<[string, UserAlertInput, Problem[]]>([
    ["nothing set", input({}, { analytics: undefined }), []],
    ["a turned-away share with the points and the probe", input({ turnedAwayShare: 0.2 }), []],
    [
      "the long-wait rule with the line",
      input({ waitedLongerThanS: 120, waitedShare: 0.25 }, { line: { enabled: true } }),
      [],
    ],
    [
      "a share without the points",
      input({ turnedAwayShare: 0.2 }, { analytics: undefined }),
      [
        {
          path: ["alerts", "turnedAwayShare"],
          message: "is counted from the edge's points: set voice-edge:analytics.dataset",
        },
      ],
    ],
    [
      "a share on Pro, whose default alerts leave out the bridge watch",
      input({ turnedAwayShare: 0.2 }, { zone: { plan: "pro" } }),
      [
        {
          path: ["alerts", "turnedAwayShare"],
          message:
            "is checked by the bridge watch, and alerts.types leaves out bridge_probe: add it",
        },
      ],
    ],
    [
      "a share on Pro with bridge_probe listed",
      input({ turnedAwayShare: 0.2, types: ["bridge_probe"] }, { zone: { plan: "pro" } }),
      [],
    ],
    [
      "a wait share without its threshold",
      input({ waitedShare: 0.25 }, { line: { enabled: true } }),
      [
        {
          path: ["alerts", "waitedShare"],
          message:
            "is set but alerts.waitedLongerThanS is not: the long-wait alert needs both (a wait longer than waitedLongerThanS seconds, a share of waits from 0 to 1)",
        },
      ],
    ],
    [
      "a wait threshold without its share",
      input({ waitedLongerThanS: 120 }, { line: { enabled: true } }),
      [
        {
          path: ["alerts", "waitedLongerThanS"],
          message:
            "is set but alerts.waitedShare is not: the long-wait alert needs both (a wait longer than waitedLongerThanS seconds, a share of waits from 0 to 1)",
        },
      ],
    ],
    [
      "the long-wait rule without the line",
      input({ waitedLongerThanS: 120, waitedShare: 0.25 }),
      [
        {
          path: ["alerts", "waitedShare"],
          message: "measures waits in the line, and voice-edge:line.enabled is not true",
        },
      ],
    ],
  ])("%s", (_name, settings, problems) => expect(validateUserAlerts(settings)).toEqual(problems));
});

describe("validateUserAlertToken", () => {
  it.each<[string, Partial<UserAlertInput["alerts"]>, object, Problem[]]>([
    ["neither", {}, {}, []],
    ["both", { turnedAwayShare: 0.2 }, { analyticsReadToken: "t" }, []],
    [
      "a share without the token",
      { turnedAwayShare: 0.2 },
      {},
      [
        {
          path: ["analyticsReadToken"],
          message:
            "is required because alerts.turnedAwayShare is set (the bridge watch reads the points through the SQL API); set it with `pulumi config set --secret voice-edge:analyticsReadToken` (an API token with Account Analytics: Read)",
        },
      ],
    ],
    [
      "the token without a share",
      {},
      { analyticsReadToken: "t" },
      [
        {
          path: ["analyticsReadToken"],
          message: "is set but neither alerts.turnedAwayShare nor alerts.waitedShare is",
        },
      ],
    ],
  ])("%s", (_name, alerts, secrets, problems) =>
    expect(validateUserAlertToken(input(alerts), secrets)).toEqual(problems),
  );

  it("names the stack file and the secret when the token is missing", () => {
    const settings = loadStackSettings("prod");
    const message = refusal(() =>
      parseStackSecrets(
        "prod",
        "Pulumi.prod.yaml",
        { ...settings, alerts: { ...settings.alerts, turnedAwayShare: 0.2 } },
        SECRETS,
      ),
    );
    expect(message).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
    expect(message).toContain("voice-edge:analyticsReadToken: is required because");
  });
});

import { describe, expect, it } from "vitest";
import { loadStackSettings } from "../config/stackFiles";
import type { StackSettings } from "../config/schema";
import * as voiceEdgeArgs from "../voiceEdgeArgs";

const prod = loadStackSettings("prod");
const TUNNEL_SECRET = Buffer.alloc(32, 5).toString("base64");
const WEBHOOK = "https://hooks.example.com/alerts";
const BUNDLE = {
  code: "export default {}",
  sha256: "a".repeat(64),
  sizeBytes: 17,
  path: "dist/worker.mjs",
};

describe("validateName", () => {
  it.each([
    ["voice-edge", []],
    ["", ["name: must be a non-empty string (every child's name starts with it)"]],
    [undefined, ["name: must be a non-empty string (every child's name starts with it)"]],
  ])("%j: %j", (name, problems) => {
    expect(voiceEdgeArgs.validateName(name)).toEqual(problems);
  });
});

describe("validateSettings", () => {
  it("accepts settings a stack file would accept, with the defaults filled in", () => {
    const { publicDns, accessServiceToken, ...given } = prod;
    expect(voiceEdgeArgs.validateSettings(given)).toEqual({
      value: { ...given, publicDns, accessServiceToken },
      problems: [],
    });
  });

  it.each([
    [
      { accountId: "x" },
      "settings.accountId: must be the account ID: 32 lowercase hex characters (Cloudflare dashboard → Overview)",
    ],
    [{ zone: { ...prod.zone, plan: "gold" } }, /^settings\.zone\.plan: /],
    [
      { publicHostname: "example.org" },
      "settings.publicHostname: example.org is not in zone mycosoft.com",
    ],
    [
      { tunnel: { ...prod.tunnel, bridgeService: "http://10.0.0.5:8998/api" } },
      /^settings\.tunnel\.bridgeService: must be scheme, host and port only/,
    ],
    [
      { tunnel: { ...prod.tunnel, originRequest: { noTlsVerify: true } } },
      /^settings\.tunnel\.originRequest\.noTlsVerify: is a TLS setting and applies only to an https:\/\/ tunnel\.bridgeService/,
    ],
    [{ jwtSecret: "s".repeat(40) }, 'settings: unknown key(s) "jwtSecret"'],
  ] as const)("names the setting at fault: %j", (change, problem) => {
    const { problems } = voiceEdgeArgs.validateSettings({ ...prod, ...change });
    expect(problems).toEqual([
      typeof problem === "string" ? problem : expect.stringMatching(problem),
    ]);
  });
});

describe("validateSecrets", () => {
  it("accepts the secrets the settings need", () => {
    expect(
      voiceEdgeArgs.validateSecrets(prod, {
        jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
        tunnelSecret: TUNNEL_SECRET,
        alertWebhookUrl: WEBHOOK,
      }),
    ).toEqual({
      value: {
        jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
        tunnelSecret: TUNNEL_SECRET,
        alertWebhookUrl: WEBHOOK,
      },
      problems: [],
    });
  });

  it.each([
    [
      "a short tunnel secret",
      {
        jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
        tunnelSecret: "short",
        alertWebhookUrl: WEBHOOK,
      },
      "secrets.tunnelSecret: must be at least 32 random bytes in base64 (openssl rand -base64 32)",
    ],
    [
      "no HS256 secret",
      { tunnelSecret: TUNNEL_SECRET, alertWebhookUrl: WEBHOOK },
      "secrets.jwtSecret: is required because settings.edge.auth.algorithms includes HS256; pass it as secrets.jwtSecret",
    ],
    [
      "no webhook for the Free plan's probe",
      { jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop", tunnelSecret: TUNNEL_SECRET },
      /^secrets\.alertWebhookUrl: is required because bridge_probe is the free plan's alert on a failing bridge/,
    ],
    [
      "a key that is no secret",
      {
        jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
        tunnelSecret: TUNNEL_SECRET,
        alertWebhookUrl: WEBHOOK,
        extra: "y",
      },
      'secrets: unknown key(s) "extra"',
    ],
  ] as const)("names the secret at fault, never its value: %s", (_case, secrets, problem) => {
    const { problems } = voiceEdgeArgs.validateSecrets(prod, secrets);
    expect(problems).toEqual([
      typeof problem === "string" ? problem : expect.stringMatching(problem),
    ]);
    expect(problems.join("\n")).not.toContain("jwt-secret-0123456789-abcdefghijklmnop");
  });

  it("refuses something that is not an object", () => {
    expect(voiceEdgeArgs.validateSecrets(prod, "s3cret").problems).toEqual([
      "secrets: must be an object of plain strings (jwtSecret, tunnelSecret, …)",
    ]);
  });
});

describe("the rules between secrets and settings, in the arguments' words", () => {
  const auth = prod.edge.auth as Extract<typeof prod.edge.auth, { mode: "jwt" }>;
  const inRotation = {
    ...prod,
    edge: { ...prod.edge, auth: { ...auth, previousSecretAcceptedUntil: "2030-01-01T00:00:00Z" } },
  };
  const unheard = { ...prod, alerts: { ...prod.alerts, emails: [], pagerdutyIds: [] } };
  it.each([
    [
      "no HS256 secret",
      prod,
      { tunnelSecret: TUNNEL_SECRET, alertWebhookUrl: WEBHOOK },
      "secrets.jwtSecret: is required because settings.edge.auth.algorithms includes HS256; pass it as secrets.jwtSecret",
    ],
    [
      "a rotation window without the previous secret",
      inRotation,
      {
        jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
        tunnelSecret: TUNNEL_SECRET,
        alertWebhookUrl: WEBHOOK,
      },
      "settings.edge.auth.previousSecretAcceptedUntil: is set but the secret secrets.jwtSecretPrevious is not",
    ],
    [
      "a webhook secret without the webhook",
      { ...unheard, alerts: { ...unheard.alerts, emails: ["oncall@example.com"] } },
      {
        jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
        tunnelSecret: TUNNEL_SECRET,
        alertWebhookSecret: "w",
      },
      "secrets.alertWebhookSecret: is set but secrets.alertWebhookUrl is not",
    ],
  ] as [string, StackSettings, Record<string, string>, string][])(
    "%s",
    (_case, settings, secrets, problem) => {
      const { problems } = voiceEdgeArgs.validateSecrets(settings, secrets);
      expect(problems).toContain(problem);
      expect(problems.join("\n")).not.toMatch(/voice-edge:|pulumi config/);
    },
  );
});

describe("validateBundle", () => {
  it.each([
    [BUNDLE, []],
    [undefined, ["bundle: must be the result of `await buildWorkerBundle()`"]],
    [
      { ...BUNDLE, code: "" },
      [
        "bundle.code: must be the bundled Worker's source (`await buildWorkerBundle()`)",
        "bundle.sizeBytes: must be the byte length of bundle.code",
      ],
    ],
    [{ ...BUNDLE, sha256: "abc" }, ["bundle.sha256: must be the bundle's SHA-256 in hex"]],
    [{ ...BUNDLE, sizeBytes: 3 }, ["bundle.sizeBytes: must be the byte length of bundle.code"]],
  ])("%j: %j", (bundle, problems) => {
    expect(voiceEdgeArgs.validateBundle(bundle)).toEqual(problems);
  });
});

describe("validateVoiceEdgeArgs", () => {
  it("returns the validated settings and secrets", () => {
    const valid = voiceEdgeArgs.validateVoiceEdgeArgs("voice-edge", {
      settings: prod,
      secrets: {
        jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
        tunnelSecret: TUNNEL_SECRET,
        alertWebhookUrl: WEBHOOK,
      },
      bundle: BUNDLE,
    });
    expect(valid.settings).toEqual(prod);
    expect(valid.bundle).toBe(BUNDLE);
  });

  it("throws one error listing every argument at fault, under the component's name", () => {
    const attempt = () =>
      voiceEdgeArgs.validateVoiceEdgeArgs("", {
        settings: { ...prod, accountId: "x" },
        secrets: { tunnelSecret: TUNNEL_SECRET },
        bundle: { ...BUNDLE, sha256: "" },
      });
    expect(attempt).toThrow(voiceEdgeArgs.VoiceEdgeArgsError);
    expect(attempt).toThrow(
      /^VoiceEdge "": invalid arguments:\n  - name: must be a non-empty string.*\n  - settings\.accountId: .*\n  - bundle\.sha256: /,
    );
  });
});

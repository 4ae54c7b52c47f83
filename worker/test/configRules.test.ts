import { describe, expect, it } from "vitest";
import { BINDING_KEY_NAMES, validateAccessServiceToken } from "../src/bindings";
import {
  validateEdgeSettings,
  validateHmacSecret,
  validateJwksUrl,
  validateOriginPolicy,
  validatePreviousSecretWindow,
  validateTokenCookieNotForwarded,
  type EdgeRuleInput,
  type HmacSecretsInput,
  type Problem,
} from "../src/config/rules";
import { STACK_KEY_NAMES } from "../../infra/config/secrets";

type JwtAuth = Extract<EdgeRuleInput["auth"], { mode: "jwt" }>;
const jwt = (auth: Partial<JwtAuth> = {}, edge: Partial<EdgeRuleInput> = {}): EdgeRuleInput => ({
  auth: { mode: "jwt", algorithms: ["HS256"], ...auth },
  allowedOrigins: ["https://mycosoft.com"],
  allowMissingOrigin: false,
  forwardCookies: [],
  ...edge,
});
const off = (edge: Partial<EdgeRuleInput> = {}): EdgeRuleInput => ({
  auth: { mode: "off" },
  allowedOrigins: ["https://mycosoft.com"],
  allowMissingOrigin: false,
  forwardCookies: [],
  ...edge,
});

describe("edge settings rules (the stack and the Worker)", () => {
  it.each<[string, EdgeRuleInput, Problem[]]>([
    ["an allowed origin", jwt(), []],
    ["native clients only", jwt({}, { allowedOrigins: [], allowMissingOrigin: true }), []],
    [
      "nobody",
      jwt({}, { allowedOrigins: [] }),
      [
        {
          path: ["allowedOrigins"],
          message: "is empty and allowMissingOrigin is false: no client could connect",
        },
      ],
    ],
  ])("validateOriginPolicy: %s", (_name, edge, problems) =>
    expect(validateOriginPolicy(edge)).toEqual(problems),
  );

  it.each<[string, EdgeRuleInput, Problem[]]>([
    ["HS* only", jwt(), []],
    ["RS256 with a JWKS", jwt({ algorithms: ["RS256"], jwksUrl: "https://id.example/jwks" }), []],
    ["auth off", off(), []],
    [
      "RS256 and ES256 without a JWKS",
      jwt({ algorithms: ["HS256", "RS256", "ES256"] }),
      [
        {
          path: ["auth", "jwksUrl"],
          message:
            "is required because auth.algorithms includes RS256, ES256 (their keys come from a JWKS)",
        },
      ],
    ],
  ])("validateJwksUrl: %s", (_name, edge, problems) =>
    expect(validateJwksUrl(edge)).toEqual(problems),
  );

  it.each<[string, EdgeRuleInput, Problem[]]>([
    ["no token cookie", jwt({}, { forwardCookies: ["session"] }), []],
    [
      "other cookies forwarded",
      jwt({ cookieName: "voice_token" }, { forwardCookies: ["session"] }),
      [],
    ],
    [
      "the token cookie forwarded",
      jwt({ cookieName: "voice_token" }, { forwardCookies: ["session", "voice_token"] }),
      [{ path: ["forwardCookies"], message: "must not name the token cookie (voice_token)" }],
    ],
  ])("validateTokenCookieNotForwarded: %s", (_name, edge, problems) =>
    expect(validateTokenCookieNotForwarded(edge)).toEqual(problems),
  );

  it("validateEdgeSettings applies the rules both sides share, not the origin policy", () => {
    const edge = jwt(
      { algorithms: ["RS256"], cookieName: "t" },
      { allowedOrigins: [], forwardCookies: ["t"] },
    );
    expect(validateEdgeSettings(edge).map((problem) => problem.path.join("."))).toEqual([
      "auth.jwksUrl",
      "forwardCookies",
    ]);
  });
});

describe("HMAC secret rules, worded once and named by each side", () => {
  const cases: [string, EdgeRuleInput, HmacSecretsInput, string[], string[]][] = [
    ["HS256 with its secret", jwt(), { jwtSecret: "s" }, [], []],
    ["auth off without a secret", off(), {}, [], []],
    ["RS256 alone without a secret", jwt({ algorithms: ["RS256"] }), {}, [], []],
    [
      "HS256 and HS512 without a secret",
      jwt({ algorithms: ["HS256", "RS256", "HS512"] }),
      {},
      ["jwtSecret: is required because edge.auth.algorithms includes HS256, HS512"],
      ["JWT_SECRET: is required because EDGE_CONFIG.auth.algorithms includes HS256, HS512"],
    ],
  ];
  it.each(cases)("validateHmacSecret: %s", (_name, edge, secrets, stack, worker) => {
    const lines = (problems: Problem[]) =>
      problems.map((problem) => `${problem.path.join(".")}: ${problem.message}`);
    expect(lines(validateHmacSecret(edge, secrets, STACK_KEY_NAMES))).toEqual(stack);
    expect(lines(validateHmacSecret(edge, secrets, BINDING_KEY_NAMES))).toEqual(worker);
  });

  const windows: [string, EdgeRuleInput, HmacSecretsInput, Problem[]][] = [
    ["no previous secret", jwt(), { jwtSecret: "s" }, []],
    [
      "a previous secret inside its window",
      jwt({ previousSecretAcceptedUntil: "2026-12-01T12:00:00Z" }),
      { jwtSecret: "s", jwtSecretPrevious: "p" },
      [],
    ],
    [
      "a previous secret without a window",
      jwt(),
      { jwtSecret: "s", jwtSecretPrevious: "p" },
      [
        {
          path: ["JWT_SECRET_PREVIOUS"],
          message:
            "is set but EDGE_CONFIG.auth.previousSecretAcceptedUntil is not: say until when the previous secret is accepted (RFC 3339)",
        },
      ],
    ],
  ];
  it.each(windows)("validatePreviousSecretWindow: %s", (_name, edge, secrets, problems) =>
    expect(validatePreviousSecretWindow(edge, secrets, BINDING_KEY_NAMES)).toEqual(problems),
  );
});

describe("Worker-only binding rules", () => {
  it.each<
    [string, { BRIDGE_ACCESS_CLIENT_ID?: string; BRIDGE_ACCESS_CLIENT_SECRET?: string }, Problem[]]
  >([
    ["neither half", {}, []],
    ["both halves", { BRIDGE_ACCESS_CLIENT_ID: "id", BRIDGE_ACCESS_CLIENT_SECRET: "secret" }, []],
    [
      "the ID alone",
      { BRIDGE_ACCESS_CLIENT_ID: "id" },
      [
        {
          path: ["BRIDGE_ACCESS_CLIENT_SECRET"],
          message: "BRIDGE_ACCESS_CLIENT_ID and BRIDGE_ACCESS_CLIENT_SECRET must be set together",
        },
      ],
    ],
    [
      "the secret alone",
      { BRIDGE_ACCESS_CLIENT_SECRET: "secret" },
      [
        {
          path: ["BRIDGE_ACCESS_CLIENT_ID"],
          message: "BRIDGE_ACCESS_CLIENT_ID and BRIDGE_ACCESS_CLIENT_SECRET must be set together",
        },
      ],
    ],
  ])("validateAccessServiceToken: %s", (_name, env, problems) =>
    expect(validateAccessServiceToken(env)).toEqual(problems),
  );
});

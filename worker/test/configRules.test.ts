import { describe, expect, it } from "vitest";
import { BINDING_KEY_NAMES, parseBindings, validateAccessServiceToken } from "../src/bindings";
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
import { parseStackSettings } from "../../infra/config/schema";
import { projectValues, readStackFile } from "../../infra/config/stackFiles";
import { jwtEdgeConfig, TEST_SECRET } from "../../test/support/edge";

/** Every problem the Worker's bindings parser finds with `edge` as EDGE_CONFIG, as "path: message". */
function workerProblems(
  edge: Record<string, unknown>,
  env: Record<string, unknown> = {},
): string[] {
  const parsed = parseBindings({
    BRIDGE_URL: "https://voice-origin.example.com/api/chat",
    EDGE_CONFIG: edge,
    JWT_SECRET: TEST_SECRET,
    ...env,
  });
  return parsed.ok ? [] : parsed.problems.map((problem) => `${problem.path}: ${problem.message}`);
}

/** The stack schema's refusal of the prod stack file with `edge` changed, or "" when it passes. */
function stackRefusal(edge: Record<string, unknown>): string {
  const values = projectValues(readStackFile("prod"));
  try {
    parseStackSettings("prod", "Pulumi.prod.yaml", {
      ...values,
      edge: { ...(values.edge as object), ...edge },
    });
    return "";
  } catch (error) {
    return (error as Error).message;
  }
}

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

describe("forwarding: what a stack may copy from the client to the bridge", () => {
  it.each([
    ["the same spelling", ["X-Client-Address"], "X-Client-Address"],
    ["another letter case", ["x-client-address"], "X-Client-Address"],
    ["underscores", ["X_Client_Address"], "X-Client-Address"],
  ])(
    "refuses forwardHeaders naming clientAddressHeader in %s, naming both",
    (_name, forwardHeaders, clientAddressHeader) => {
      const edge = jwtEdgeConfig({
        forwardHeaders: ["X-Client-Version", ...forwardHeaders],
        clientAddressHeader,
      });
      const problems = workerProblems(edge);
      expect(problems).toEqual([
        `EDGE_CONFIG.forwardHeaders.1: ${forwardHeaders[0]} is also clientAddressHeader (${clientAddressHeader}): the client's copy would reach the bridge beside the address from CF-Connecting-IP; remove it from forwardHeaders`,
      ]);
      expect(stackRefusal({ forwardHeaders, clientAddressHeader })).toContain(
        `voice-edge:edge → forwardHeaders.0: ${forwardHeaders[0]} is also clientAddressHeader (${clientAddressHeader})`,
      );
    },
  );

  it("accepts distinct forwarded and address headers", () => {
    const edge = { forwardHeaders: ["X-Client-Version"], clientAddressHeader: "X-Client-Address" };
    expect(workerProblems(jwtEdgeConfig(edge))).toEqual([]);
    expect(stackRefusal(edge)).toBe("");
  });

  it.each([
    "Proxy-Authorization",
    "X-Api-Key",
    "Cf-Access-Token",
    "X-Client-IP",
    "Client-IP",
    "X-Cluster-Client-IP",
    "X-Original-Forwarded-For",
    "CF-Connecting-IPv6",
    "Cf-Pseudo-IPv4",
    "Cf-Ipcountry",
    "cf_ray",
    "x_api_key",
  ])(
    "refuses %s in forwardHeaders and as clientAddressHeader, in both schemas, naming it",
    (name) => {
      const message = `${name} is set by the edge or Cloudflare, or carries credentials or a forgeable address: it cannot be forwarded`;
      expect(workerProblems(jwtEdgeConfig({ forwardHeaders: [name] }))).toEqual([
        `EDGE_CONFIG.forwardHeaders.0: ${message}`,
      ]);
      expect(workerProblems(jwtEdgeConfig({ clientAddressHeader: name }))).toEqual([
        `EDGE_CONFIG.clientAddressHeader: ${message}`,
      ]);
      expect(stackRefusal({ forwardHeaders: [name] })).toContain(
        `voice-edge:edge → forwardHeaders.0: ${message}`,
      );
    },
  );
});

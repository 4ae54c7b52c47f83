import { describe, expect, it } from "vitest";
import { BINDING_KEY_NAMES, parseBindings, validateAccessServiceToken } from "../src/bindings";
import {
  admissionTimeoutOf,
  MAX_ROTATION_WINDOW_DAYS,
  validateAudience,
  validateEdgeSettings,
  validateHmacSecret,
  validateJwksUrl,
  validateJwksUrlScheme,
  validateOriginPolicy,
  validatePreviousSecretDiffers,
  validatePreviousSecretWindow,
  validateRotationWindowLength,
  validateTokenCookieNotForwarded,
  validateTokenQueryParameter,
  type EdgeRuleInput,
  type HmacSecretsInput,
  type Problem,
} from "../src/config/rules";
import { STACK_KEY_NAMES, stackSecretsSchema } from "../../infra/config/secrets";
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
  auth: { mode: "jwt", algorithms: ["HS256"], audience: "voice-edge", ...auth },
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

  it("refuses the ticket's query parameter as the token's, on both sides", () => {
    expect(validateTokenQueryParameter(jwt({ queryParameter: "access_token" }))).toEqual([]);
    expect(validateTokenQueryParameter(jwt({ queryParameter: "ticket" }))).toEqual([
      {
        path: ["auth", "queryParameter"],
        message: expect.stringContaining('is "ticket", the query parameter a waiting-line turn'),
      },
    ]);
    const edge = jwtEdgeConfig({ auth: { ...jwtEdgeConfig().auth, queryParameter: "ticket" } });
    expect(workerProblems(edge)).toEqual([
      expect.stringMatching(/^EDGE_CONFIG\.auth\.queryParameter: is "ticket"/),
    ]);
    expect(stackRefusal({ auth: { ...edge.auth } })).toContain("queryParameter");
  });

  it("validateEdgeSettings applies the rules both sides share, not the origin policy", () => {
    const edge = jwt(
      { algorithms: ["RS256"], cookieName: "t" },
      { allowedOrigins: [], forwardCookies: ["t"] },
    );
    expect(validateEdgeSettings(edge).map((problem) => problem.path.join("."))).toEqual([
      "auth.jwksUrl",
      "forwardCookies",
    ]);
    const unsafe = jwt(
      {
        algorithms: ["RS256"],
        audience: undefined,
        jwksUrl: "http://id.example/jwks",
        previousSecretAcceptedUntil: "2027-12-01T00:00:00Z",
      },
      { forwardHeaders: ["x-client-address"], clientAddressHeader: "X-Client-Address" },
    );
    expect(
      validateEdgeSettings(unsafe, Date.parse("2026-12-02T00:00:00Z")).map((problem) =>
        problem.path.join("."),
      ),
    ).toEqual([
      "auth.audience",
      "auth.jwksUrl",
      "auth.previousSecretAcceptedUntil",
      "forwardHeaders.0",
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

describe("auth settings: what an attacker could otherwise use", () => {
  it.each<[string, EdgeRuleInput, Problem[]]>([
    ["https", jwt({ algorithms: ["RS256"], jwksUrl: "https://id.example/jwks" }), []],
    [
      "http to 127.0.0.1",
      jwt({ algorithms: ["RS256"], jwksUrl: "http://127.0.0.1:8080/jwks" }),
      [],
    ],
    ["http to localhost", jwt({ algorithms: ["RS256"], jwksUrl: "http://localhost/jwks" }), []],
    ["http to [::1]", jwt({ algorithms: ["RS256"], jwksUrl: "http://[::1]:9/jwks" }), []],
    [
      "plain http elsewhere",
      jwt({ algorithms: ["RS256"], jwksUrl: "http://id.example/jwks" }),
      [
        {
          path: ["auth", "jwksUrl"],
          message:
            "http://id.example/jwks is plain http: keys fetched without TLS can be replaced on the way, and with them any token forged; use https:// (http only to loopback, for local runs)",
        },
      ],
    ],
    [
      "plain http to a name that merely starts with 127.",
      jwt({ algorithms: ["RS256"], jwksUrl: "http://127.0.0.1.evil.example/jwks" }),
      [expect.objectContaining({ path: ["auth", "jwksUrl"] }) as unknown as Problem],
    ],
  ])("validateJwksUrlScheme: %s", (_name, edge, problems) =>
    expect(validateJwksUrlScheme(edge)).toEqual(problems),
  );

  it.each<[string, EdgeRuleInput, Problem[]]>([
    ["an audience", jwt(), []],
    ["auth off", off(), []],
    [
      "jwt without an audience",
      jwt({ audience: undefined }),
      [
        {
          path: ["auth", "audience"],
          message:
            "is required in jwt mode: without it a token the issuer signed for another service is accepted here (set the aud your token issuer writes, e.g. voice-edge)",
        },
      ],
    ],
  ])("validateAudience: %s", (_name, edge, problems) =>
    expect(validateAudience(edge)).toEqual(problems),
  );

  const NOW = Date.parse("2026-12-02T00:00:00Z");
  const DAY = 24 * 3600 * 1000;
  const until = (days: number) => new Date(NOW + days * DAY).toISOString();
  it.each<[string, string, number]>([
    ["a week ahead", until(7), 0],
    [`exactly ${MAX_ROTATION_WINDOW_DAYS} days ahead`, until(MAX_ROTATION_WINDOW_DAYS), 0],
    ["already over", until(-3), 0],
    [
      `${MAX_ROTATION_WINDOW_DAYS} days and a minute ahead`,
      new Date(NOW + MAX_ROTATION_WINDOW_DAYS * DAY + 60_000).toISOString(),
      1,
    ],
    ["a year ahead", until(365), 1],
  ])("validateRotationWindowLength: %s", (_name, previousSecretAcceptedUntil, count) => {
    const problems = validateRotationWindowLength(jwt({ previousSecretAcceptedUntil }), NOW);
    expect(problems).toHaveLength(count);
    if (count)
      expect(problems[0]).toEqual({
        path: ["auth", "previousSecretAcceptedUntil"],
        message: `${previousSecretAcceptedUntil} is more than ${MAX_ROTATION_WINDOW_DAYS} days ahead: a rotation window accepts the replaced secret only for days; end it sooner`,
      });
  });

  it("validatePreviousSecretDiffers: a previous secret equal to the current one, in each side's words", () => {
    const same = { jwtSecret: TEST_SECRET, jwtSecretPrevious: TEST_SECRET };
    expect(validatePreviousSecretDiffers(same, BINDING_KEY_NAMES)).toEqual([
      {
        path: ["JWT_SECRET_PREVIOUS"],
        message: "equals JWT_SECRET; it must be the secret being replaced",
      },
    ]);
    expect(validatePreviousSecretDiffers(same, STACK_KEY_NAMES)).toEqual([
      {
        path: ["jwtSecretPrevious"],
        message: "equals jwtSecret; it must be the secret being replaced",
      },
    ]);
    expect(
      validatePreviousSecretDiffers(
        { jwtSecret: TEST_SECRET, jwtSecretPrevious: "other" },
        BINDING_KEY_NAMES,
      ),
    ).toEqual([]);
  });

  it.each([
    ["32 spaces", " ".repeat(32)],
    ["one letter repeated", "a".repeat(40)],
    ["a short cycle", "abcabcabcabcabcabcabcabcabcabcabcabc"],
    ["few letters padded with spaces", "ab cd ef g  ".repeat(4)],
  ])("refuses an HS* secret without variety (%s) in the Worker and the stack", (_name, secret) => {
    const message =
      "must have at least 8 different characters besides whitespace: generate one, e.g. openssl rand -base64 32";
    expect(workerProblems(jwtEdgeConfig(), { JWT_SECRET: secret })).toEqual([
      `JWT_SECRET: ${message}`,
    ]);
    const stack = stackSecretsSchema.safeParse({
      jwtSecret: secret,
      tunnelSecret: Buffer.alloc(32, 7).toString("base64"),
    });
    expect(stack.success).toBe(false);
    expect(stack.error?.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`)).toEqual(
      [`jwtSecret: ${message}`],
    );
  });

  it("accepts generated secrets: base64, hex, and the test secret", () => {
    for (const secret of [
      "q0Vd1x7yTqkJ3nZ2pR8mW4cF6hL9sA5bE1gU0oI7vY=",
      "9f86d081884c7d659a2feaa0c55ad015",
      TEST_SECRET,
    ])
      expect(workerProblems(jwtEdgeConfig(), { JWT_SECRET: secret })).toEqual([]);
  });

  it.each([
    [5, false],
    [10, true],
    [600, true],
    [7 * 24 * 3600, true],
    [7 * 24 * 3600 + 1, false],
    [1.5, false],
  ])("auth.maxTokenLifetimeSeconds %s is %s", (maxTokenLifetimeSeconds, ok) => {
    const problems = workerProblems(jwtEdgeConfig({}, { maxTokenLifetimeSeconds }));
    if (ok) expect(problems).toEqual([]);
    else
      expect(problems).toEqual([
        expect.stringMatching(/^EDGE_CONFIG\.auth\.maxTokenLifetimeSeconds: /),
      ]);
  });

  it("the stack schema applies the same auth rules (it reuses the Worker's edge settings schema and rules)", () => {
    const values = projectValues(readStackFile("prod"));
    const auth = (values.edge as { auth: Record<string, unknown> }).auth;
    const { audience: _audience, ...withoutAudience } = auth;
    expect(stackRefusal({ auth: withoutAudience })).toContain(
      "voice-edge:edge → auth.audience: is required in jwt mode",
    );
    expect(
      stackRefusal({ auth: { ...auth, algorithms: ["RS256"], jwksUrl: "http://id.example/jwks" } }),
    ).toContain("voice-edge:edge → auth.jwksUrl: http://id.example/jwks is plain http");
    expect(
      stackRefusal({
        auth: {
          ...auth,
          previousSecretAcceptedUntil: new Date(Date.now() + 90 * 24 * 3600 * 1000).toISOString(),
        },
      }),
    ).toMatch(/voice-edge:edge → auth\.previousSecretAcceptedUntil: .* is more than 30 days ahead/);
    expect(stackRefusal({ auth: { ...auth, maxTokenLifetimeSeconds: 600 } })).toBe("");
  });
});

describe("admission bounds: one try and all the tries of one upgrade", () => {
  it("defaults the total bound to the larger of 20 s and one try's bound", () => {
    expect(admissionTimeoutOf({ bridgeConnectTimeoutMs: 10_000 })).toBe(20_000);
    expect(admissionTimeoutOf({ bridgeConnectTimeoutMs: 60_000 })).toBe(60_000);
    expect(admissionTimeoutOf({ bridgeConnectTimeoutMs: 60_000, admissionTimeoutMs: 90_000 })).toBe(
      90_000,
    );
  });

  it("refuses a total bound shorter than one try's, in the stack and in the Worker's bindings", () => {
    expect(stackRefusal({ bridgeConnectTimeoutMs: 30_000, admissionTimeoutMs: 20_000 })).toContain(
      "voice-edge:edge → admissionTimeoutMs: is 20000 ms, shorter than bridgeConnectTimeoutMs (30000 ms)",
    );
    expect(stackRefusal({ bridgeConnectTimeoutMs: 30_000 })).toBe("");
    const parsed = parseBindings({
      BRIDGE_URL: "https://voice-origin.example.com/api/chat",
      EDGE_CONFIG: {
        auth: { mode: "off" },
        bridgeConnectTimeoutMs: 5_000,
        admissionTimeoutMs: 1_000,
      },
    });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok)
      expect(parsed.problems).toContainEqual(
        expect.objectContaining({
          path: "EDGE_CONFIG.admissionTimeoutMs",
          message: expect.stringContaining("shorter than bridgeConnectTimeoutMs (5000 ms)"),
        }),
      );
  });
});

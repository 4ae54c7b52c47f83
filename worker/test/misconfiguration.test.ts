import { afterAll, describe, expect, it } from "vitest";
import { APP_ORIGIN, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { expectRefused, jwtEdgeConfig, startTestEdge } from "../../test/support/edge";
import { hs256 } from "../../test/support/tokens";

const BRIDGE_URL = "http://127.0.0.1:9/api/chat";
const edges: TestEdge[] = [];
afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.dispose()));
});

const badBindings: [string, Record<string, unknown>, string, RegExp][] = [
  [
    "BRIDGE_URL missing",
    { EDGE_CONFIG: jwtEdgeConfig(), JWT_SECRET: TEST_SECRET },
    "BRIDGE_URL",
    /is required, or BRIDGES/,
  ],
  [
    "BRIDGE_URL and BRIDGES both set",
    {
      BRIDGE_URL,
      BRIDGES: [{ name: "gpu-1", url: BRIDGE_URL }],
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
    },
    "BRIDGES",
    /set one of the two/,
  ],
  [
    "two bridges of one name",
    {
      BRIDGES: [
        { name: "gpu-1", url: BRIDGE_URL },
        { name: "gpu-1", url: "https://other.example.com/api/chat" },
      ],
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
    },
    "BRIDGES",
    /gpu-1 names two bridges/,
  ],
  [
    "a listed bridge at a private IP",
    {
      BRIDGES: [{ name: "gpu-1", url: "http://192.168.0.188:8999/api/chat" }],
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
    },
    "BRIDGES",
    /Tunnel/,
  ],
  [
    "no bridge listed",
    { BRIDGES: [], EDGE_CONFIG: jwtEdgeConfig(), JWT_SECRET: TEST_SECRET },
    "BRIDGES",
    /./,
  ],
  [
    "one bridge's health URL with a fleet",
    {
      BRIDGES: [{ name: "gpu-1", url: BRIDGE_URL }],
      EDGE_CONFIG: jwtEdgeConfig({ bridgeHealthUrl: "https://voice-origin.example.com/health" }),
      JWT_SECRET: TEST_SECRET,
    },
    "EDGE_CONFIG",
    /give an entry its own healthUrl/,
  ],
  [
    "BRIDGE_URL with a ws:// scheme (the seed's design)",
    {
      BRIDGE_URL: "ws://voice-origin.example.com/api/chat",
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
    },
    "BRIDGE_URL",
    /https:\/\//,
  ],
  [
    "BRIDGE_URL with a private IP",
    {
      BRIDGE_URL: "http://192.168.0.188:8999/api/chat",
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
    },
    "BRIDGE_URL",
    /Tunnel/,
  ],
  [
    "EDGE_CONFIG missing",
    { BRIDGE_URL, JWT_SECRET: TEST_SECRET },
    "EDGE_CONFIG",
    /expected object/,
  ],
  [
    "auth missing (auth is never off by omission)",
    { BRIDGE_URL, EDGE_CONFIG: { allowedOrigins: [APP_ORIGIN] } },
    "EDGE_CONFIG",
    /./,
  ],
  [
    "an algorithm none",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig({}, { algorithms: ["none"] }),
      JWT_SECRET: TEST_SECRET,
    },
    "EDGE_CONFIG",
    /HS256/,
  ],
  [
    "HS256 without JWT_SECRET",
    { BRIDGE_URL, EDGE_CONFIG: jwtEdgeConfig() },
    "JWT_SECRET",
    /required/,
  ],
  [
    "a JWT_SECRET too short",
    { BRIDGE_URL, EDGE_CONFIG: jwtEdgeConfig(), JWT_SECRET: "short" },
    "JWT_SECRET",
    /32/,
  ],
  [
    "RS256 without a JWKS URL",
    { BRIDGE_URL, EDGE_CONFIG: jwtEdgeConfig({}, { algorithms: ["RS256"] }) },
    "EDGE_CONFIG",
    /jwksUrl/,
  ],
  [
    "an origin with a path",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig({ allowedOrigins: ["https://app.example/"] }),
      JWT_SECRET: TEST_SECRET,
    },
    "EDGE_CONFIG",
    /bare origin/,
  ],
  [
    "an unknown setting",
    { BRIDGE_URL, EDGE_CONFIG: jwtEdgeConfig({ allowOrigins: [] }), JWT_SECRET: TEST_SECRET },
    "EDGE_CONFIG",
    /allowOrigins/,
  ],
  [
    "JWT_SECRET_PREVIOUS without a rotation window",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
      JWT_SECRET_PREVIOUS: "the-previous-secret-0123456789-abcdefghij",
    },
    "JWT_SECRET_PREVIOUS",
    /previousSecretAcceptedUntil is not/,
  ],
  [
    "the token cookie forwarded to the bridge",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig(
        { forwardCookies: ["voice_token"] },
        { cookieName: "voice_token" },
      ),
      JWT_SECRET: TEST_SECRET,
    },
    "EDGE_CONFIG",
    /forwardCookies must not name the token cookie/,
  ],
  [
    "forwardHeaders naming clientAddressHeader in another letter case",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig({
        forwardHeaders: ["x-client-address"],
        clientAddressHeader: "X-Client-Address",
      }),
      JWT_SECRET: TEST_SECRET,
    },
    "EDGE_CONFIG",
    /forwardHeaders\.0 x-client-address is also clientAddressHeader \(X-Client-Address\)/,
  ],
  [
    "a credential header forwarded",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig({ forwardHeaders: ["Proxy-Authorization"] }),
      JWT_SECRET: TEST_SECRET,
    },
    "EDGE_CONFIG",
    /forwardHeaders\.0 Proxy-Authorization is set by the edge or Cloudflare, or carries credentials/,
  ],
  [
    "a JWKS over plain http to another host",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig({}, { algorithms: ["RS256"], jwksUrl: "http://id.example/jwks" }),
    },
    "EDGE_CONFIG",
    /auth\.jwksUrl http:\/\/id\.example\/jwks is plain http/,
  ],
  [
    "jwt mode without an audience",
    {
      BRIDGE_URL,
      // Through JSON, as a binding is: the key is left out, not undefined.
      EDGE_CONFIG: JSON.parse(JSON.stringify(jwtEdgeConfig({}, { audience: undefined }))),
      JWT_SECRET: TEST_SECRET,
    },
    "EDGE_CONFIG",
    /auth\.audience is required in jwt mode/,
  ],
  [
    "a rotation window ending 60 days ahead",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig(
        {},
        { previousSecretAcceptedUntil: new Date(Date.now() + 60 * 86_400_000).toISOString() },
      ),
      JWT_SECRET: TEST_SECRET,
      JWT_SECRET_PREVIOUS: "the-previous-secret-0123456789-abcdefghij",
    },
    "EDGE_CONFIG",
    /auth\.previousSecretAcceptedUntil .* is more than 30 days ahead/,
  ],
  [
    "a previous secret equal to the current one",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig(
        {},
        { previousSecretAcceptedUntil: new Date(Date.now() + 86_400_000).toISOString() },
      ),
      JWT_SECRET: TEST_SECRET,
      JWT_SECRET_PREVIOUS: TEST_SECRET,
    },
    "JWT_SECRET_PREVIOUS",
    /equals JWT_SECRET/,
  ],
  [
    "a JWT_SECRET of 32 spaces",
    { BRIDGE_URL, EDGE_CONFIG: jwtEdgeConfig(), JWT_SECRET: " ".repeat(32) },
    "JWT_SECRET",
    /at least 8 different characters/,
  ],
  [
    "half an Access service token",
    {
      BRIDGE_URL,
      EDGE_CONFIG: jwtEdgeConfig(),
      JWT_SECRET: TEST_SECRET,
      BRIDGE_ACCESS_CLIENT_ID: "id",
    },
    "BRIDGE_ACCESS_CLIENT_SECRET",
    /together/,
  ],
];

describe("invalid bindings fail closed", () => {
  it.each(badBindings)(
    "answers 500 misconfigured and logs the bad binding for %s",
    async (_name, bindings, binding, message) => {
      const edge = await startTestEdge(bindings);
      edges.push(edge);
      const token = await hs256();
      const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws`, {
        protocols: ["voice.v1", `bearer.${token}`],
        headers: { Origin: APP_ORIGIN },
      });
      expect(refusal.status).toBe(500);
      expect(refusal.body).toEqual({ error: "misconfigured", message: expect.any(String) });
      await expect
        .poll(() => edge.logs.find((line) => line.includes("config_invalid")))
        .toBeDefined();
      const logged = JSON.parse(edge.logs.find((line) => line.includes("config_invalid"))!);
      const problem = logged.problems.find((p: { binding: string }) => p.binding === binding);
      expect(problem, JSON.stringify(logged.problems)).toBeDefined();
      expect(`${problem.path} ${problem.message}`).toMatch(message);
      expect(edge.logs.join("\n")).not.toContain(TEST_SECRET);

      const health = await fetch(`${edge.httpOrigin}/voice/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({
        status: "misconfigured",
        configured: false,
        error: "misconfigured",
      });
    },
  );
});

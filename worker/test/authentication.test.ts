import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import { bridgeSessions, marker, withSessionOptions } from "../../test/support/bridge";
import { APP_ORIGIN, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { expectOpen, expectRefused, jwtEdgeConfig, startTestEdge } from "../../test/support/edge";
import { startJwksServer, type JwksServer } from "../../test/support/jwks";
import { badTokenCases, hs256 } from "../../test/support/tokens";

let bridge: StandinBridge;
let jwks: JwksServer;
let edge: TestEdge;

beforeAll(async () => {
  [bridge, jwks] = await Promise.all([startStandinBridge(), startJwksServer()]);
  edge = await startTestEdge({
    BRIDGE_URL: `${bridge.origin}/api/chat`,
    EDGE_CONFIG: jwtEdgeConfig(
      { allowMissingOrigin: false },
      { algorithms: ["HS256", "RS256"], jwksUrl: jwks.url },
    ),
    JWT_SECRET: TEST_SECRET,
  });
});

afterAll(async () => {
  await edge?.dispose();
  await Promise.all([bridge?.stop(), jwks?.close()]);
});

const now = () => Math.floor(Date.now() / 1000);

async function withToken(token: string) {
  return { protocols: ["voice.v1", `bearer.${token}`], headers: { Origin: APP_ORIGIN } };
}

describe("accepted tokens", () => {
  it("accepts an HS256 token signed with the Worker secret", async () => {
    const session = await expectOpen(
      `${edge.wsOrigin}/voice/ws${withSessionOptions(marker())}`,
      await withToken(await hs256()),
    );
    session.ws.close(1000);
  });

  it("accepts an RS256 token whose key comes from the JWKS URL, fetching the key set once", async () => {
    for (let i = 0; i < 3; i++) {
      const session = await expectOpen(
        `${edge.wsOrigin}/voice/ws${withSessionOptions(marker())}`,
        await withToken(await jwks.sign()),
      );
      session.ws.close(1000);
    }
    expect(jwks.requests).toBe(1);
  });

  it("accepts a token that expired within the clock tolerance", async () => {
    const session = await expectOpen(
      `${edge.wsOrigin}/voice/ws${withSessionOptions(marker())}`,
      await withToken(await hs256({ exp: now() - 10 })),
    );
    session.ws.close(1000);
  });
});

describe("refused tokens: 401 with the cause, and nothing reaches the bridge", () => {
  const cases = badTokenCases(() => jwks);

  it.each(cases)("refuses a token %s", async (_name, makeToken, code) => {
    const before = (await bridgeSessions(bridge.origin)).length;
    const token = await makeToken();
    const refusal = await expectRefused(
      `${edge.wsOrigin}/voice/ws${withSessionOptions(marker())}`,
      await withToken(token),
    );
    expect(refusal.status).toBe(401);
    expect(refusal.body.error).toBe(code);
    expect(refusal.headers["www-authenticate"]).toContain(code);
    expect(JSON.stringify(refusal)).not.toContain(token);
    expect((await bridgeSessions(bridge.origin)).length).toBe(before);
  });

  it("refuses an upgrade with no token at all with 401 token_missing", async () => {
    const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws`, {
      protocols: ["voice.v1"],
      headers: { Origin: APP_ORIGIN },
    });
    expect(refusal.status).toBe(401);
    expect(refusal.body.error).toBe("token_missing");
    expect(refusal.headers["www-authenticate"]).toBe("Bearer");
  });

  it("refuses an Authorization header that is not a bearer token with 401 token_malformed", async () => {
    const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws`, {
      protocols: ["voice.v1"],
      headers: { Origin: APP_ORIGIN, Authorization: "Basic YWxpY2U6c2VjcmV0" },
    });
    expect(refusal.status).toBe(401);
    expect(refusal.body.error).toBe("token_malformed");
  });

  it("refuses a request without Origin where the stack requires one, before looking at the token", async () => {
    const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws`, {
      headers: { Authorization: `Bearer ${await hs256()}` },
    });
    expect(refusal.status).toBe(403);
    expect(refusal.body.error).toBe("origin_required");
  });

  it("keeps every refusal small JSON without a stack trace", async () => {
    const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws`, await withToken("x.y.z"));
    expect(Object.keys(refusal.body).sort()).toEqual(["error", "message"]);
    expect(JSON.stringify(refusal.body).length).toBeLessThan(300);
    expect(JSON.stringify(refusal.body)).not.toMatch(/at .*\.(js|ts):\d+/);
  });
});

describe("RS-only stacks", () => {
  it("refuses an HS256 token when only RS256 is allowed, even one signed with the public key", async () => {
    const rsOnly = await startTestEdge({
      BRIDGE_URL: `${bridge.origin}/api/chat`,
      EDGE_CONFIG: jwtEdgeConfig({}, { algorithms: ["RS256"], jwksUrl: jwks.url }),
    });
    try {
      const refusal = await expectRefused(
        `${rsOnly.wsOrigin}/voice/ws`,
        await withToken(await hs256({}, { secret: jwks.publicPem })),
      );
      expect(refusal.status).toBe(401);
      expect(refusal.body.error).toBe("token_algorithm_not_allowed");
    } finally {
      await rsOnly.dispose();
    }
  });

  it("answers 503 auth_unavailable when the JWKS cannot be fetched and no key is cached", async () => {
    const hanging = await startJwksServer();
    hanging.mode = "hang";
    const unreachable = await startTestEdge({
      BRIDGE_URL: `${bridge.origin}/api/chat`,
      EDGE_CONFIG: jwtEdgeConfig(
        { jwksTimeoutMs: 500 },
        { algorithms: ["RS256"], jwksUrl: hanging.url },
      ),
    });
    try {
      const refusal = await expectRefused(
        `${unreachable.wsOrigin}/voice/ws`,
        await withToken(await hanging.sign()),
      );
      // The JWKS never answers its one request: the answer comes from the edge's own jwksTimeoutMs bound.
      expect(refusal.status).toBe(503);
      expect(refusal.body.error).toBe("auth_unavailable");
      expect(hanging.requests).toBe(1);
    } finally {
      await unreachable.dispose();
      await hanging.close();
    }
  });
});

describe("auth.maxTokenLifetimeSeconds: a leaked long-lived token does not work for a year", () => {
  const CAP = 600;
  let capped: TestEdge;
  beforeAll(async () => {
    capped = await startTestEdge({
      BRIDGE_URL: `${bridge.origin}/api/chat`,
      EDGE_CONFIG: jwtEdgeConfig(
        {},
        { algorithms: ["HS256", "RS256"], jwksUrl: jwks.url, maxTokenLifetimeSeconds: CAP },
      ),
      JWT_SECRET: TEST_SECRET,
    });
  });
  afterAll(() => capped?.dispose());

  const YEAR = 365 * 24 * 3600;
  it.each<[string, () => Promise<string>]>([
    ["HS256 issued for the cap", () => hs256({ iat: now(), exp: now() + CAP })],
    ["RS256 issued for five minutes", () => jwks.sign({ iat: now(), exp: now() + 300 })],
  ])("accepts a token %s", async (_name, makeToken) => {
    const session = await expectOpen(
      `${capped.wsOrigin}/voice/ws${withSessionOptions(marker())}`,
      await withToken(await makeToken()),
    );
    session.ws.close(1000);
  });

  it.each<[string, string, () => Promise<string>]>([
    ["HS256 issued for a year", "exp", () => hs256({ iat: now(), exp: now() + YEAR })],
    ["HS256 a second over the cap", "exp", () => hs256({ iat: now() - 1, exp: now() + CAP })],
    ["RS256 issued for a year", "exp", () => jwks.sign({ iat: now(), exp: now() + YEAR })],
    ["HS256 without iat", "iat", () => hs256({ iat: undefined })],
    ["RS256 without iat", "iat", () => jwks.sign({ exp: now() + 300 })],
    [
      "HS256 whose iat lies a year ahead (to stretch the cap)",
      "iat",
      () => hs256({ iat: now() + YEAR, exp: now() + YEAR + 60 }),
    ],
  ])(
    "refuses a token %s with 401 token_claims_invalid naming %s",
    async (_name, claim, makeToken) => {
      const before = (await bridgeSessions(bridge.origin)).length;
      const refusal = await expectRefused(
        `${capped.wsOrigin}/voice/ws${withSessionOptions(marker())}`,
        await withToken(await makeToken()),
      );
      expect(refusal.status).toBe(401);
      expect(refusal.body).toEqual({
        error: "token_claims_invalid",
        message: expect.any(String),
        claim,
      });
      expect((await bridgeSessions(bridge.origin)).length).toBe(before);
    },
  );

  it("leaves long-lived tokens alone on an edge without the cap", async () => {
    const session = await expectOpen(
      `${edge.wsOrigin}/voice/ws${withSessionOptions(marker())}`,
      await withToken(await hs256({ exp: now() + YEAR })),
    );
    session.ws.close(1000);
  });
});

describe("auth turned off explicitly", () => {
  it("lets a client in without a token and still drops a client-sent X-Voice-Subject", async () => {
    const open = await startTestEdge({
      BRIDGE_URL: `${bridge.origin}/api/chat`,
      EDGE_CONFIG: { auth: { mode: "off" }, allowedOrigins: [APP_ORIGIN] },
    });
    try {
      const id = marker();
      const session = await expectOpen(`${open.wsOrigin}/voice/ws${withSessionOptions(id)}`, {
        protocols: ["voice.v1"],
        headers: { Origin: APP_ORIGIN, "X-Voice-Subject": "admin" },
      });
      session.ws.close(1000);
      const record = (await bridgeSessions(bridge.origin)).find((s) => s.query.includes(id));
      expect(record?.headers["x-voice-subject"]).toBeUndefined();
    } finally {
      await open.dispose();
    }
  });
});

import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import { bridgeSessions, marker } from "./support/bridge";
import { APP_ORIGIN, AUDIENCE, expectOpen, expectRefused, ISSUER, jwtEdgeConfig, startTestEdge, TEST_SECRET, type TestEdge } from "./support/edge";
import { startJwksServer, type JwksServer } from "./support/jwks";
import { hs256, unsignedToken } from "./support/tokens";

let bridge: StandinBridge;
let jwks: JwksServer;
let edge: TestEdge;

beforeAll(async () => {
  [bridge, jwks] = await Promise.all([startStandinBridge(), startJwksServer()]);
  edge = await startTestEdge({
    BRIDGE_URL: `${bridge.origin}/api/chat`,
    EDGE_CONFIG: jwtEdgeConfig({ allowMissingOrigin: false }, { algorithms: ["HS256", "RS256"], jwksUrl: jwks.url }),
    JWT_SECRET: TEST_SECRET,
  });
});

afterAll(async () => {
  await edge?.dispose();
  await Promise.all([bridge?.stop(), jwks?.close()]);
});

const now = () => Math.floor(Date.now() / 1000);

const rs256 = (claims: Record<string, unknown> = {}, kid?: string) => jwks.sign(claims, kid);

async function withToken(token: string) {
  return { protocols: ["voice.v1", `bearer.${token}`], headers: { Origin: APP_ORIGIN } };
}

describe("accepted tokens", () => {
  it("accepts an HS256 token signed with the Worker secret", async () => {
    const session = await expectOpen(`${edge.wsOrigin}/voice/ws?${marker()}`, await withToken(await hs256()));
    session.ws.close(1000);
  });

  it("accepts an RS256 token whose key comes from the JWKS URL, fetching the key set once", async () => {
    for (let i = 0; i < 3; i++) {
      const session = await expectOpen(`${edge.wsOrigin}/voice/ws?${marker()}`, await withToken(await rs256()));
      session.ws.close(1000);
    }
    expect(jwks.requests).toBe(1);
  });

  it("accepts a token that expired within the clock tolerance", async () => {
    const session = await expectOpen(`${edge.wsOrigin}/voice/ws?${marker()}`, await withToken(await hs256({ exp: now() - 10 })));
    session.ws.close(1000);
  });
});

describe("refused tokens: 401 with the cause, and nothing reaches the bridge", () => {
  const cases: [string, () => Promise<string> | string, string][] = [
    ["expired", () => hs256({ exp: now() - 120 }), "token_expired"],
    ["not yet valid", () => hs256({ nbf: now() + 120 }), "token_not_yet_valid"],
    ["from the wrong issuer", () => hs256({ iss: "https://evil.example" }), "token_issuer_invalid"],
    ["for the wrong audience", () => hs256({ aud: "another-service" }), "token_audience_invalid"],
    ["signed with another secret", () => hs256({}, { secret: "not-the-secret-not-the-secret-not-the-secret" }), "token_signature_invalid"],
    ["with alg none", () => unsignedToken(), "token_algorithm_not_allowed"],
    ["with an algorithm the stack does not allow (HS512)", () => hs256({}, { alg: "HS512" }), "token_algorithm_not_allowed"],
    ["HS256-signed with the RSA public key as the secret (key confusion)", () => hs256({}, { secret: jwks.publicPem }), "token_signature_invalid"],
    ["RS256 with a key id the JWKS does not have", () => rs256({}, "unknown-kid"), "token_key_unknown"],
    ["RS256 with a tampered payload", async () => {
      const [header, , signature] = (await rs256()).split(".");
      return `${header}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: "root", exp: now() + 300 })).toString("base64url")}.${signature}`;
    }, "token_signature_invalid"],
    ["without exp", async () => new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "alice" }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(TEST_SECRET)), "token_claims_invalid"],
    ["without sub", async () => new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: now() + 60 }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(TEST_SECRET)), "token_claims_invalid"],
    ["that is not a JWT", () => "not-a-jwt", "token_malformed"],
    ["with two segments", () => "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", "token_malformed"],
    ["with a header that is not JSON", () => `${Buffer.from("{nope").toString("base64url")}.e30.c2ln`, "token_malformed"],
  ];

  it.each(cases)("refuses a token %s", async (_name, makeToken, code) => {
    const before = (await bridgeSessions(bridge.origin)).length;
    const token = await makeToken();
    const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws?${marker()}`, await withToken(token));
    expect(refusal.status).toBe(401);
    expect(refusal.body.error).toBe(code);
    expect(refusal.headers["www-authenticate"]).toContain(code);
    expect(JSON.stringify(refusal)).not.toContain(token);
    expect((await bridgeSessions(bridge.origin)).length).toBe(before);
  });

  it("refuses an upgrade with no token at all with 401 token_missing", async () => {
    const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws`, { protocols: ["voice.v1"], headers: { Origin: APP_ORIGIN } });
    expect(refusal.status).toBe(401);
    expect(refusal.body.error).toBe("token_missing");
    expect(refusal.headers["www-authenticate"]).toBe("Bearer");
  });

  it("refuses an Authorization header that is not a bearer token with 401 token_malformed", async () => {
    const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws`, { protocols: ["voice.v1"], headers: { Origin: APP_ORIGIN, Authorization: "Basic YWxpY2U6c2VjcmV0" } });
    expect(refusal.status).toBe(401);
    expect(refusal.body.error).toBe("token_malformed");
  });

  it("refuses a request without Origin where the stack requires one, before looking at the token", async () => {
    const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws`, { headers: { Authorization: `Bearer ${await hs256()}` } });
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
      const refusal = await expectRefused(`${rsOnly.wsOrigin}/voice/ws`, await withToken(await hs256({}, { secret: jwks.publicPem })));
      expect(refusal.status).toBe(401);
      expect(refusal.body.error).toBe("token_algorithm_not_allowed");
    } finally {
      await rsOnly.dispose();
    }
  });

  it("answers 503 auth_unavailable when the JWKS cannot be fetched and no key is cached", async () => {
    const unreachable = await startTestEdge({
      BRIDGE_URL: `${bridge.origin}/api/chat`,
      EDGE_CONFIG: jwtEdgeConfig({ jwksTimeoutMs: 500 }, { algorithms: ["RS256"], jwksUrl: `${bridge.origin}/hang` }),
    });
    try {
      const started = Date.now();
      const refusal = await expectRefused(`${unreachable.wsOrigin}/voice/ws`, await withToken(await rs256()));
      expect(refusal.status).toBe(503);
      expect(refusal.body.error).toBe("auth_unavailable");
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await unreachable.dispose();
    }
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
      const session = await expectOpen(`${open.wsOrigin}/voice/ws?${id}`, { protocols: ["voice.v1"], headers: { Origin: APP_ORIGIN, "X-Voice-Subject": "admin" } });
      session.ws.close(1000);
      const record = (await bridgeSessions(bridge.origin)).find((s) => s.query.includes(id));
      expect(record?.headers["x-voice-subject"]).toBeUndefined();
    } finally {
      await open.dispose();
    }
  });
});

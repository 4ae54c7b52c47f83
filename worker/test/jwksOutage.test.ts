import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import { freePort } from "../../test/support/freePort";
import { bridgeSessions, withSessionOptions } from "../../test/support/bridge";
import { TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { expectOpen, expectRefused, jwtEdgeConfig, startTestEdge } from "../../test/support/edge";
import { startJwksServer, type JwksMode, type JwksServer } from "../../test/support/jwks";
import { hs256 } from "../../test/support/tokens";

const JWKS_TIMEOUT_MS = 500;

let bridge: StandinBridge;
const edges: TestEdge[] = [];
const servers: JwksServer[] = [];

beforeAll(async () => {
  bridge = await startStandinBridge();
});

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.dispose()));
  await Promise.all(servers.map((server) => server.close()));
  await bridge?.stop();
});

async function jwksServer(): Promise<JwksServer> {
  const server = await startJwksServer();
  servers.push(server);
  return server;
}

/** An edge that accepts HS256 and RS256, its RS256 keys at `jwksUrl`. */
async function edgeWithJwks(jwksUrl: string): Promise<TestEdge> {
  const edge = await startTestEdge({
    BRIDGE_URL: `${bridge.origin}/api/chat`,
    EDGE_CONFIG: jwtEdgeConfig(
      { jwksTimeoutMs: JWKS_TIMEOUT_MS },
      { algorithms: ["HS256", "RS256"], jwksUrl },
    ),
    JWT_SECRET: TEST_SECRET,
  });
  edges.push(edge);
  return edge;
}

const bearer = (token: string) => ({ protocols: ["voice.v1", `bearer.${token}`] });

describe("with keys cached, a JWKS outage does not stop sessions", () => {
  let jwks: JwksServer;
  let edge: TestEdge;

  beforeAll(async () => {
    jwks = await jwksServer();
    edge = await edgeWithJwks(jwks.url);
    (
      await expectOpen(
        `${edge.wsOrigin}/voice/ws${withSessionOptions()}`,
        bearer(await jwks.sign()),
      )
    ).ws.close(1000);
  });

  it.each(["fail", "hang"] as const)(
    "accepts RS256 tokens without waiting or refetching while the JWKS endpoint is %s",
    async (mode) => {
      jwks.mode = mode;
      const before = jwks.requests;
      for (let i = 0; i < 3; i++) {
        const session = await expectOpen(
          `${edge.wsOrigin}/voice/ws${withSessionOptions()}`,
          bearer(await jwks.sign({ sub: `user-${i}` })),
        );
        // Nothing waits on the JWKS: no upgrade asks it anything.
        expect(jwks.requests).toBe(before);
        session.ws.close(1000);
      }
      expect(jwks.requests).toBe(before);
      jwks.mode = "serve";
    },
  );

  it("refuses a key id it does not hold with 401 token_key_unknown while the JWKS is down (within the 30 s lookup cooldown)", async () => {
    jwks.mode = "fail";
    const refusal = await expectRefused(
      `${edge.wsOrigin}/voice/ws${withSessionOptions()}`,
      bearer(await jwks.sign({}, "rotated-in-later")),
    );
    expect(refusal.status).toBe(401);
    expect(refusal.body.error).toBe("token_key_unknown");
    jwks.mode = "serve";
  });
});

/** A JWKS endpoint in `mode`, or (refused) a closed port where the edge looks for it. */
async function outage(mode: JwksMode, expectedRequests: number, { refused = false } = {}) {
  const jwks = await jwksServer();
  jwks.mode = mode;
  const url = refused ? `http://127.0.0.1:${await freePort()}/jwks.json` : jwks.url;
  return { url, sign: () => jwks.sign(), requests: () => jwks.requests, expectedRequests };
}

describe("with no key cached, a JWKS outage is a prompt 503, never a hang or a 401", () => {
  it.each([
    ["answers HTTP 500", () => outage("fail", 1)],
    ["hangs", () => outage("hang", 1)],
    ["refuses connections", () => outage("serve", 0, { refused: true })],
  ])(
    "answers 503 auth_unavailable within the fetch bound when the JWKS endpoint %s",
    async (_name, setUp) => {
      const jwks = await setUp();
      const edge = await edgeWithJwks(jwks.url);
      const before = (await bridgeSessions(bridge.origin)).length;
      const refusal = await expectRefused(
        `${edge.wsOrigin}/voice/ws${withSessionOptions()}`,
        bearer(await jwks.sign()),
      );
      // One fetch and no retry: a hung one ends only at the edge's own jwksTimeoutMs bound.
      expect(refusal.status).toBe(503);
      expect(refusal.body).toEqual({ error: "auth_unavailable", message: expect.any(String) });
      expect(jwks.requests()).toBe(jwks.expectedRequests);
      expect((await bridgeSessions(bridge.origin)).length).toBe(before);

      (
        await expectOpen(`${edge.wsOrigin}/voice/ws${withSessionOptions()}`, bearer(await hs256()))
      ).ws.close(1000);
    },
  );
});

describe("with no key held, the JWKS is asked once however many upgrades arrive", () => {
  const UPGRADES = 30;
  const timed = async (url: string, token: string) => {
    const started = performance.now();
    const refusal = await expectRefused(url, bearer(token));
    return { refusal, ms: performance.now() - started };
  };

  it.each(["fail", "hang"] as const)(
    "asks a JWKS that %s once, then answers 503 auth_unavailable at once for the 30 s cooldown",
    async (mode) => {
      const jwks = await jwksServer();
      jwks.mode = mode;
      const edge = await edgeWithJwks(jwks.url);
      const token = await jwks.sign();
      const url = `${edge.wsOrigin}/voice/ws${withSessionOptions()}`;
      const first = await timed(url, token);
      expect(first.refusal).toMatchObject({ status: 503, body: { error: "auth_unavailable" } });
      for (let i = 1; i < UPGRADES; i++) {
        const { refusal, ms } = await timed(url, token);
        expect(refusal).toMatchObject({ status: 503, body: { error: "auth_unavailable" } });
        // Not waiting on the JWKS: well under the fetch bound a hung fetch takes.
        expect(ms).toBeLessThan(JWKS_TIMEOUT_MS * 0.8);
      }
      expect(jwks.requests).toBe(1);
      // HS* tokens never depend on the JWKS.
      (await expectOpen(url, bearer(await hs256()))).ws.close(1000);
    },
  );

  it("shares one fetch among concurrent upgrades on a cold isolate, and each gets its session", async () => {
    const jwks = await jwksServer();
    jwks.mode = "slow";
    const edge = await edgeWithJwks(jwks.url);
    const tokens = await Promise.all(
      Array.from({ length: UPGRADES }, (_, i) => jwks.sign({ sub: `user-${i}` })),
    );
    const sessions = await Promise.all(
      tokens.map((token) =>
        expectOpen(`${edge.wsOrigin}/voice/ws${withSessionOptions()}`, bearer(token)),
      ),
    );
    for (const session of sessions) session.ws.close(1000);
    expect(jwks.requests).toBe(1);
    // Waiting on another request's fetch is allowed: workerd neither warns nor cancels.
    expect(edge.logs.join("\n")).not.toMatch(/different request|Uncaught|error/i);
  });

  it("shares one hung fetch among concurrent upgrades: each answered 503 within the fetch bound", async () => {
    const jwks = await jwksServer();
    jwks.mode = "hang";
    const edge = await edgeWithJwks(jwks.url);
    const token = await jwks.sign();
    const answers = await Promise.all(
      Array.from({ length: UPGRADES }, () =>
        timed(`${edge.wsOrigin}/voice/ws${withSessionOptions()}`, token),
      ),
    );
    for (const { refusal, ms } of answers) {
      expect(refusal).toMatchObject({ status: 503, body: { error: "auth_unavailable" } });
      expect(ms).toBeLessThan(JWKS_TIMEOUT_MS + 1_500);
    }
    expect(jwks.requests).toBe(1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import {
  bridgeSessions,
  bridgeSessionWith,
  marker,
  withSessionOptions,
} from "../../test/support/bridge";
import { APP_ORIGIN, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { expectOpen, expectRefused, jwtEdgeConfig, startTestEdge } from "../../test/support/edge";
import { expectRefusedSession } from "../../test/support/edge";
import { hs256 } from "../../test/support/tokens";
import { rawRequest, upgradeHead } from "../../test/support/rawHttp";

/** What a black-box attack run found, each finding as the behaviour the edge now has. */

const ACCESS_ID = "access-client-id.access";
const ACCESS_SECRET = "access-client-secret-value";
const OLD_SECRET = "the-previous-secret-0123456789-abcdefghij";

let bridge: StandinBridge;
/** Where a redirecting bridge points: it must never see a request. */
let elsewhere: StandinBridge;
const edges: Record<string, TestEdge> = {};

const credentials = {
  JWT_SECRET: TEST_SECRET,
  BRIDGE_ACCESS_CLIENT_ID: ACCESS_ID,
  BRIDGE_ACCESS_CLIENT_SECRET: ACCESS_SECRET,
};
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

beforeAll(async () => {
  [bridge, elsewhere] = await Promise.all([startStandinBridge(), startStandinBridge()]);
  const chat = `${bridge.origin}/api/chat`;
  const [plain, forwarding, redirecting, rotating, rotated] = await Promise.all([
    startTestEdge({ BRIDGE_URL: chat, EDGE_CONFIG: jwtEdgeConfig(), ...credentials }),
    startTestEdge({
      BRIDGE_URL: chat,
      EDGE_CONFIG: jwtEdgeConfig({
        forwardHeaders: ["X-Client-Version"],
        forwardCookies: ["lang"],
        clientAddressHeader: "X-Client-Address",
      }),
      ...credentials,
    }),
    startTestEdge({
      BRIDGE_URL: `${bridge.origin}/redirect-to/${elsewhere.port}/api/chat`,
      EDGE_CONFIG: jwtEdgeConfig({
        bridgeHealthUrl: `${bridge.origin}/redirect-to/${elsewhere.port}/health`,
      }),
      ...credentials,
    }),
    startTestEdge({
      BRIDGE_URL: chat,
      EDGE_CONFIG: jwtEdgeConfig({}, { previousSecretAcceptedUntil: inAnHour() }),
      ...credentials,
      JWT_SECRET_PREVIOUS: OLD_SECRET,
    }),
    startTestEdge({
      BRIDGE_URL: chat,
      EDGE_CONFIG: jwtEdgeConfig({}, { previousSecretAcceptedUntil: "2026-01-01T00:00:00Z" }),
      ...credentials,
      JWT_SECRET_PREVIOUS: OLD_SECRET,
    }),
  ]);
  Object.assign(edges, { plain, forwarding, redirecting, rotating, rotated });
});

afterAll(async () => {
  await Promise.all(Object.values(edges).map((edge) => edge.dispose()));
  await Promise.all([bridge?.stop(), elsewhere?.stop()]);
});

const wsUrl = (edge: TestEdge, query = "") => `${edge.wsOrigin}/voice/ws${query}`;

/** Opens a session marked in its query; returns it with what the bridge received for it. */
async function openMarked(edge: TestEdge, options: Parameters<typeof expectOpen>[1]) {
  const id = marker();
  const session = await expectOpen(wsUrl(edge, withSessionOptions(id)), options);
  return { session, record: await bridgeSessionWith(bridge.origin, id) };
}

/** A session whose client sends `lines` and the token's cookie as separate Cookie header lines. */
async function openWithCookieLines(edge: TestEdge, lines: string[], headers = {}) {
  const Cookie = [...lines, `voice_token=${await hs256()}`] as unknown as string;
  return openMarked(edge, {
    protocols: ["voice.v1"],
    headers: { Origin: APP_ORIGIN, ...headers, Cookie },
  });
}

async function counts(
  origin: string,
): Promise<{ healthRequests: number; upgradesReceived: number }> {
  return (await (await fetch(`${origin}/debug/counts`)).json()) as {
    healthRequests: number;
    upgradesReceived: number;
  };
}

describe("the bearer subprotocol prefix, in any letter case", () => {
  it.each(["Bearer.", "BEARER."])(
    "never lets a %s entry reach the bridge, the 101 or the log",
    async (prefix) => {
      const edge = edges.plain;
      const id = marker();
      const token = await hs256();
      const before = edge.logs.length;
      const session = await expectOpen(wsUrl(edge, withSessionOptions(id)), {
        protocols: [`${prefix}${token}`, "voice.v1"],
        headers: { Origin: APP_ORIGIN, Authorization: `Bearer ${token}` },
      });
      expect(session.protocol).toBe("voice.v1");
      const record = await bridgeSessionWith(bridge.origin, id);
      expect(record.headers["sec-websocket-protocol"]).toBe("voice.v1");
      expect(JSON.stringify(record)).not.toContain(token.split(".")[2]);
      session.ws.close(1000);
      await expect.poll(() => edge.logs.length).toBeGreaterThan(before);
      expect(edge.logs.slice(before).join("\n")).not.toContain(token.split(".")[2]);
    },
  );

  it("authenticates with a token carried in a BEARER. entry alone", async () => {
    const session = await expectOpen(wsUrl(edges.plain, withSessionOptions(marker())), {
      protocols: ["voice.v1", `BEARER.${await hs256()}`],
      headers: { Origin: APP_ORIGIN },
    });
    expect(session.protocol).toBe("voice.v1");
    session.ws.close(1000);
  });
});

describe("redirects from the bridge", () => {
  it("closes the session to a redirecting bridge with 1014, logging bridge_rejected and its status, sending nothing to where it points", async () => {
    const before = await counts(elsewhere.origin);
    const refused = await expectRefusedSession(
      wsUrl(edges.redirecting, withSessionOptions(marker())),
      {
        protocols: ["voice.v1", `bearer.${await hs256()}`],
        headers: { Origin: APP_ORIGIN },
      },
    );
    expect(refused).toMatchObject({ code: 1014, reason: { error: "bridge_unavailable" } });
    await expect
      .poll(() => edges.redirecting.logs.map((line) => JSON.parse(line)))
      .toContainEqual(
        expect.objectContaining({
          outcome: "refused",
          error: "bridge_rejected",
          bridgeStatus: 302,
        }),
      );
    expect(await counts(elsewhere.origin)).toEqual(before);
    expect(await bridgeSessions(elsewhere.origin)).toEqual([]);
  });

  it("reports a redirecting health URL as down, without following it with the service token", async () => {
    const before = await counts(elsewhere.origin);
    const response = await fetch(`${edges.redirecting.httpOrigin}/voice/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      status: "bridge_down",
      bridges: { total: 1, up: 0, free: 0 },
    });
    await expect
      .poll(() => edges.redirecting.logs.find((line) => line.includes('"health_probe"')))
      .toContain('"status":302');
    expect(await counts(elsewhere.origin)).toEqual(before);
  });
});

describe("what the bridge receives: an allow-list", () => {
  const SPOOFED = {
    X_Voice_Subject: "admin",
    "X-Voice_Subject": "admin",
    CF_Access_Client_Id: "spoofed-id",
    CF_Access_Client_Secret: "spoofed-secret",
    "Cf-Access-Authenticated-User-Email": "ceo@mycosoft.com",
    "X-Forwarded-For": "10.0.0.1",
    Forwarded: "for=10.0.0.1",
    "X-Real-IP": "10.0.0.2",
    "True-Client-IP": "10.0.0.3",
    "X-Forwarded-Host": "internal.mycosoft.com",
    "X-Client-Version": "2.4.0",
    "User-Agent": "attack-kit/1.0",
  };
  /** The header names a default edge sends the bridge (Node lower-cases them; Host, Connection and CF-Worker — the zone's name — come from the runtime). */
  const ALLOWED = new Set([
    "host",
    "connection",
    "cf-worker",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "x-voice-subject",
    "cf-access-client-id",
    "cf-access-client-secret",
  ]);

  it("gets none of the client's other headers, whatever their spelling, and the subject and credentials only from the Worker", async () => {
    const { session, record } = await openMarked(edges.plain, {
      protocols: ["voice.v1", `bearer.${await hs256({ sub: "user-7" })}`],
      headers: { Origin: APP_ORIGIN, ...SPOOFED },
    });
    const unexpected = Object.keys(record.headers).filter((name) => !ALLOWED.has(name));
    expect(unexpected).toEqual([]);
    expect(record.headers).toMatchObject({
      "x-voice-subject": "user-7",
      "cf-access-client-id": ACCESS_ID,
      "cf-access-client-secret": ACCESS_SECRET,
    });
    for (const value of Object.values(SPOOFED))
      expect(JSON.stringify(record.headers)).not.toContain(value);
    session.ws.close(1000);
  });

  it("gets no Sec-WebSocket-Extensions, and the client's 101 takes none: no compression on either leg", async () => {
    const { session, record } = await openMarked(edges.plain, {
      protocols: ["voice.v1", `bearer.${await hs256()}`],
      headers: { Origin: APP_ORIGIN, "Sec-WebSocket-Extensions": "permessage-deflate" },
    });
    expect(record.headers["sec-websocket-extensions"]).toBeUndefined();
    expect(session.headers["sec-websocket-extensions"]).toBeUndefined();
    expect(session.ws.extensions).toBe("");
    session.ws.close(1000);
  });

  it("gets no cookie by default: neither the website's session nor the token, also from two Cookie lines", async () => {
    const { session, record } = await openWithCookieLines(edges.plain, [
      "session=website-session-secret",
    ]);
    expect(record.headers.cookie).toBeUndefined();
    expect(JSON.stringify(record)).not.toContain("website-session-secret");
    session.ws.close(1000);
  });

  it("gets exactly the headers and cookies the stack names, and the client's address from CF-Connecting-IP", async () => {
    const { session, record } = await openWithCookieLines(
      edges.forwarding,
      ["session=website-session-secret; lang=en"],
      { ...SPOOFED, "CF-Connecting-IP": "203.0.113.9" },
    );
    expect(record.headers["x-client-version"]).toBe("2.4.0");
    expect(record.headers.cookie).toBe("lang=en");
    expect(record.headers["x-client-address"]).toBe("203.0.113.9");
    expect(record.headers["x-forwarded-for"]).toBeUndefined();
    expect(record.headers["user-agent"]).toBeUndefined();
    session.ws.close(1000);
  });
});

describe("the subject", () => {
  it.each([" alice", "alice ", "   ", "\talice"])(
    "refuses a sub of %j with 401 token_claims_invalid",
    async (sub) => {
      const refusal = await expectRefused(wsUrl(edges.plain, withSessionOptions(marker())), {
        protocols: ["voice.v1", `bearer.${await hs256({ sub })}`],
        headers: { Origin: APP_ORIGIN },
      });
      expect(refusal.status).toBe(401);
      expect(refusal.body).toMatchObject({ error: "token_claims_invalid", claim: "sub" });
    },
  );
});

describe("/voice/health", () => {
  it("probes the bridge at most once per few seconds however many requests arrive", async () => {
    const before = (await counts(bridge.origin)).healthRequests;
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${edges.forwarding.httpOrigin}/voice/health`).then((r) => r.status),
      ),
    );
    expect(answers.every((status) => status === 200)).toBe(true);
    const probes = (await counts(bridge.origin)).healthRequests - before;
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(probes).toBeLessThanOrEqual(2);
  });
});

describe("HS256 secret rotation", () => {
  const open = async (edge: TestEdge, secret: string) =>
    (await import("../../test/support/edge")).upgrade(wsUrl(edge, withSessionOptions(marker())), {
      protocols: ["voice.v1", `bearer.${await hs256({}, { secret })}`],
      headers: { Origin: APP_ORIGIN },
    });

  it("accepts tokens signed with the previous secret during the window, and the current secret always", async () => {
    for (const secret of [TEST_SECRET, OLD_SECRET]) {
      const result = await open(edges.rotating, secret);
      expect(result.kind).toBe("open");
      if (result.kind === "open") result.session.ws.close(1000);
    }
  });

  it("refuses the previous secret once the window has passed, and on an edge that has none", async () => {
    for (const edge of [edges.rotated, edges.plain]) {
      const result = await open(edge, OLD_SECRET);
      expect(result.kind).toBe("refused");
      if (result.kind === "refused")
        expect(result.refusal.body.error).toBe("token_signature_invalid");
    }
  });
});

describe("an upgrade with another method than GET, as production's runtime passes it", () => {
  it.each(["HEAD", "POST", "OPTIONS", "PUT"])(
    "answers a %s with Upgrade: websocket and a valid token 405, Allow: GET, and opens no bridge session",
    async (method) => {
      const edge = edges.plain;
      const id = marker();
      const before = (await bridgeSessions(bridge.origin)).length;
      const logsBefore = edge.logs.length;
      const answer = await rawRequest(
        Number(new URL(edge.httpOrigin).port),
        upgradeHead(`/voice/ws${withSessionOptions(id)}`, { method }) +
          `Origin: ${APP_ORIGIN}\r\nAuthorization: Bearer ${await hs256()}\r\n` +
          (method === "POST" || method === "PUT" ? "Content-Length: 0\r\n" : "") +
          "\r\n",
      );
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe("GET");
      if (method !== "HEAD")
        expect(JSON.parse(answer.body)).toMatchObject({ error: "method_not_allowed" });
      await expect
        .poll(() => edge.logs.slice(logsBefore).map((line) => JSON.parse(line)))
        .toContainEqual(
          expect.objectContaining({
            event: "upgrade",
            outcome: "refused",
            status: 405,
            error: "method_not_allowed",
          }),
        );
      expect(edge.logs.slice(logsBefore).join("\n")).not.toMatch(/connected|WebSocket must be/);
      expect((await bridgeSessions(bridge.origin)).length).toBe(before);
    },
  );
});

describe("cookie tossing: a second cookie of the token's name", () => {
  it.each([
    [
      "in one Cookie line",
      (attacker: string, victim: string) => `voice_token=${attacker}; voice_token=${victim}`,
    ],
    [
      "in two Cookie lines",
      (attacker: string, victim: string) =>
        [`voice_token=${attacker}`, `voice_token=${victim}`] as unknown as string,
    ],
  ])(
    "refuses the upgrade with 401 token_ambiguous (%s), whichever comes first",
    async (_name, cookie) => {
      const attacker = await hs256({ sub: "mallory" });
      const victim = await hs256({ sub: "alice" });
      const before = (await bridgeSessions(bridge.origin)).length;
      for (const Cookie of [cookie(attacker, victim), cookie(victim, attacker)]) {
        const refusal = await expectRefused(wsUrl(edges.plain, withSessionOptions(marker())), {
          protocols: ["voice.v1"],
          headers: { Origin: APP_ORIGIN, Cookie },
        });
        expect(refusal.status).toBe(401);
        expect(refusal.body).toEqual({ error: "token_ambiguous", message: expect.any(String) });
        expect(refusal.headers["www-authenticate"]).toContain("token_ambiguous");
      }
      expect((await bridgeSessions(bridge.origin)).length).toBe(before);
    },
  );

  it("refuses it also when the token came in another transport: the request is not trusted", async () => {
    const refusal = await expectRefused(wsUrl(edges.plain, withSessionOptions(marker())), {
      protocols: ["voice.v1", `bearer.${await hs256()}`],
      headers: { Origin: APP_ORIGIN, Cookie: "voice_token=a.b.c; voice_token=d.e.f" },
    });
    expect(refusal).toMatchObject({ status: 401, body: { error: "token_ambiguous" } });
  });
});

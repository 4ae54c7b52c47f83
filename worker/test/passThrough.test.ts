import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import { APP_ORIGIN, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { expectOpen, expectRefused, jwtEdgeConfig, startTestEdge } from "../../test/support/edge";
import { bridgeSessionWith, marker, withSessionOptions } from "../../test/support/bridge";
import { hs256 } from "../../test/support/tokens";
import { startGuardAnswers, type GuardAnswers } from "./support/guardAnswers";

const ACCESS_ID = "access-client-id.access";
const ACCESS_SECRET = "access-client-secret-value";

let bridge: StandinBridge;
let edge: TestEdge;
let guard: GuardAnswers;

beforeAll(async () => {
  [bridge, guard] = await Promise.all([
    startStandinBridge({ protocols: ["voice.v2"] }),
    startGuardAnswers(),
  ]);
  edge = await startTestEdge({
    BRIDGE_URL: `${bridge.origin}/api/chat`,
    // The guard's /health (the real server has none): {"up":true,"sessions":0,"capacity":1}.
    EDGE_CONFIG: jwtEdgeConfig({ bridgeHealthUrl: `${guard.origin}/health` }),
    JWT_SECRET: TEST_SECRET,
    BRIDGE_ACCESS_CLIENT_ID: ACCESS_ID,
    BRIDGE_ACCESS_CLIENT_SECRET: ACCESS_SECRET,
  });
});

afterAll(async () => {
  await edge?.dispose();
  await Promise.all([bridge?.stop(), guard?.stop()]);
});

const wsUrl = (query = "") => `${edge.wsOrigin}/voice/ws${query}`;

async function openAuthenticated(
  query: string,
  extra: { protocols?: string[]; headers?: Record<string, string> } = {},
) {
  const token = await hs256();
  return expectOpen(wsUrl(query), {
    protocols: ["voice.v1", `bearer.${token}`, ...(extra.protocols ?? [])],
    headers: { Origin: APP_ORIGIN, ...extra.headers },
  });
}

describe("frames and close codes pass through unchanged", () => {
  it("delivers the bridge's 0x00 handshake frame first, then echoes binary frames byte for byte", async () => {
    const session = await openAuthenticated(withSessionOptions(marker()));
    expect(await session.next()).toEqual({ data: Buffer.from([0x00]), isBinary: true });
    const frames = [
      Buffer.from([0x01]),
      randomBytes(640),
      randomBytes(65_536),
      Buffer.alloc(0),
      Buffer.from([0x00, 0xff, 0x00]),
    ];
    for (const frame of frames) session.ws.send(frame);
    for (const frame of frames) {
      const echoed = await session.next();
      expect(echoed.isBinary).toBe(true);
      expect(echoed.data.equals(frame)).toBe(true);
    }
    session.ws.close(1000);
    await session.closed;
  });

  it("keeps text frames as text, including multi-byte UTF-8", async () => {
    const session = await openAuthenticated(withSessionOptions(marker()));
    await session.next();
    for (const text of ["hello", "héllo wörld — 音声 🎙️", '{"type":"ping"}', ""]) {
      session.ws.send(text);
      const echoed = await session.next();
      expect(echoed.isBinary).toBe(false);
      expect(echoed.data.toString("utf8")).toBe(text);
    }
    session.ws.close(1000);
  });

  it("hands the client's close code and reason to the bridge", async () => {
    const id = marker();
    const session = await openAuthenticated(withSessionOptions(id));
    await session.next();
    session.ws.close(4001, "client says bye");
    expect(await session.closed).toEqual({ code: 4001, reason: "client says bye" });
    const record = await bridgeSessionWith(bridge.origin, id, (s) => s.closed !== null);
    expect(record.closed).toEqual({ code: 4001, reason: "client says bye" });
  });

  it("hands the bridge's close code and reason to the client", async () => {
    const session = await openAuthenticated(withSessionOptions(marker()));
    await session.next();
    session.ws.send(JSON.stringify({ standin: "close", code: 4403, reason: "session over" }));
    expect(await session.closed).toEqual({ code: 4403, reason: "session over" });
  });

  it("passes a normal 1000 closure from the bridge", async () => {
    const session = await openAuthenticated(withSessionOptions(marker()));
    await session.next();
    session.ws.send(JSON.stringify({ standin: "close", code: 1000, reason: "" }));
    expect((await session.closed).code).toBe(1000);
  });
});

describe("what the bridge receives", () => {
  it("forwards the query re-encoded as the server reads it, without the token parameter, never its raw bytes", async () => {
    const id = marker();
    const token = await hs256();
    const query = `?${id}&text_temperature=0.7&voice_prompt=NATF2.pt&access_token=${token}&text_prompt=a%20b+c&note=x;y?z%zz&text%5Fseed=-1`;
    const session = await expectOpen(wsUrl(query), {
      protocols: ["voice.v1"],
      headers: { Origin: APP_ORIGIN },
    });
    const record = await bridgeSessionWith(bridge.origin, id);
    expect(record.path).toBe("/api/chat");
    expect(record.query).toBe(
      `?${id}=&text_temperature=0.7&voice_prompt=NATF2.pt&text_prompt=a+b+c&note=x%3By%3Fz%25zz&text_seed=-1`,
    );
    session.ws.close(1000);
  });

  it("passes the PersonaPlex web client's own query unchanged", async () => {
    const id = marker();
    const client = `?text_temperature=0.7&text_topk=25&audio_temperature=0.8&audio_topk=250&pad_mult=0&text_seed=${id}&audio_seed=-1&repetition_penalty_context=64&repetition_penalty=1.0&text_prompt=You+enjoy+having+a+good+conversation.&voice_prompt=NATF2.pt`;
    const session = await openAuthenticated(client);
    const record = await bridgeSessionWith(bridge.origin, id);
    expect(record.query).toBe(client);
    session.ws.close(1000);
  });

  it("sends the caller's subject in X-Voice-Subject and drops a copy the client sent", async () => {
    const id = marker();
    const token = await hs256({ sub: "user-42" });
    const session = await expectOpen(wsUrl(withSessionOptions(id)), {
      protocols: ["voice.v1", `bearer.${token}`],
      headers: { Origin: APP_ORIGIN, "X-Voice-Subject": "admin" },
    });
    const record = await bridgeSessionWith(bridge.origin, id);
    expect(record.headers["x-voice-subject"]).toBe("user-42");
    session.ws.close(1000);
  });

  it("presents the Access service token from the Worker's secrets, never the client's", async () => {
    const id = marker();
    const session = await openAuthenticated(withSessionOptions(id), {
      headers: { "CF-Access-Client-Id": "spoofed", "CF-Access-Client-Secret": "spoofed" },
    });
    const record = await bridgeSessionWith(bridge.origin, id);
    expect(record.headers["cf-access-client-id"]).toBe(ACCESS_ID);
    expect(record.headers["cf-access-client-secret"]).toBe(ACCESS_SECRET);
    session.ws.close(1000);
  });

  it.each([
    [
      "Authorization header",
      async (t: string) => ({
        headers: { Authorization: `Bearer ${t}` },
        protocols: ["voice.v1"],
        query: "",
      }),
    ],
    [
      "subprotocol entry",
      async (t: string) => ({ headers: {}, protocols: ["voice.v1", `bearer.${t}`], query: "" }),
    ],
    [
      "cookie",
      async (t: string) => ({
        headers: { Cookie: `theme=dark; voice_token=${t}; lang=en` },
        protocols: ["voice.v1"],
        query: "",
      }),
    ],
    [
      "query parameter",
      async (t: string) => ({ headers: {}, protocols: ["voice.v1"], query: `&access_token=${t}` }),
    ],
  ])(
    "strips the token carried by the %s before the bridge sees the request",
    async (_transport, carry) => {
      const id = marker();
      const token = await hs256();
      const how = (await carry(token)) as {
        headers: Record<string, string>;
        protocols: string[];
        query: string;
      };
      const session = await expectOpen(wsUrl(`${withSessionOptions(id)}${how.query}`), {
        protocols: how.protocols,
        headers: { Origin: APP_ORIGIN, ...how.headers },
      });
      const record = await bridgeSessionWith(bridge.origin, id);
      expect(JSON.stringify(record)).not.toContain(token);
      expect(JSON.stringify(record)).not.toContain(token.split(".")[2]);
      expect(record.headers.authorization).toBeUndefined();
      expect(record.headers.cookie).toBeUndefined();
      expect(record.headers["x-voice-subject"]).toBe("alice");
      session.ws.close(1000);
    },
  );

  it("never writes a token, secret or query string to the log", async () => {
    const token = await hs256();
    const session = await openAuthenticated(
      `${withSessionOptions(marker())}&access_token=${token}`,
    );
    session.ws.close(1000);
    await session.closed;
    const log = edge.logs.join("\n");
    expect(log).toContain('"outcome":"connected"');
    for (const secret of [
      token,
      token.split(".")[2],
      TEST_SECRET,
      ACCESS_SECRET,
      "text_temperature",
    ])
      expect(log).not.toContain(secret);
  });

  it("logs one JSON line per upgrade with outcome, status, transport and time to 101", async () => {
    const before = edge.logs.length;
    const session = await openAuthenticated(withSessionOptions(marker()));
    session.ws.close(1000);
    await expect.poll(() => edge.logs.length).toBeGreaterThan(before);
    const line = JSON.parse(edge.logs[before]);
    expect(line).toMatchObject({
      event: "upgrade",
      outcome: "connected",
      status: 101,
      transport: "subprotocol",
      protocol: "voice.v1",
      colo: null,
    });
    expect(line.msTo101).toBeGreaterThanOrEqual(0);
  });
});

describe("subprotocols", () => {
  it("offers the bridge the client's protocols minus the bearer entry", async () => {
    const id = marker();
    const token = await hs256();
    const session = await expectOpen(wsUrl(withSessionOptions(id)), {
      protocols: ["voice.v1", `bearer.${token}`, "voice.v0"],
      headers: { Origin: APP_ORIGIN },
    });
    const record = await bridgeSessionWith(bridge.origin, id);
    expect(record.headers["sec-websocket-protocol"]).toBe("voice.v1, voice.v0");
    session.ws.close(1000);
  });

  it("selects the bridge's choice when the bridge made one", async () => {
    const session = await openAuthenticated(withSessionOptions(marker()), {
      protocols: ["voice.v2"],
    });
    expect(session.protocol).toBe("voice.v2");
    session.ws.close(1000);
  });

  it("selects the client's first application protocol when the bridge chose none", async () => {
    const session = await openAuthenticated(withSessionOptions(marker()), { protocols: ["chat"] });
    expect(session.protocol).toBe("voice.v1");
    session.ws.close(1000);
  });

  it("selects no protocol when the client offered none", async () => {
    const token = await hs256();
    const session = await expectOpen(wsUrl(withSessionOptions(marker())), {
      headers: { Origin: APP_ORIGIN, Authorization: `Bearer ${token}` },
    });
    expect(session.protocol).toBe("");
    session.ws.close(1000);
  });

  it("refuses a client that offered only a bearer entry with 400 subprotocol_required", async () => {
    const token = await hs256();
    const refusal = await expectRefused(wsUrl(), {
      protocols: [`bearer.${token}`],
      headers: { Origin: APP_ORIGIN },
    });
    expect(refusal.status).toBe(400);
    expect(refusal.body.error).toBe("subprotocol_required");
    expect(JSON.stringify(refusal)).not.toContain(token);
  });
});

describe("origins", () => {
  it("refuses a browser upgrade from another origin with 403 origin_not_allowed", async () => {
    const id = marker();
    const token = await hs256();
    const refusal = await expectRefused(wsUrl(withSessionOptions(id)), {
      protocols: ["voice.v1", `bearer.${token}`],
      headers: { Origin: "https://evil.example" },
    });
    expect(refusal.status).toBe(403);
    expect(refusal.body.error).toBe("origin_not_allowed");
  });

  it("treats an origin that differs only by port or scheme as another origin", async () => {
    const token = await hs256();
    for (const origin of [
      "https://app.example:8443",
      "http://app.example",
      "https://app.example.evil.test",
    ]) {
      const refusal = await expectRefused(wsUrl(), {
        protocols: ["voice.v1", `bearer.${token}`],
        headers: { Origin: origin },
      });
      expect(refusal.body.error).toBe("origin_not_allowed");
    }
  });

  it("lets a native client without Origin through where the config allows it", async () => {
    const token = await hs256();
    const session = await expectOpen(wsUrl(withSessionOptions(marker())), {
      headers: { Authorization: `Bearer ${token}` },
    });
    session.ws.close(1000);
  });
});

describe("routes", () => {
  it("answers /voice/ws without an upgrade with 426 and a JSON body naming websocket", async () => {
    const response = await fetch(`${edge.httpOrigin}/voice/ws`);
    expect(response.status).toBe(426);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({
      error: "upgrade_required",
      upgrade: "websocket",
    });
  });

  it.each(["POST", "PUT", "DELETE", "PATCH"])(
    "answers %s /voice/ws with 405 and Allow: GET",
    async (method) => {
      const response = await fetch(`${edge.httpOrigin}/voice/ws`, { method });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("GET");
      expect(await response.json()).toMatchObject({ error: "method_not_allowed" });
    },
  );

  it.each([
    "/voice/",
    "/voice/wss",
    "/voice/ws/",
    "/voice/api/chat/",
    "/voice/api/",
    "/voice/%77s",
  ])("answers %s with 404 JSON", async (path) => {
    const response = await fetch(`${edge.httpOrigin}${path}`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: "not_found" });
  });

  it("reports a healthy bridge with 200, in counts, with no names, addresses, statuses or secrets", async () => {
    const response = await fetch(`${edge.httpOrigin}/voice/health`, {
      headers: { Origin: "https://www.other-site.example" },
    });
    expect(response.status).toBe(200);
    // Readable from a page on another origin: the client kit asks it after a refused upgrade.
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    const text = await response.text();
    const body = JSON.parse(text);
    expect(body).toEqual({
      status: "ok",
      configured: true,
      auth: "jwt",
      bridges: { total: 1, up: 1, free: 1 },
      checkedMsAgo: expect.any(Number),
    });
    for (const leak of [
      'bridge"',
      "127.0.0.1",
      String(bridge.port),
      String(guard.port),
      TEST_SECRET,
      ACCESS_SECRET,
      ACCESS_ID,
    ])
      expect(text).not.toContain(leak);
  });
});

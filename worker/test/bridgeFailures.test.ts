import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import { APP_ORIGIN, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { expectRefusedSession, jwtEdgeConfig, startTestEdge } from "../../test/support/edge";
import { bridgeHealth, withSessionOptions } from "../../test/support/bridge";
import { hs256 } from "../../test/support/tokens";
import {
  answerQuery,
  healthUrl,
  startGuardAnswers,
  type GuardAnswers,
} from "./support/guardAnswers";

let bridge: StandinBridge;
let guard: GuardAnswers;
let atGuard: TestEdge;
const edges: TestEdge[] = [];

async function edgeInFrontOf(
  bridgeUrl: string,
  settings: Record<string, unknown> = {},
): Promise<TestEdge> {
  const edge = await startTestEdge({
    BRIDGE_URL: bridgeUrl,
    EDGE_CONFIG: jwtEdgeConfig(settings),
    JWT_SECRET: TEST_SECRET,
  });
  edges.push(edge);
  return edge;
}

beforeAll(async () => {
  [bridge, guard] = await Promise.all([startStandinBridge(), startGuardAnswers()]);
  atGuard = await edgeInFrontOf(`${guard.origin}/api/chat`);
});

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.dispose()));
  await Promise.all([bridge?.stop(), guard?.stop()]);
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function refusedSessionAt(edge: TestEdge, query = withSessionOptions()) {
  return expectRefusedSession(`${edge.wsOrigin}/voice/ws${query}`, {
    protocols: ["voice.v1", `bearer.${await hs256()}`],
    headers: { Origin: APP_ORIGIN },
  });
}

/** The edge's last log line, once it has written one. */
async function lastLogLine(edge: TestEdge): Promise<Record<string, unknown>> {
  await expect.poll(() => edge.logs.length).toBeGreaterThan(0);
  return JSON.parse(edge.logs.at(-1)!) as Record<string, unknown>;
}

const refusedUpgrade = (closeCode: number, error: string) => ({
  event: "upgrade",
  outcome: "refused",
  status: 101,
  error,
  closeCode,
});

const UNAVAILABLE = { error: "bridge_unavailable" };

describe("when the bridge fails after authentication, the page gets a 101 and a close code with a JSON reason", () => {
  it("closes with 1014 bridge_unavailable when nothing listens at the bridge URL", async () => {
    const edge = await edgeInFrontOf(`http://127.0.0.1:${await closedPort()}/api/chat`);
    const refused = await refusedSessionAt(edge);
    expect(refused).toMatchObject({ code: 1014, reason: UNAVAILABLE, protocol: "voice.v1" });
    expect(await lastLogLine(edge)).toMatchObject({
      ...refusedUpgrade(1014, "bridge_unavailable"),
      closeReason: UNAVAILABLE,
    });
  });

  it.each([403, 404, 500, 502, 504, 530, 200])(
    "closes with 1014 bridge_unavailable when the bridge answers the upgrade with %i, logging its status",
    async (status) => {
      const edge = await edgeInFrontOf(`${bridge.origin}/status/${status}`);
      const refused = await refusedSessionAt(edge);
      expect(refused).toMatchObject({ code: 1014, reason: UNAVAILABLE });
      expect(await lastLogLine(edge)).toMatchObject({
        ...refusedUpgrade(1014, "bridge_rejected"),
        bridgeStatus: status,
      });
    },
  );

  it("closes with 1014 when the bridge does not answer the upgrade within the bound, logging bridge_timeout", async () => {
    const edge = await edgeInFrontOf(`${bridge.origin}/hang`, { bridgeConnectTimeoutMs: 700 });
    const upgradesBefore = (await bridgeHealth(bridge.origin)).upgradesReceived;
    const refused = await refusedSessionAt(edge);
    expect(refused).toMatchObject({ code: 1014, reason: UNAVAILABLE });
    // bridge_timeout is logged only when the edge's own AbortSignal.timeout(bridgeConnectTimeoutMs) fired.
    expect(await lastLogLine(edge)).toMatchObject(refusedUpgrade(1014, "bridge_timeout"));
    // The upgrade reached the bridge, which never answered: the edge waited for it until that bound.
    expect((await bridgeHealth(bridge.origin)).upgradesReceived - upgradesBefore).toBe(1);
  });

  it.each<[string, number, string | undefined, unknown, number]>([
    ["503 with Retry-After: 7", 503, "7", { error: "bridge_busy", retryAfterS: 7 }, 7],
    ["429 with Retry-After: 12", 429, "12", {}, 12],
    ["503 with no Retry-After, the body's retryAfterS", 503, undefined, { retryAfterS: 9 }, 9],
    [
      "503 with no Retry-After, the guard's bridge_busy body",
      503,
      undefined,
      { error: "bridge_busy" },
      5,
    ],
    ["503 with an unreadable Retry-After", 503, "soon", {}, 5],
    ["503 with Retry-After: 0", 503, "0", {}, 1],
    ["503 with a Retry-After of a day", 503, "86400", {}, 300],
  ])(
    "closes with 1013 bridge_busy when the guard answers %s",
    async (_case, status, retryAfter, body, retryAfterS) => {
      const refused = await refusedSessionAt(atGuard, answerQuery(status, { retryAfter, body }));
      expect(refused.code).toBe(1013);
      expect(refused.reason).toEqual({ error: "bridge_busy", retryAfterS });
      expect(await lastLogLine(atGuard)).toMatchObject({
        ...refusedUpgrade(1013, "bridge_busy"),
        bridgeStatus: status,
        closeReason: { error: "bridge_busy", retryAfterS },
      });
    },
  );

  it.each<[string, unknown]>([
    ["no body", ""],
    ["the guard's body for a server that is down", { error: "bridge_unavailable" }],
  ])(
    "closes with 1014 bridge_unavailable when the guard answers 503 with no Retry-After and %s",
    async (_case, body) => {
      const refused = await refusedSessionAt(atGuard, answerQuery(503, { body }));
      expect(refused).toMatchObject({ code: 1014, reason: UNAVAILABLE });
      expect(await lastLogLine(atGuard)).toMatchObject({
        ...refusedUpgrade(1014, "bridge_rejected"),
        bridgeStatus: 503,
      });
    },
  );

  it.each(["text_prompt", "voice_prompt", "seed"])(
    "closes with 4400 session_options_invalid naming %s when the guard refuses it",
    async (parameter) => {
      const body = { error: "session_options_invalid", parameter };
      const refused = await refusedSessionAt(atGuard, answerQuery(400, { body }));
      expect(refused).toMatchObject({ code: 4400, reason: body });
      expect(await lastLogLine(atGuard)).toMatchObject(
        refusedUpgrade(4400, "session_options_invalid"),
      );
    },
  );

  it.each<[string, unknown]>([
    ["an unknown parameter", { error: "session_options_invalid", parameter: "<img src=x>" }],
    ["another error code", { error: "whatever", parameter: "text_prompt" }],
    ["free text", "text_prompt is missing, see http://10.0.0.5/help"],
  ])(
    "passes no free text from the bridge: a 400 with %s closes with 4400 and no parameter",
    async (_case, body) => {
      const refused = await refusedSessionAt(atGuard, answerQuery(400, { body }));
      expect(refused).toMatchObject({ code: 4400 });
      expect(refused.reason).toEqual({ error: "session_options_invalid" });
    },
  );

  it("keeps every reason within a close frame's 123 bytes and selects the offered subprotocol", async () => {
    const refused = await refusedSessionAt(
      atGuard,
      answerQuery(400, { body: { error: "session_options_invalid", parameter: "voice_prompt" } }),
    );
    expect(Buffer.byteLength(refused.rawReason)).toBeLessThanOrEqual(123);
    expect(refused.headers["sec-websocket-protocol"]).toBe("voice.v1");
    // The refusal reached the guard without the client's compression offer.
    const [received] = (await guard.upgrades()).slice(-1);
    expect(received.headers["sec-websocket-extensions"]).toBeUndefined();
  });

  it("answers a client that offered no subprotocol with a 101 that selects none", async () => {
    const refused = await expectRefusedSession(
      `${atGuard.wsOrigin}/voice/ws${answerQuery(503, { retryAfter: "3" })}`,
      { headers: { Origin: APP_ORIGIN, Authorization: `Bearer ${await hs256()}` } },
    );
    expect(refused).toMatchObject({ code: 1013, protocol: "" });
    expect(refused.headers["sec-websocket-protocol"]).toBeUndefined();
  });
});

describe("health", () => {
  const guardUp = (sessions: number, capacity: number, extra: object = {}) => ({
    up: true,
    sessions,
    capacity,
    ...extra,
  });

  /** The `health_probe` log line's entry for the one bridge (`BRIDGE_URL` names it `bridge`). */
  async function probeLogged(edge: TestEdge): Promise<Record<string, unknown>> {
    await expect
      .poll(() => edge.logs.filter((line) => line.includes('"health_probe"')).length)
      .toBe(1);
    const line = JSON.parse(edge.logs.find((l) => l.includes('"health_probe"'))!) as {
      bridges: Record<string, unknown>[];
    };
    expect(line.bridges).toHaveLength(1);
    return line.bridges[0];
  }

  it.each<[string, number, unknown, number, Record<string, unknown>]>([
    ["a guard with a free slot", 200, guardUp(0, 1), 200, { status: "ok", up: 1, free: 1 }],
    ["a guard at capacity", 200, guardUp(1, 1), 200, { status: "busy", up: 1, free: 0 }],
    [
      "a draining guard",
      200,
      guardUp(0, 1, { draining: true }),
      200,
      { status: "busy", up: 1, free: 0 },
    ],
    [
      "a health URL that answers 200 without the guard's JSON",
      200,
      "ok",
      200,
      { status: "ok", up: 1, free: 1 },
    ],
    [
      "a guard whose server is down",
      200,
      { up: false, sessions: 0, capacity: 1 },
      503,
      { status: "bridge_down", up: 0, free: 0 },
    ],
    ["a guard answering 503", 503, { up: false }, 503, { status: "bridge_down", up: 0, free: 0 }],
  ])(
    "reports %s in counts, and logs the guard's answer",
    async (_case, status, body, expectedStatus, expected) => {
      const edge = await edgeInFrontOf(`${guard.origin}/api/chat`, {
        bridgeHealthUrl: healthUrl(guard.origin, status, body),
      });
      const response = await fetch(`${edge.httpOrigin}/voice/health`);
      expect(response.status).toBe(expectedStatus);
      const answer = (await response.json()) as Record<string, unknown>;
      expect(answer).toEqual({
        status: expected.status,
        configured: true,
        auth: "jwt",
        bridges: { total: 1, up: expected.up, free: expected.free },
        checkedMsAgo: expect.any(Number),
        ...(expectedStatus === 503 ? { error: "bridge_unavailable" } : {}),
      });
      expect(await probeLogged(edge)).toMatchObject({
        bridge: "bridge",
        reachable: expectedStatus === 200,
        status,
      });
    },
  );

  it("logs how many sessions the guard holds and its capacity when busy; the page sees counts", async () => {
    const edge = await edgeInFrontOf(`${guard.origin}/api/chat`, {
      bridgeHealthUrl: healthUrl(guard.origin, 200, guardUp(2, 2)),
    });
    const response = await fetch(`${edge.httpOrigin}/voice/health`);
    expect(await response.json()).toMatchObject({
      status: "busy",
      bridges: { total: 1, up: 1, free: 0 },
    });
    expect(await probeLogged(edge)).toMatchObject({
      reachable: true,
      busy: true,
      sessions: 2,
      capacity: 2,
    });
  });

  it("answers 503 with bridge_down when the bridge's health URL refuses connections", async () => {
    const edge = await edgeInFrontOf(`http://127.0.0.1:${await closedPort()}/api/chat`);
    const response = await fetch(`${edge.httpOrigin}/voice/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      status: "bridge_down",
      configured: true,
      error: "bridge_unavailable",
      bridges: { total: 1, up: 0, free: 0 },
    });
    expect(await probeLogged(edge)).toMatchObject({ reachable: false });
  });

  it("answers 503 within the bound when the bridge's health URL hangs", async () => {
    const edge = await edgeInFrontOf(`${bridge.origin}/api/chat`, {
      bridgeHealthUrl: `${bridge.origin}/hang`,
      healthTimeoutMs: 600,
    });
    const response = await fetch(`${edge.httpOrigin}/voice/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: "bridge_down" });
    // timedOut: the probe's own AbortSignal.timeout(healthTimeoutMs) ended it, at the bound it received.
    const line = JSON.parse(edge.logs.find((l) => l.includes('"health_probe"'))!) as object;
    expect(line).toMatchObject({ timeoutMs: 600, bridges: [{ reachable: false, timedOut: true }] });
  });

  it("answers 503 when the bridge's health URL answers with an error status, which only the log names", async () => {
    const edge = await edgeInFrontOf(`${bridge.origin}/api/chat`, {
      bridgeHealthUrl: `${bridge.origin}/status/500`,
    });
    const response = await fetch(`${edge.httpOrigin}/voice/health`);
    expect(response.status).toBe(503);
    const { checkedMsAgo: _, ...answer } = (await response.json()) as Record<string, unknown>;
    expect(JSON.stringify(answer)).not.toContain("500");
    expect(await probeLogged(edge)).toMatchObject({ reachable: false, status: 500 });
  });
});

describe("health over a fleet with hanging bridges", () => {
  it("probes at most six guards at once (a Worker's open-connection limit), each timed from its own start", async () => {
    // Holds every health request unanswered and counts how many it holds at once.
    let holding = 0;
    let mostAtOnce = 0;
    const hung = createHttpServer((request) => {
      holding++;
      mostAtOnce = Math.max(mostAtOnce, holding);
      request.socket.once("close", () => holding--);
    });
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    const hungOrigin = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
    try {
      const hanging = Array.from({ length: 8 }, (_, i) => ({
        name: `gpu-${i + 1}`,
        url: `${hungOrigin}/api/chat`,
        healthUrl: `${hungOrigin}/health`,
      }));
      const free = {
        name: "gpu-9",
        url: `${guard.origin}/api/chat`,
        healthUrl: healthUrl(guard.origin, 200, { up: true, sessions: 0, capacity: 1 }),
      };
      const edge = await startTestEdge({
        BRIDGES: [...hanging, free],
        EDGE_CONFIG: jwtEdgeConfig({ healthTimeoutMs: 400 }),
        JWT_SECRET: TEST_SECRET,
      });
      edges.push(edge);
      const response = await fetch(`${edge.httpOrigin}/voice/health`);
      expect(await response.json()).toMatchObject({
        status: "ok",
        bridges: { total: 9, up: 1, free: 1 },
      });
      expect(mostAtOnce).toBe(6);
    } finally {
      hung.closeAllConnections();
      await new Promise((resolve) => hung.close(resolve));
    }
  });
});

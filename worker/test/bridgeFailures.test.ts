import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import { APP_ORIGIN, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { expectRefused, jwtEdgeConfig, startTestEdge } from "../../test/support/edge";
import { bridgeHealth } from "../../test/support/bridge";
import { hs256 } from "../../test/support/tokens";

let bridge: StandinBridge;
const edges: TestEdge[] = [];

beforeAll(async () => {
  bridge = await startStandinBridge();
});

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.dispose()));
  await bridge?.stop();
});

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

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function refusalFrom(edge: TestEdge) {
  return expectRefused(`${edge.wsOrigin}/voice/ws`, {
    protocols: ["voice.v1", `bearer.${await hs256()}`],
    headers: { Origin: APP_ORIGIN },
  });
}

/** The edge's last log line, once it has written one. */
async function lastLogLine(edge: TestEdge): Promise<Record<string, unknown>> {
  await expect.poll(() => edge.logs.length).toBeGreaterThan(0);
  return JSON.parse(edge.logs.at(-1)!) as Record<string, unknown>;
}

const refusedUpgrade = (status: number, error: string) => ({
  event: "upgrade",
  outcome: "refused",
  status,
  error,
});

describe("when the bridge fails, the client gets a precise answer, never a hang or a stack trace", () => {
  it("answers 502 bridge_unavailable when nothing listens at the bridge URL", async () => {
    const edge = await edgeInFrontOf(`http://127.0.0.1:${await closedPort()}/api/chat`);
    const refusal = await refusalFrom(edge);
    expect(refusal.status).toBe(502);
    expect(refusal.body).toEqual({ error: "bridge_unavailable", message: expect.any(String) });
  });

  it.each([403, 404, 500, 200])(
    "answers 502 bridge_rejected with the status when the bridge answers the upgrade with %i",
    async (status) => {
      const edge = await edgeInFrontOf(`${bridge.origin}/status/${status}`);
      const refusal = await refusalFrom(edge);
      expect(refusal.status).toBe(502);
      expect(refusal.body).toMatchObject({ error: "bridge_rejected", bridgeStatus: status });
    },
  );

  it("answers 504 bridge_timeout when the bridge does not answer the upgrade within the bound", async () => {
    const edge = await edgeInFrontOf(`${bridge.origin}/hang`, { bridgeConnectTimeoutMs: 700 });
    const upgradesBefore = (await bridgeHealth(bridge.origin)).upgradesReceived;
    const refusal = await refusalFrom(edge);
    // bridge_timeout is the edge's answer only when its own AbortSignal.timeout(bridgeConnectTimeoutMs) fired.
    expect(refusal.status).toBe(504);
    expect(refusal.body.error).toBe("bridge_timeout");
    // The upgrade reached the bridge, which never answered: the edge waited for it until that bound.
    expect((await bridgeHealth(bridge.origin)).upgradesReceived - upgradesBefore).toBe(1);
    expect(await lastLogLine(edge)).toMatchObject(refusedUpgrade(504, "bridge_timeout"));
  });

  it("logs the failed attempt with its error code and status", async () => {
    const edge = await edgeInFrontOf(`${bridge.origin}/status/403`);
    await refusalFrom(edge);
    expect(await lastLogLine(edge)).toMatchObject({
      ...refusedUpgrade(502, "bridge_rejected"),
      bridgeStatus: 403,
    });
  });
});

describe("health", () => {
  it("answers 503 with bridge_down when the bridge's health URL refuses connections", async () => {
    const edge = await edgeInFrontOf(`http://127.0.0.1:${await closedPort()}/api/chat`);
    const response = await fetch(`${edge.httpOrigin}/voice/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      status: "bridge_down",
      configured: true,
      error: "bridge_unavailable",
      bridge: { reachable: false },
    });
  });

  it("answers 503 within the bound when the bridge's health URL hangs", async () => {
    const edge = await edgeInFrontOf(`${bridge.origin}/api/chat`, {
      bridgeHealthUrl: `${bridge.origin}/hang`,
      healthTimeoutMs: 600,
    });
    const response = await fetch(`${edge.httpOrigin}/voice/health`);
    expect(response.status).toBe(503);
    // timedOut: the probe's own AbortSignal.timeout(healthTimeoutMs) ended it, at the bound it received.
    expect(await response.json()).toMatchObject({
      status: "bridge_down",
      bridge: { reachable: false, timedOut: true, timeoutMs: 600 },
    });
  });

  it("answers 503 when the bridge's health URL answers with an error status", async () => {
    const edge = await edgeInFrontOf(`${bridge.origin}/api/chat`, {
      bridgeHealthUrl: `${bridge.origin}/status/500`,
    });
    const response = await fetch(`${edge.httpOrigin}/voice/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ bridge: { reachable: false, status: 500 } });
  });
});

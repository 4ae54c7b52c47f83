import { startStandinBridge, type StandinBridge } from "../tools/lib/bridgeProcess";
import { pidListeningOn, rssBytes } from "../test/support/processes";
import { bridgeReaches, withSessionOptions } from "../test/support/bridge";
import { jwtEdgeConfig, startTestEdge, TEST_SECRET, type TestEdge } from "../test/support/edge";
import { startJwksServer, type JwksServer } from "../test/support/jwks";

export const ACCESS_CLIENT_ID = "soak-access-client.access";
export const ACCESS_CLIENT_SECRET = "soak-access-client-secret-value";

/** The production bundle in workerd in front of the stand-in bridge, as the load, fault and abuse runs use it. */
export interface Harness {
  bridge: StandinBridge;
  edge: TestEdge;
  jwks: JwksServer;
  /** ws://127.0.0.1:<port>/voice/ws?<session options>: add parameters with `&`. */
  wsUrl: string;
  edgePort: number;
  /** The edge's EDGE_CONFIG as given to workerd. */
  settings: ReturnType<typeof jwtEdgeConfig>;
  /** The workerd process serving the edge. */
  workerdPid: number;
  edgeRss(): number;
  /** SIGKILLs the bridge (no close frames, no FIN from a graceful shutdown) and waits for it to be gone. */
  killBridge(): Promise<void>;
  /** Starts a new stand-in bridge on the same port. */
  restartBridge(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * HS256 and RS256 (keys from a loopback JWKS), Access service-token secrets set so spoofed copies
 * can be told apart, clients without Origin allowed (as native clients), and `edgeSettings`
 * over the test defaults (bridgeConnectTimeoutMs 1000).
 */
export async function startHarness(edgeSettings: Record<string, unknown> = {}): Promise<Harness> {
  const [bridge, jwks] = await Promise.all([startStandinBridge(), startJwksServer()]);
  const settings = jwtEdgeConfig(edgeSettings, {
    algorithms: ["HS256", "RS256"],
    jwksUrl: jwks.url,
  });
  const edge = await startTestEdge({
    BRIDGE_URL: `${bridge.origin}/api/chat`,
    EDGE_CONFIG: settings,
    JWT_SECRET: TEST_SECRET,
    BRIDGE_ACCESS_CLIENT_ID: ACCESS_CLIENT_ID,
    BRIDGE_ACCESS_CLIENT_SECRET: ACCESS_CLIENT_SECRET,
  });
  const edgePort = Number(edge.edge.url.port);
  const workerdPid = pidListeningOn(edgePort);
  const harness: Harness = {
    bridge,
    edge,
    jwks,
    wsUrl: `${edge.wsOrigin}/voice/ws${withSessionOptions()}`,
    edgePort,
    settings,
    workerdPid,
    edgeRss: () => rssBytes(workerdPid),
    async killBridge() {
      const child = harness.bridge.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      });
    },
    async restartBridge() {
      harness.bridge = await startStandinBridge({ port: harness.bridge.port });
    },
    async dispose() {
      await edge.dispose();
      await Promise.all([harness.bridge.stop(), jwks.close()]);
    },
  };
  return harness;
}

/** Waits until the bridge holds no session; the milliseconds it took. */
export function bridgeDrains(h: Harness, withinMs: number): Promise<number> {
  return bridgeReaches(h.bridge.origin, (health) => health.openSessions === 0, withinMs);
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import { bridgeHealth, bridgeSessionWith, marker } from "../../test/support/bridge";
import { APP_ORIGIN, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { expectOpen, expectRefused, expectRefusedSession } from "../../test/support/edge";
import { jwtEdgeConfig, startTestEdge } from "../../test/support/edge";
import { hs256 } from "../../test/support/tokens";
import { SPLIT_QUERIES } from "../../test/support/splitQueries";

let bridge: StandinBridge;
let edge: TestEdge;

beforeAll(async () => {
  bridge = await startStandinBridge();
  edge = await startTestEdge({
    BRIDGE_URL: `${bridge.origin}/api/chat`,
    EDGE_CONFIG: jwtEdgeConfig(),
    JWT_SECRET: TEST_SECRET,
  });
});

afterAll(async () => {
  await edge?.dispose();
  await bridge?.stop();
});

const wsUrl = (query: string) => `${edge.wsOrigin}/voice/ws?${query}`;
const asPage = async (token?: string) => ({
  protocols: ["voice.v1", `bearer.${token ?? (await hs256())}`],
  headers: { Origin: APP_ORIGIN },
});

/** The one `upgrade` line written since `from`. */
async function upgradeLine(from: number): Promise<Record<string, unknown>> {
  const lines = () => edge.logs.slice(from).filter((line) => line.includes('"event":"upgrade"'));
  await expect.poll(() => lines().length).toBe(1);
  return JSON.parse(lines()[0]) as Record<string, unknown>;
}

/** Every upgrade the stand-in bridge has received, on any path. */
const bridgeUpgrades = async () => (await bridgeHealth(bridge.origin)).upgradesReceived;

describe("a query the guard and the server would read differently never reaches a bridge", () => {
  it.each([
    // The table: the guard (HAProxy) admitted each, the server (aiohttp) read another query.
    ...SPLIT_QUERIES.map(({ query, edge }) => [query, edge.parameter, edge.problem]),
    // Missing and repeated options.
    ["voice_prompt=NATF0.pt", "text_prompt", "missing"],
    ["text_prompt=hi&voice_prompt=NATF0.pt&voice_prompt=NATF1.pt", "voice_prompt", "repeated"],
    ["text_prompt=hi&voice_prompt=NATF0.pt&text%5Fprompt=again", "text_prompt", "repeated"],
  ])(
    "%s: 101 and close 4400 naming %s (%s), no bridge tried",
    async (query, parameter, problem) => {
      const before = await bridgeUpgrades();
      const from = edge.logs.length;
      const refused = await expectRefusedSession(wsUrl(query), await asPage());
      expect(refused.code).toBe(4400);
      expect(refused.reason).toEqual({ error: "session_options_invalid", parameter });
      expect(refused.protocol).toBe("voice.v1");

      const line = await upgradeLine(from);
      expect(line).toMatchObject({
        outcome: "refused",
        status: 101,
        transport: "subprotocol",
        error: "session_options_invalid",
        parameter,
        problem,
        closeCode: 4400,
        closeReason: { error: "session_options_invalid", parameter },
        tries: [],
      });
      // The line names the parameter and the reason, never a value of the query.
      expect(JSON.stringify(line)).not.toMatch(/NATF|passwd|x\.pt|root|hi|again|%|\?|;/);
      expect(await bridgeUpgrades()).toBe(before);
    },
  );

  it("authenticates first: a bad token with a bad query is a 401, and still no bridge is tried", async () => {
    const before = await bridgeUpgrades();
    const refusal = await expectRefused(
      wsUrl("text_prompt=hi&voice_prompt=../x.pt"),
      await asPage("x.y.z"),
    );
    expect(refusal.status).toBe(401);
    expect(await bridgeUpgrades()).toBe(before);
  });
});

describe("a valid query reaches the bridge re-encoded, never as the page's bytes", () => {
  it("sends `;`, `?` and a stray `%` percent-encoded, so every reader sees the same parameters", async () => {
    const id = marker();
    const session = await expectOpen(
      wsUrl(`${id}&text_prompt=hi;there?&voice_prompt=NATF0.pt&note=%&z=%zz+1`),
      await asPage(),
    );
    const record = await bridgeSessionWith(bridge.origin, id);
    expect(record.query).toBe(
      `?${id}=&text_prompt=hi%3Bthere%3F&voice_prompt=NATF0.pt&note=%25&z=%25zz+1`,
    );
    session.ws.close(1000);
  });

  it("takes the token parameter out whatever its spelling before reading the options", async () => {
    const id = marker();
    const token = await hs256();
    const session = await expectOpen(
      wsUrl(`text_prompt=hi&access%5Ftoken=${token}&voice_prompt=NATF0.pt&${id}`),
      { headers: { Origin: APP_ORIGIN } },
    );
    const record = await bridgeSessionWith(bridge.origin, id);
    expect(record.query).toBe(`?text_prompt=hi&voice_prompt=NATF0.pt&${id}=`);
    session.ws.close(1000);
  });
});

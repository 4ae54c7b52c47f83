import { afterAll, beforeAll, expect, it } from "vitest";
import { PERSONAPLEX_QUERY } from "../../test/support/bridge";
import {
  APP_ORIGIN,
  expectOpen,
  expectRefusedSession,
  jwtEdgeConfig,
  TEST_SECRET,
  type TestEdge,
} from "../../test/support/edge";
import { startGuardedFleet, type GuardedFleet } from "../../test/support/guardedFleet";
import { startLineEdge } from "../../test/support/lineEdge";
import { hs256 } from "../../test/support/tokens";

/**
 * A bridge that crashes under a live session, with nobody in line (the coordinator reads the guards
 * only at its slow pace): the page that reconnects at once is not refused for the session that
 * died. The edge and the line script in workerd, two personaplex stand-ins behind real guards.
 */

let guarded: GuardedFleet;
let edge: TestEdge;

beforeAll(async () => {
  guarded = await startGuardedFleet({
    names: ["gpu-1", "gpu-2"],
    voices: ["NATF2.pt"],
    promptDelayMs: 50,
  });
  edge = await startLineEdge({
    edgeBindings: {
      BRIDGES: guarded.binding,
      EDGE_CONFIG: jwtEdgeConfig({ bridgeConnectTimeoutMs: 2_000 }),
      JWT_SECRET: TEST_SECRET,
    },
    lineBindings: { BRIDGES: guarded.binding, LINE_CONFIG: { maxWaiting: 4 } },
  });
}, 90_000);

afterAll(async () => {
  await edge?.dispose();
  await guarded?.stop();
});

async function session(subject: string) {
  const open = await expectOpen(`${edge.wsOrigin}/voice/ws?${PERSONAPLEX_QUERY}`, {
    protocols: ["voice.v1", `bearer.${await hs256({ sub: subject })}`],
    headers: { Origin: APP_ORIGIN },
  });
  expect([...(await open.next(10_000)).data]).toEqual([0x00]);
  return open;
}

function servedBy(from: number): string[] {
  return edge.logs
    .slice(from)
    .filter((line) => line.includes('"event":"upgrade"'))
    .map((line) => JSON.parse(line) as { bridge?: string; closeCode?: number })
    .map((line) => line.bridge ?? `refused ${line.closeCode}`);
}

it("serves a page whose bridge crashed mid-session again at once, on the other bridge (not 4409 for the dead session)", async () => {
  const from = edge.logs.length;
  const first = await session("crash-victim");
  await expect.poll(() => servedBy(from).length).toBe(1);
  const [bridgeName] = servedBy(from);
  const crashed = guarded.bridges.find(({ name }) => name === bridgeName)!;
  crashed.server.process.kill("SIGKILL");
  await first.closed;

  const again = await session("crash-victim");
  await expect.poll(() => servedBy(from).length).toBe(2);
  expect(servedBy(from)[1]).toBe(guarded.bridges.find(({ name }) => name !== bridgeName)!.name);
  again.ws.close(1000);
  await again.closed;
});

it("tells a page 1014 bridge_unavailable, not busy with a place in line, once every bridge is down", async () => {
  for (const { server } of guarded.bridges) server.process.kill("SIGKILL");
  const answers: number[] = [];
  // A bridge it believes held counts as busy until its guard says otherwise (the next poll).
  for (let attempt = 0; attempt < 20 && answers.at(-1) !== 1014; attempt++) {
    const refusal = await expectRefusedSession(`${edge.wsOrigin}/voice/ws?${PERSONAPLEX_QUERY}`, {
      protocols: ["voice.v1", `bearer.${await hs256({ sub: "after-the-outage" })}`],
      headers: { Origin: APP_ORIGIN },
    });
    answers.push(refusal.code);
    if (refusal.code === 1014) expect(refusal.reason).toEqual({ error: "bridge_unavailable" });
    else await new Promise((resolve) => setTimeout(resolve, 500));
  }
  expect(answers.at(-1)).toBe(1014);
  expect(answers.every((code) => code === 1013 || code === 1014)).toBe(true);
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { jwtEdgeConfig, TEST_SECRET, type TestEdge } from "../test/support/edge";
import { startGuardedFleet, type GuardedFleet } from "../test/support/guardedFleet";
import { startLineEdge } from "../test/support/lineEdge";
import { hs256 } from "../test/support/tokens";
import { PERSONAPLEX_QUERY } from "../test/support/bridge";
import { connectVoice, type ConnectVoiceOptions, type VoiceState } from "./voice";

/**
 * The kit in Node (the `ws` package as its WebSocket) against the edge and the line script in
 * workerd, one personaplex stand-in behind a real guard: a page that gets in, a second page that
 * waits in line and gets in when the first ends, and a 4400 from the edge's own query check.
 */
let fleet: GuardedFleet;
let edge: TestEdge;

beforeAll(async () => {
  fleet = await startGuardedFleet({ names: ["gpu-1"], voices: ["NATF2.pt"], promptDelayMs: 50 });
  edge = await startLineEdge({
    edgeBindings: { BRIDGES: fleet.binding, EDGE_CONFIG: jwtEdgeConfig(), JWT_SECRET: TEST_SECRET },
    lineBindings: { BRIDGES: fleet.binding, LINE_CONFIG: { holdSeconds: 10 } },
  });
}, 90_000);

afterAll(async () => {
  await edge?.dispose();
  await fleet?.stop();
});

function page(
  subject: string,
  query: Record<string, string> = Object.fromEntries(new URLSearchParams(PERSONAPLEX_QUERY)),
) {
  const states: VoiceState[] = [];
  let tokens = 0;
  const frames: Uint8Array[] = [];
  /** The first state that `matches`, within `ms`. */
  const reached = (
    name: VoiceState["state"],
    matches: (state: VoiceState) => boolean = () => true,
    ms = 20_000,
  ) =>
    new Promise<VoiceState>((resolve, reject) => {
      const check = setInterval(() => {
        const found = states.find((state) => state.state === name && matches(state));
        if (!found) return;
        clearInterval(check);
        clearTimeout(timer);
        resolve(found);
      }, 20);
      const timer = setTimeout(() => {
        clearInterval(check);
        reject(new Error(`${subject}: no ${name} within ${ms} ms: ${JSON.stringify(states)}`));
      }, ms);
    });
  const connection = connectVoice({
    url: `${edge.wsOrigin}/voice/ws`,
    query,
    getToken: () => {
      tokens += 1;
      return hs256({ sub: subject });
    },
    onState: (state) => states.push(state),
    onFrame: (frame) => frames.push(frame),
    WebSocket: WebSocket as unknown as ConnectVoiceOptions["WebSocket"],
  });
  return { connection, states, frames, reached, tokens: () => tokens };
}

describe("the kit against the edge in workerd", () => {
  it("gets in, waits in line while the bridge is taken, and gets in with its turn's ticket", async () => {
    const first = page("alice");
    await first.reached("ready");
    first.connection.send(new Uint8Array([0x01, 1, 2, 3]));
    await first.reached("live");
    expect(first.frames.length).toBeGreaterThan(0);

    const second = page("bob");
    const waiting = await second.reached("waiting");
    expect(waiting).toMatchObject({ state: "waiting", retryInS: null });
    await second.reached("waiting", (state) => state.state === "waiting" && state.position === 1);
    first.connection.close();
    expect(await first.connection.done).toEqual({ state: "closed", closeCode: 1000 });
    await second.reached("ready");
    // A token for each socket: the voice socket, the line, the voice socket with the ticket.
    expect(second.tokens()).toBe(3);
    second.connection.close();
    await second.connection.done;
  }, 60_000);

  it("fails session_options_invalid naming the parameter, with no retry", async () => {
    const bad = page("carol", { text_prompt: "hi", voice_prompt: "../x.pt" });
    const done = await bad.connection.done;
    expect(done).toEqual({
      state: "failed",
      reason: "session_options_invalid",
      closeCode: 4400,
      detail: { parameter: "voice_prompt" },
    });
    expect(bad.tokens()).toBe(1);
  }, 30_000);
});

import { randomBytes } from "node:crypto";
import {
  bridgeHealth,
  bridgeSessionWith,
  marker,
  withSessionOptions,
} from "../test/support/bridge";
import {
  startTestEdge,
  TEST_SECRET,
  upgrade,
  expectOpen,
  jwtEdgeConfig,
  type OpenSession,
} from "../test/support/edge";
import { rawRequest, upgradeHead } from "../test/support/rawHttp";
import { carryToken, hs256 } from "../test/support/tokens";
import type { Harness } from "./harness";
import { summarize, type Summary } from "../test/support/stats";

const FRAME_BYTES = 640;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a session the way a browser does and waits for the bridge's 0x00 frame. */
async function openSession(url: string): Promise<OpenSession> {
  const carried = carryToken(url, await hs256(), "subprotocol");
  const session = await expectOpen(carried.url, {
    protocols: carried.protocols,
    headers: carried.headers,
  });
  await session.next();
  return session;
}

/**
 * One upgrade attempt with `token` (an HS256 one by default), as "101" (a session whose first event
 * is a frame), "<close code> <reason's error>" (a 101 the edge closed at once: the bridge did not take
 * it) or "<status> <error>" (an HTTP refusal), and how long it took.
 */
async function attempt(url: string, token?: string): Promise<{ answer: string; ms: number }> {
  const carried = carryToken(url, token ?? (await hs256()), "subprotocol");
  const started = performance.now();
  const result = await upgrade(carried.url, {
    protocols: carried.protocols,
    headers: carried.headers,
  });
  const ms = performance.now() - started;
  if (result.kind === "open") {
    const { session } = result;
    const first = await Promise.race([
      session.closed,
      session.next(15_000).then(
        () => null,
        () => null,
      ),
    ]);
    session.ws.close(1000);
    if (first === null) return { answer: "101", ms };
    let error = "";
    try {
      error = (JSON.parse(first.reason) as { error?: string }).error ?? "";
    } catch {
      // a close without a JSON reason: the code alone
    }
    return { answer: `${first.code} ${error}`.trim(), ms };
  }
  return { answer: `${result.refusal.status} ${result.refusal.body.error ?? ""}`.trim(), ms };
}

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

export interface BridgeKillReport {
  sessions: number;
  /** Close code the clients got → how many. */
  closeCodes: Record<string, number>;
  /** From the SIGKILL to each client's close event. */
  closeMs: Summary;
  whileDown: { answers: Record<string, number>; maxMs: number };
  /** The first upgrade after the bridge listens again on its port, the edge untouched. */
  afterRestart: { answer: string; ms: number; echoed: boolean };
}

/**
 * Streams 640-byte frames every 20 ms on `sessions` sessions, SIGKILLs the bridge, and records
 * how each client is closed; then what new upgrades get while it is down, and after it is back.
 */
export async function bridgeKilledMidSession(
  h: Harness,
  options: { sessions: number; attemptsWhileDown: number },
): Promise<BridgeKillReport> {
  const sessions = await Promise.all(
    Array.from({ length: options.sessions }, () => openSession(h.wsUrl)),
  );
  const tickers = sessions.map((session) =>
    setInterval(
      () => session.ws.readyState === session.ws.OPEN && session.ws.send(randomBytes(FRAME_BYTES)),
      20,
    ),
  );
  await sleep(200);

  const killedAt = performance.now();
  const closes = sessions.map((session) =>
    session.closed.then(({ code }) => ({ code, ms: performance.now() - killedAt })),
  );
  await h.killBridge();
  const closed = await Promise.all(
    closes.map((close) =>
      Promise.race([close, sleep(30_000).then(() => ({ code: -1, ms: 30_000 }))]),
    ),
  );
  tickers.forEach(clearInterval);

  const whileDown: { answer: string; ms: number }[] = [];
  for (let i = 0; i < options.attemptsWhileDown; i++) whileDown.push(await attempt(h.wsUrl));

  await h.restartBridge();
  const first = await attempt(h.wsUrl);
  const session = await openSession(h.wsUrl);
  const frame = randomBytes(FRAME_BYTES);
  session.ws.send(frame);
  const echoed = (await session.next()).data.equals(frame);
  session.ws.close(1000);
  await session.closed;

  return {
    sessions: sessions.length,
    closeCodes: tally(closed.map(({ code }) => (code === -1 ? "none within 30 s" : String(code)))),
    closeMs: summarize(closed.map(({ ms }) => ms)),
    whileDown: {
      answers: tally(whileDown.map(({ answer }) => answer)),
      maxMs: Math.max(...whileDown.map(({ ms }) => ms)),
    },
    afterRestart: { ...first, echoed },
  };
}

export interface SlowBridgeReport {
  boundMs: number;
  /** The bridge answers the upgrade after `delayMs`, within the bound. */
  withinBound: { delayMs: number; answer: string; ms: number };
  /** The bridge answers the upgrade after `delayMs`, beyond the bound. */
  beyondBound: { delayMs: number; answer: string; ms: number };
  /** Bridge sessions open once the late upgrade would have been answered: an orphan the edge left behind. */
  openAfterLateAnswer: number;
}

/** The stand-in delays its 101 by `?standin_delay_ms`: once within the edge's bridgeConnectTimeoutMs, once beyond it. */
export async function slowBridge(
  h: Harness,
  options: { withinMs: number; beyondMs: number },
): Promise<SlowBridgeReport> {
  const within = await attempt(`${h.wsUrl}&standin_delay_ms=${options.withinMs}`);
  const beyond = await attempt(`${h.wsUrl}&standin_delay_ms=${options.beyondMs}`);
  await sleep(Math.max(0, options.beyondMs - beyond.ms) + 300);
  return {
    boundMs: Number(h.settings.bridgeConnectTimeoutMs),
    withinBound: { delayMs: options.withinMs, ...within },
    beyondBound: { delayMs: options.beyondMs, ...beyond },
    openAfterLateAnswer: (await bridgeHealth(h.bridge.origin)).openSessions,
  };
}

export interface VanishReport {
  how: "FIN" | "RST";
  /** From the client's socket going away to the bridge recording its session closed. */
  bridgeSawEndMs: number;
  bridgeCloseCode: number;
}

/** A client that disappears without a close frame: its TCP socket destroyed (FIN) or reset (RST). */
export async function clientVanishes(
  h: Harness,
  how: "FIN" | "RST",
  withinMs = 30_000,
): Promise<VanishReport> {
  const id = marker();
  const request = `${upgradeHead(`/voice/ws${withSessionOptions(id)}`)}Sec-WebSocket-Protocol: voice.v1, bearer.${await hs256()}\r\n\r\n`;
  const answer = await rawRequest(h.edgePort, request, { keepOpen: true });
  if (answer.status !== 101) throw new Error(`expected 101, got ${answer.statusLine}`);
  await bridgeSessionWith(h.bridge.origin, id);
  const gone = performance.now();
  if (how === "RST") answer.socket.resetAndDestroy();
  else answer.socket.destroy();
  const record = await bridgeSessionWith(h.bridge.origin, id, (s) => !s.open, withinMs);
  return {
    how,
    bridgeSawEndMs: performance.now() - gone,
    bridgeCloseCode: record.closed?.code ?? 0,
  };
}

export interface JwksOutageReport {
  jwksTimeoutMs: number;
  /** Keys fetched before the outage: RS256 upgrades while the JWKS hangs. */
  keysHeld: { answers: Record<string, number>; maxMs: number; jwksRequestsDuring: number };
  /** A fresh edge (no key held) while the JWKS hangs. */
  noKeyHeld: { answer: string; ms: number };
}

/** RS256 upgrades while the JWKS endpoint hangs, on the harness edge (keys held) and on a fresh edge (none held). */
export async function jwksOutage(
  h: Harness,
  options: { attempts: number },
): Promise<JwksOutageReport> {
  const rs256Attempt = async (url: string) => attempt(url, await h.jwks.sign());
  h.jwks.mode = "serve";
  const warm = await rs256Attempt(h.wsUrl);
  if (warm.answer !== "101") throw new Error(`RS256 upgrade with the JWKS up: ${warm.answer}`);
  h.jwks.mode = "hang";
  const before = h.jwks.requests;
  const held = [];
  for (let i = 0; i < options.attempts; i++) held.push(await rs256Attempt(h.wsUrl));
  const jwksRequestsDuring = h.jwks.requests - before;

  const jwksTimeoutMs = 500;
  const fresh = await startTestEdge({
    BRIDGE_URL: `${h.bridge.origin}/api/chat`,
    EDGE_CONFIG: jwtEdgeConfig({ jwksTimeoutMs }, { algorithms: ["RS256"], jwksUrl: h.jwks.url }),
    JWT_SECRET: TEST_SECRET,
  });
  try {
    const noKeyHeld = await rs256Attempt(`${fresh.wsOrigin}/voice/ws${withSessionOptions()}`);
    return {
      jwksTimeoutMs,
      keysHeld: {
        answers: tally(held.map(({ answer }) => answer)),
        maxMs: Math.max(...held.map(({ ms }) => ms)),
        jwksRequestsDuring,
      },
      noKeyHeld,
    };
  } finally {
    h.jwks.mode = "serve";
    await fresh.dispose();
  }
}

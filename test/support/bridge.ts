import type { IncomingHttpHeaders } from "node:http";
import WebSocket from "ws";
import { APP_ORIGIN } from "./edge";
import { hs256 } from "./tokens";

/**
 * Session options the real PersonaPlex server (and the personaplex stand-in) accepts: a text
 * prompt and a voice from its list. Without them it drops the connection right after the 101.
 */
export const PERSONAPLEX_QUERY = new URLSearchParams({
  text_prompt: "You enjoy having a good conversation.",
  voice_prompt: "NATF2.pt",
}).toString();

/**
 * `?`, then `parts` (a test's marker, a stand-in's instructions) and PERSONAPLEX_QUERY: a query the
 * edge admits (it refuses a session without valid options before any bridge is tried).
 */
export function withSessionOptions(...parts: string[]): string {
  return `?${[...parts, PERSONAPLEX_QUERY].join("&")}`;
}

/** What a page on the app's origin sends to `edge`: the URL with session options, a token, its Origin. */
export async function pageUpgrade(edge: { wsOrigin: string }, query = `?${PERSONAPLEX_QUERY}`) {
  return {
    url: `${edge.wsOrigin}/voice/ws${query}`,
    options: {
      protocols: ["voice.v1", `bearer.${await hs256()}`],
      headers: { Origin: APP_ORIGIN },
    },
  };
}

export interface StandinClient {
  ws: WebSocket;
  /** Every binary frame received so far, in order. */
  frames: Buffer[];
  /** Resolves with the next binary frame not yet taken; rejects if the socket closes first. */
  next(): Promise<Buffer>;
  /** Resolves on the 101. */
  opened: Promise<void>;
  /** Resolves with the close code the client saw (1006: the connection dropped without a close frame). */
  closed: Promise<number>;
}

/** A `ws` client that keeps every binary frame from the start (the 0x00 can come with the 101). */
export function standinClient(url: string, options: { ca?: Buffer } = {}): StandinClient {
  const ws = new WebSocket(url, { ca: options.ca, handshakeTimeout: 10_000 });
  const frames: Buffer[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  let ended = false;
  ws.on("message", (data, isBinary) => {
    if (!isBinary) return;
    frames.push(data as Buffer);
    wake?.();
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const closed = new Promise<number>((resolve) =>
    ws.once("close", (code) => {
      ended = true;
      wake?.();
      resolve(code);
    }),
  );
  const next = async (): Promise<Buffer> => {
    while (taken >= frames.length) {
      if (ended) throw new Error(`the socket closed after ${frames.length} frames`);
      await new Promise<void>((resolve) => (wake = resolve));
    }
    return frames[taken++];
  };
  return { ws, frames, next, opened, closed };
}

/** The echo stand-in's records (`--mode echo` only: the personaplex mode has no debug routes). */

export interface BridgeSessionRecord {
  id: number;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  protocol: string;
  framesReceived: number;
  open: boolean;
  closed: { code: number; reason: string } | null;
}

export async function bridgeSessions(bridgeOrigin: string): Promise<BridgeSessionRecord[]> {
  const response = await fetch(`${bridgeOrigin}/debug/sessions`);
  return (await response.json()) as BridgeSessionRecord[];
}

/** The bridge's record of the session whose query carried `marker`, waiting up to `withinMs` for it to appear (and satisfy `until`). */
export async function bridgeSessionWith(
  bridgeOrigin: string,
  marker: string,
  until: (s: BridgeSessionRecord) => boolean = () => true,
  withinMs = 5_000,
): Promise<BridgeSessionRecord> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const found = (await bridgeSessions(bridgeOrigin)).find((s) => s.query.includes(marker));
    if (found && until(found)) return found;
    if (Date.now() > deadline)
      throw new Error(
        `bridge has no session matching ${marker}${found ? " in the expected state" : ""}`,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
}

let counter = 0;
/** A unique query marker, to find this test's session among the bridge's records. */
export function marker(): string {
  return `t${process.pid}x${++counter}x${Date.now()}`;
}

export interface BridgeHealth {
  status: string;
  /** WebSocket sessions the bridge holds open right now. */
  openSessions: number;
  sessionsStarted: number;
  /** Every upgrade request that reached the bridge, on any path. */
  upgradesReceived: number;
}

export async function bridgeHealth(bridgeOrigin: string): Promise<BridgeHealth> {
  const response = await fetch(`${bridgeOrigin}/health`);
  return (await response.json()) as BridgeHealth;
}

/** Polls the bridge's health until `until` holds; resolves with the milliseconds it took, rejects after `withinMs`. */
export async function bridgeReaches(
  bridgeOrigin: string,
  until: (health: BridgeHealth) => boolean,
  withinMs: number,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    const health = await bridgeHealth(bridgeOrigin);
    if (until(health)) return performance.now() - started;
    if (performance.now() - started > withinMs)
      throw new Error(
        `bridge did not reach the expected state within ${withinMs} ms: ${JSON.stringify(health)}`,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
}

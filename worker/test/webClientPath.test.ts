import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { ChildProcess } from "node:child_process";
import type { Browser } from "playwright-core";
import { launchChromium } from "../../test/support/chromium";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEB_CLIENT_PATH, WS_PATH } from "../../worker/src/routes";
import { PERSONAPLEX_QUERY } from "../../test/support/bridge";
import {
  APP_ORIGIN,
  expectOpen,
  expectRefused,
  expectRefusedSession,
  jwtEdgeConfig,
  startTestEdge,
  TEST_SECRET,
  type TestEdge,
} from "../../test/support/edge";
import { startGuardedFleet, type GuardedFleet } from "../../test/support/guardedFleet";
import { startLineEdge } from "../../test/support/lineEdge";
import { hs256 } from "../../test/support/tokens";

/**
 * The stock PersonaPlex web client (NVIDIA/personaplex `client/`) through the edge, unchanged: it
 * connects to `<worker_addr>/api/chat`, so with `worker_addr` = `<site>/voice` it lands on
 * `/voice/api/chat`, which must answer exactly as `/voice/ws`. The edge in workerd, one PersonaPlex
 * stand-in behind its real guard (HAProxy), headless Chromium on a page whose backend sets the token
 * as a `__Host-` cookie (Chromium accepts `Secure` and `__Host-` cookies from http://127.0.0.1 and
 * http://localhost, and cookies ignore the port, so the edge on another port receives it).
 */

const TOKEN_COOKIE = "__Host-voice_token";
/** A site cookie the stack lets through to the bridge (`forwardCookies`): the token cookie must not go with it. */
const SITE_COOKIE = "theme=dark";
const VOICE = "NATF0.pt";

/** The option names the stock client puts in its URL (its `buildURL`), and nothing else. */
const CLIENT_OPTION_NAMES = [
  "text_temperature",
  "text_topk",
  "audio_temperature",
  "audio_topk",
  "pad_mult",
  "text_seed",
  "audio_seed",
  "repetition_penalty_context",
  "repetition_penalty",
  "text_prompt",
  "voice_prompt",
];

/** What one upgrade carried to the stand-in (its `upgrade` message to this process). */
interface BridgeUpgrade {
  target: string;
  headers: IncomingHttpHeaders;
}

function recordUpgrades(child: ChildProcess): BridgeUpgrade[] {
  const upgrades: BridgeUpgrade[] = [];
  child.on("message", (message: { event?: string } & BridgeUpgrade) => {
    if (message.event === "upgrade")
      upgrades.push({ target: message.target, headers: message.headers });
  });
  return upgrades;
}

let guarded: GuardedFleet;
let edge: TestEdge;
let backend: Server;
let pageOrigin: string;
let upgrades: BridgeUpgrade[];
let pageToken: string;

/** The site's backend, on the page's host: serves the page and sets the token cookie, as a site would. */
async function startBackend(): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url?.startsWith("/?") || request.url === "/") {
      response.setHeader("Set-Cookie", [
        `${TOKEN_COOKIE}=${pageToken}; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=120`,
        `${SITE_COOKIE}; SameSite=Strict; Path=/`,
      ]);
      response.setHeader("Content-Type", "text/html; charset=utf-8");
      response.end("<!doctype html><title>PersonaPlex</title><div id=root></div>");
      return;
    }
    response.statusCode = 404;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

beforeAll(async () => {
  guarded = await startGuardedFleet({
    names: ["gpu-1"],
    voices: [VOICE, "NATF2.pt"],
    promptDelayMs: 50,
  });
  upgrades = recordUpgrades(guarded.bridges[0].server.process);
  backend = await startBackend();
  pageOrigin = `http://127.0.0.1:${(backend.address() as { port: number }).port}`;
  edge = await startTestEdge(edgeBindings());
}, 90_000);

function edgeBindings() {
  return {
    BRIDGES: guarded.binding,
    EDGE_CONFIG: jwtEdgeConfig(
      {
        allowedOrigins: [APP_ORIGIN, pageOrigin],
        forwardCookies: ["theme"],
        bridgeConnectTimeoutMs: 2_000,
      },
      { cookieName: TOKEN_COOKIE },
    ),
    JWT_SECRET: TEST_SECRET,
  };
}

afterAll(async () => {
  await edge?.dispose();
  await guarded?.stop();
  backend?.closeAllConnections();
  await new Promise((resolve) => backend?.close(resolve));
});

/** The guard's count of open sessions, to start a test with the bridge free. */
async function guardSessions(): Promise<number> {
  const response = await fetch(`${guarded.bridges[0].guard.origin}/health`);
  return ((await response.json()) as { sessions: number }).sessions;
}

/** The edge's log lines written since `from` with `event: "upgrade"`. */
function upgradeLines(from: number, on: TestEdge = edge): Record<string, unknown>[] {
  return on.logs
    .slice(from)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === "upgrade");
}

describe("the stock PersonaPlex web client's connection logic, in Chromium, through /voice/api/chat", () => {
  it("gets 0x00 and exchanges audio; the bridge gets its own path, the client's options only, and no token cookie", async () => {
    await expect.poll(guardSessions).toBe(0);
    pageToken = await hs256({ sub: "web-client" });
    const browser: Browser = await launchChromium();
    const upgradesBefore = upgrades.length;
    const logsBefore = edge.logs.length;
    try {
      const page = await browser.newPage();
      // The stock client reads worker_addr from its page's query; a site links to it so.
      const workerAddr = `${new URL(edge.httpOrigin).host}/voice`;
      await page.goto(`${pageOrigin}/?worker_addr=${encodeURIComponent(workerAddr)}`);
      const result = await page.evaluate(async (voice) => {
        // Re-typed from the client's behaviour: worker_addr from the page's query ("" or "same": this
        // page's host), ws or wss after the page's scheme, `/api/chat`, its options appended in its
        // order, `new WebSocket(url)` with no subprotocol, then nothing until the 0x00 handshake.
        const given = new URLSearchParams(window.location.search).get("worker_addr") ?? "";
        const workerAddr =
          given === "" || given === "same"
            ? `${window.location.hostname}:${window.location.port}`
            : given;
        const scheme = window.location.protocol === "https:" ? "wss" : "ws";
        const url = new URL(`${scheme}://${workerAddr}/api/chat`);
        const options: [string, string][] = [
          ["text_temperature", "0.7"],
          ["text_topk", "25"],
          ["audio_temperature", "0.8"],
          ["audio_topk", "250"],
          ["pad_mult", "0"],
          ["text_seed", String(Math.round(1_000_000 * Math.random()))],
          ["audio_seed", String(Math.round(1_000_000 * Math.random()))],
          ["repetition_penalty_context", "64"],
          ["repetition_penalty", "1"],
          ["text_prompt", "You help people plan a trip; be brief & kind (50% shorter)."],
          ["voice_prompt", voice],
        ];
        for (const [name, value] of options) url.searchParams.append(name, value);
        const ws = new WebSocket(url.toString());
        ws.binaryType = "arraybuffer";
        const statuses: string[] = [];
        const kinds: number[] = [];
        const audio = new Uint8Array([0x01, ...Array.from({ length: 120 }, (_, i) => i)]);
        const outcome = await new Promise<string>((resolve) => {
          // The stock client waits for 0x00 without a bound; the test bounds it.
          const bound = setTimeout(() => resolve("no audio within 15 s"), 15_000);
          ws.addEventListener("open", () => statuses.push("connecting"));
          ws.addEventListener("close", (event) => {
            clearTimeout(bound);
            resolve(`closed ${event.code} ${event.reason}`);
          });
          ws.addEventListener("message", (event) => {
            const kind = new Uint8Array(event.data as ArrayBuffer)[0];
            kinds.push(kind);
            if (kind === 0x00) {
              statuses.push("connected");
              ws.send(audio);
            } else if (kind === 0x01) {
              clearTimeout(bound);
              resolve("audio");
            }
          });
        });
        ws.close();
        return { outcome, statuses, kinds, url: url.toString(), protocol: ws.protocol };
      }, VOICE);

      expect(result.outcome).toBe("audio");
      expect(result.statuses).toEqual(["connecting", "connected"]);
      expect(result.kinds).toEqual([0x00, 0x01]);
      expect(result.protocol).toBe("");
      expect(new URL(result.url).pathname).toBe(WEB_CLIENT_PATH);

      expect(upgrades.length - upgradesBefore).toBe(1);
      const reached = upgrades[upgradesBefore];
      const target = new URL(reached.target, "http://bridge");
      expect(target.pathname).toBe("/api/chat");
      expect([...target.searchParams.keys()].sort()).toEqual([...CLIENT_OPTION_NAMES].sort());
      expect([...target.searchParams]).toEqual([...new URL(result.url).searchParams]);
      expect(reached.headers.cookie).toBe(SITE_COOKIE);
      expect(JSON.stringify(reached.headers)).not.toContain(pageToken);
      expect(JSON.stringify(reached.headers)).not.toContain(TOKEN_COOKIE);

      await expect.poll(() => upgradeLines(logsBefore).length).toBe(1);
      expect(upgradeLines(logsBefore)[0]).toMatchObject({
        outcome: "connected",
        status: 101,
        path: WEB_CLIENT_PATH,
        transport: "cookie",
        protocol: null,
        bridge: "gpu-1",
      });
    } finally {
      await browser.close();
    }
  });
});

const PATHS = [WS_PATH, WEB_CLIENT_PATH] as const;
const fromApp = (protocols: string[]) => ({ protocols, headers: { Origin: APP_ORIGIN } });

describe("/voice/api/chat refuses as /voice/ws does", () => {
  it.each(PATHS)("%s: 426 without an upgrade, 405 with Allow: GET for POST", async (path) => {
    const plain = await fetch(`${edge.httpOrigin}${path}`);
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: "upgrade_required", upgrade: "websocket" });
    const posted = await fetch(`${edge.httpOrigin}${path}`, { method: "POST" });
    expect(posted.status).toBe(405);
    expect(posted.headers.get("allow")).toBe("GET");
    expect(await posted.json()).toMatchObject({ error: "method_not_allowed" });
  });

  it.each(PATHS)("%s: no token → 401 token_missing, before any bridge is tried", async (path) => {
    const upgradesBefore = upgrades.length;
    const logsBefore = edge.logs.length;
    const refusal = await expectRefused(
      `${edge.wsOrigin}${path}?${PERSONAPLEX_QUERY}`,
      fromApp(["voice.v1"]),
    );
    expect(refusal.status).toBe(401);
    expect(refusal.headers["www-authenticate"]).toBe("Bearer");
    expect(refusal.body).toMatchObject({ error: "token_missing" });
    expect(upgrades.length).toBe(upgradesBefore);
    await expect
      .poll(() => upgradeLines(logsBefore))
      .toEqual([
        expect.objectContaining({ outcome: "refused", status: 401, path, error: "token_missing" }),
      ]);
  });

  it.each(PATHS)(
    "%s: options the server would break on → 101, close 4400 naming the parameter",
    async (path) => {
      const upgradesBefore = upgrades.length;
      const refused = await expectRefusedSession(
        `${edge.wsOrigin}${path}?text_prompt=hi&voice_prompt=..%2Fetc.pt`,
        fromApp(["voice.v1", `bearer.${await hs256()}`]),
      );
      expect(refused).toMatchObject({
        code: 4400,
        reason: { error: "session_options_invalid", parameter: "voice_prompt" },
        protocol: "voice.v1",
      });
      expect(upgrades.length).toBe(upgradesBefore);
    },
  );

  it("every bridge busy → 101, close 1013 bridge_busy, the same on both paths", async () => {
    await expect.poll(guardSessions).toBe(0);
    const holder = await expectOpen(
      `${edge.wsOrigin}${WS_PATH}?${PERSONAPLEX_QUERY}`,
      fromApp(["voice.v1", `bearer.${await hs256({ sub: "holder" })}`]),
    );
    try {
      expect((await holder.next()).data).toEqual(Buffer.from([0]));
      const logsBefore = edge.logs.length;
      const answers = [];
      for (const path of PATHS)
        answers.push(
          await expectRefusedSession(
            `${edge.wsOrigin}${path}?${PERSONAPLEX_QUERY}`,
            fromApp(["voice.v1", `bearer.${await hs256()}`]),
          ),
        );
      for (const answer of answers)
        expect(answer).toMatchObject({
          code: 1013,
          reason: { error: "bridge_busy" },
          protocol: "voice.v1",
        });
      expect(answers[1].reason).toEqual(answers[0].reason);
      await expect.poll(() => upgradeLines(logsBefore).length).toBe(2);
      expect(upgradeLines(logsBefore).map((line) => [line.path, line.closeCode])).toEqual([
        [WS_PATH, 1013],
        [WEB_CLIENT_PATH, 1013],
      ]);
    } finally {
      holder.ws.close(1000);
      await holder.closed;
    }
  });
});

describe("with the waiting line bound, /voice/api/chat is admitted through the coordinator as /voice/ws is", () => {
  let lineEdge: TestEdge;

  beforeAll(async () => {
    lineEdge = await startLineEdge({
      edgeBindings: edgeBindings(),
      lineBindings: { BRIDGES: guarded.binding, LINE_CONFIG: { holdSeconds: 5, maxWaiting: 4 } },
    });
  }, 60_000);

  afterAll(async () => {
    await lineEdge?.dispose();
  });

  it("served through the coordinator, then 1013 with a place in line on both paths while it holds the bridge", async () => {
    await expect.poll(guardSessions).toBe(0);
    const logsBefore = lineEdge.logs.length;
    const holder = await expectOpen(
      `${lineEdge.wsOrigin}${WEB_CLIENT_PATH}?${PERSONAPLEX_QUERY}`,
      fromApp(["voice.v1", `bearer.${await hs256({ sub: "holder" })}`]),
    );
    try {
      expect((await holder.next()).data).toEqual(Buffer.from([0]));
      const answers = [];
      for (const path of PATHS)
        answers.push(
          await expectRefusedSession(
            `${lineEdge.wsOrigin}${path}?${PERSONAPLEX_QUERY}`,
            fromApp(["voice.v1", `bearer.${await hs256({ sub: "newcomer" })}`]),
          ),
        );
      for (const answer of answers)
        expect(answer).toMatchObject({ code: 1013, reason: { error: "bridge_busy", line: true } });
      await expect.poll(() => upgradeLines(logsBefore, lineEdge).length).toBe(3);
      expect(
        upgradeLines(logsBefore, lineEdge).map((line) => [line.path, line.outcome, line.line]),
      ).toEqual([
        [WEB_CLIENT_PATH, "connected", "coordinator"],
        [WS_PATH, "refused", "coordinator"],
        [WEB_CLIENT_PATH, "refused", "coordinator"],
      ]);
    } finally {
      holder.ws.close(1000);
      await holder.closed;
    }
  });
});

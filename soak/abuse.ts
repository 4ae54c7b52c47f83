import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import {
  bridgeHealth,
  bridgeSessionWith,
  marker,
  withSessionOptions,
} from "../test/support/bridge";
import { expectOpen, TEST_SECRET, upgrade } from "../test/support/edge";
import { rawRequest, upgradeHead, type RawAnswer } from "../test/support/rawHttp";
import { badTokenCases, carryToken, hs256, TRANSPORTS } from "../test/support/tokens";
import { ACCESS_CLIENT_ID, ACCESS_CLIENT_SECRET, type Harness } from "./harness";
import { summarize, type Summary } from "../test/support/stats";

/** Headers a client might send to pass for someone else or for the Worker itself. */
export const SPOOFED_HEADERS = {
  "X-Voice-Subject": "admin",
  "CF-Access-Client-Id": "spoofed-client-id",
  "CF-Access-Client-Secret": "spoofed-client-secret",
  "Cf-Access-Jwt-Assertion": "spoofed-assertion",
};

interface BadUpgrade {
  name: string;
  status: number;
  code: string;
  build(
    url: string,
  ): Promise<{ url: string; protocols: string[]; headers: Record<string, string>; token?: string }>;
}

/** Every kind of bad token in every transport, plus the requests that carry no usable token at all. */
function badUpgrades(h: Harness): BadUpgrade[] {
  const kinds: BadUpgrade[] = [];
  for (const [name, make, code] of badTokenCases(() => h.jwks)) {
    for (const transport of TRANSPORTS) {
      kinds.push({
        name: `${name} (${transport})`,
        status: 401,
        code,
        build: async (url) => {
          const token = await make();
          return { ...carryToken(url, token, transport), token };
        },
      });
    }
  }
  kinds.push(
    {
      name: "no token",
      status: 401,
      code: "token_missing",
      build: async (url) => ({ url, protocols: ["voice.v1"], headers: {} }),
    },
    ...[
      ["Basic credentials", "Basic YWRtaW46YWRtaW4="],
      ["Bearer without a token", "Bearer"],
    ].map(([name, authorization]) => ({
      name,
      status: 401,
      code: "token_malformed",
      build: async (url: string) => ({
        url,
        protocols: ["voice.v1"],
        headers: { Authorization: authorization },
      }),
    })),
    {
      name: "only a bearer subprotocol",
      status: 400,
      code: "subprotocol_required",
      build: async (url) => ({ url, protocols: [`bearer.${await hs256()}`], headers: {} }),
    },
    {
      name: "another site's Origin",
      status: 403,
      code: "origin_not_allowed",
      build: async (url) => ({
        ...carryToken(url, await hs256(), "subprotocol"),
        headers: { Origin: "https://evil.example" },
      }),
    },
  );
  return kinds;
}

export interface FloodReport {
  attempts: number;
  kinds: number;
  refusedAsExpected: number;
  /** The first few answers that were not the expected refusal. */
  wrong: string[];
  /** "<status> <error>" → how many. */
  answers: Record<string, number>;
  /** Upgrades the bridge received during the flood (any path): must be 0. */
  bridgeUpgrades: number;
  refusalMs: Summary;
  seconds: number;
  /** Every token sent, for the log audit. */
  tokens: string[];
}

/** `attempts` bad upgrades (cycling through every kind), `concurrency` at a time, each with spoofed identity headers. */
export async function badTokenFlood(
  h: Harness,
  options: { attempts: number; concurrency: number },
): Promise<FloodReport> {
  const kinds = badUpgrades(h);
  const before = (await bridgeHealth(h.bridge.origin)).upgradesReceived;
  const started = performance.now();
  const answers: Record<string, number> = {};
  const wrong: string[] = [];
  const refusalMs: number[] = [];
  const tokens = new Set<string>();
  let next = 0;
  let refusedAsExpected = 0;
  const lane = async () => {
    while (next < options.attempts) {
      const kind = kinds[next++ % kinds.length];
      const request = await kind.build(h.wsUrl);
      if (request.token) tokens.add(request.token);
      const sent = performance.now();
      const result = await upgrade(request.url, {
        protocols: request.protocols,
        headers: { ...SPOOFED_HEADERS, ...request.headers },
      });
      refusalMs.push(performance.now() - sent);
      const answer =
        result.kind === "open" ? "101" : `${result.refusal.status} ${result.refusal.body.error}`;
      answers[answer] = (answers[answer] ?? 0) + 1;
      if (result.kind === "open") result.session.ws.terminate();
      if (answer === `${kind.status} ${kind.code}`) refusedAsExpected++;
      else if (wrong.length < 5)
        wrong.push(`${kind.name}: expected ${kind.status} ${kind.code}, got ${answer}`);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));
  return {
    attempts: options.attempts,
    kinds: kinds.length,
    refusedAsExpected,
    wrong,
    answers,
    bridgeUpgrades: (await bridgeHealth(h.bridge.origin)).upgradesReceived - before,
    refusalMs: summarize(refusalMs),
    seconds: (performance.now() - started) / 1000,
    tokens: [...tokens],
  };
}

export interface SpoofReport {
  sessions: number;
  /** Each way a spoofed value, or a missing real one, reached the bridge. */
  leaks: string[];
}

function spoofLeaks(label: string, headers: Record<string, unknown>, subject: string): string[] {
  const leaks: string[] = [];
  if (headers["x-voice-subject"] !== subject)
    leaks.push(
      `${label}: X-Voice-Subject ${JSON.stringify(headers["x-voice-subject"])}, expected ${subject}`,
    );
  if (headers["cf-access-client-id"] !== ACCESS_CLIENT_ID)
    leaks.push(`${label}: CF-Access-Client-Id ${JSON.stringify(headers["cf-access-client-id"])}`);
  if (headers["cf-access-client-secret"] !== ACCESS_CLIENT_SECRET)
    leaks.push(`${label}: CF-Access-Client-Secret was not the Worker's`);
  if (headers["cf-access-jwt-assertion"] !== undefined)
    leaks.push(`${label}: Cf-Access-Jwt-Assertion reached the bridge`);
  if (JSON.stringify(headers).includes("spoofed"))
    leaks.push(`${label}: a spoofed value reached the bridge`);
  return leaks;
}

/**
 * Authenticated sessions in every transport that also send spoofed X-Voice-Subject and Access
 * headers (with `ws`, and raw with repeated and oddly cased header lines): the bridge must see
 * the token's subject and the Worker's own Access credentials only.
 */
export async function spoofedHeaders(h: Harness): Promise<SpoofReport> {
  const leaks: string[] = [];
  let sessions = 0;
  for (const transport of TRANSPORTS) {
    const id = marker();
    const subject = `user-${transport}`;
    const carried = carryToken(`${h.wsUrl}&${id}`, await hs256({ sub: subject }), transport);
    const session = await expectOpen(carried.url, {
      protocols: carried.protocols,
      headers: { ...SPOOFED_HEADERS, ...carried.headers },
    });
    const record = await bridgeSessionWith(h.bridge.origin, id);
    leaks.push(...spoofLeaks(transport, record.headers, subject));
    session.ws.close(1000);
    sessions++;
  }
  const id = marker();
  const repeated = [
    "X-Voice-Subject: admin",
    "x-voice-subject: root",
    "X-VOICE-SUBJECT: operator",
    "cf-access-client-id: spoofed-client-id",
    "CF-ACCESS-CLIENT-SECRET: spoofed-client-secret",
    "Cf-Access-Jwt-Assertion: spoofed-assertion",
  ].join("\r\n");
  const answer = await rawRequest(
    h.edgePort,
    `${upgradeHead(`/voice/ws${withSessionOptions(id)}`)}Authorization: Bearer ${await hs256({ sub: "user-raw" })}\r\n${repeated}\r\n\r\n`,
    { keepOpen: true },
  );
  if (answer.status === 101) {
    leaks.push(
      ...spoofLeaks(
        "raw, repeated header lines",
        (await bridgeSessionWith(h.bridge.origin, id)).headers,
        "user-raw",
      ),
    );
    answer.socket.destroy();
    sessions++;
  } else {
    leaks.push(`raw, repeated header lines: expected 101, got ${answer.statusLine}`);
  }
  return { sessions, leaks };
}

export interface LogAudit {
  lines: number;
  /** Connected upgrades per token transport, to show every transport was exercised. */
  connectedByTransport: Record<string, number>;
  refused: number;
  /** Lines that contain a token, a secret or a query string. */
  leaks: string[];
}

const JWT_SHAPED = /eyJ[A-Za-z0-9_-]{8,}/;

/** Reads every line the edge wrote: none may contain a token (in any form), a secret or a query string. */
export function auditLogs(lines: string[], tokens: string[]): LogAudit {
  const secrets = new Set([
    TEST_SECRET,
    ACCESS_CLIENT_SECRET,
    "access_token",
    "bearer.",
    "spoofed",
    "standin_delay_ms",
  ]);
  for (const token of tokens) {
    secrets.add(token);
    for (const segment of token.split(".")) if (segment.length >= 16) secrets.add(segment);
  }
  const connectedByTransport: Record<string, number> = {};
  let refused = 0;
  const leaks: string[] = [];
  for (const line of lines) {
    const found = JWT_SHAPED.test(line)
      ? "a JWT"
      : [...secrets].find((secret) => line.includes(secret));
    if (found !== undefined && leaks.length < 5)
      leaks.push(`${found.slice(0, 24)} in ${line.slice(0, 160)}`);
    try {
      const entry = JSON.parse(line) as { event?: string; outcome?: string; transport?: string };
      if (entry.event === "upgrade" && entry.outcome === "connected")
        connectedByTransport[entry.transport ?? "none"] =
          (connectedByTransport[entry.transport ?? "none"] ?? 0) + 1;
      if (entry.event === "upgrade" && entry.outcome === "refused") refused++;
    } catch {
      // workerd's own lines (e.g. an uncaught CONNECT) are not JSON; they are audited all the same.
    }
  }
  return { lines: lines.length, connectedByTransport, refused, leaks };
}

interface Probe {
  name: string;
  /** What the edge (or workerd itself, before the Worker runs) answers, in words. */
  expected: string;
  request(token: string): string;
  accept(answer: RawAnswer): boolean;
}

const json = (answer: RawAnswer) => {
  try {
    return JSON.parse(answer.body) as { error?: string; bridgeStatus?: number };
  } catch {
    return {};
  }
};
/** The close code of a close frame that came with a 101 (undefined when none arrived with it). */
const closeCodeOf = (answer: RawAnswer & { rest?: Buffer }) => {
  const frame = answer.rest;
  if (!frame || frame.length < 4 || (frame[0] & 0x0f) !== 0x8) return undefined;
  return frame.readUInt16BE(2);
};
const edgeError = (status: number, error: string) => (answer: RawAnswer) =>
  answer.status === status && json(answer).error === error;
const runtimeAnswer = (status: number) => (answer: RawAnswer) =>
  answer.status === status && answer.closed && json(answer).error === undefined;

const protocols = (count: number, prefix = "p") =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}`).join(", ");
const filler = (bytes: number) => `X-Filler: ${"a".repeat(bytes)}\r\n`;
const bearer = (token: string) => `Authorization: Bearer ${token}\r\n`;

/** Paths that look like /voice/ws but are not it (and a note on why), each sent with a valid token. */
const NEAR_PATHS: [path: string, note?: string][] = [
  ["/voice/ws/", "trailing slash"],
  ["//voice/ws"],
  ["/voice/%77s", "encoded w"],
  ["/voice%2fws", "encoded slash"],
  ["/voice/ws/../x", "resolves to /voice/x"],
  ["/VOICE/WS"],
  ["/voice/ws;x=1"],
];

/** Requests that fetch and ws would not send, each with the answer it must get. */
export const PROBES: Probe[] = [
  ...NEAR_PATHS.map(([path, note]) => ({
    name: `GET ${path}${note ? ` (${note})` : ""}`,
    expected: "404 not_found",
    request: (t: string) => `${upgradeHead(path)}${bearer(t)}\r\n`,
    accept: edgeError(404, "not_found"),
  })),
  {
    name: "GET /voice/x/../ws without a token (resolves to /voice/ws)",
    expected: "401 token_missing: the full checks",
    request: () => `${upgradeHead("/voice/x/../ws")}\r\n`,
    accept: edgeError(401, "token_missing"),
  },
  {
    name: "5,000 subprotocols, no token",
    expected: "401 token_missing",
    request: () => `${upgradeHead("/voice/ws")}Sec-WebSocket-Protocol: ${protocols(5_000)}\r\n\r\n`,
    accept: edgeError(401, "token_missing"),
  },
  {
    name: "5,000 bearer-only subprotocols",
    expected: "400 subprotocol_required",
    request: () =>
      `${upgradeHead("/voice/ws")}Sec-WebSocket-Protocol: ${protocols(5_000, "bearer.x")}\r\n\r\n`,
    accept: edgeError(400, "subprotocol_required"),
  },
  {
    name: "5,000 subprotocols (34 KiB) with a valid token",
    expected:
      "101 selecting voice.v1, then close 1014 bridge_unavailable (logged bridge_rejected, bridgeStatus 431): forwarded, and the bridge's header limit (Node: 16 KiB) refuses it",
    request: (t) =>
      `${upgradeHead(`/voice/ws${withSessionOptions()}`)}Sec-WebSocket-Protocol: voice.v1, ${protocols(5_000)}, bearer.${t}\r\n\r\n`,
    accept: (answer) =>
      answer.status === 101 &&
      answer.headers["sec-websocket-protocol"] === "voice.v1" &&
      // The close frame may come with the 101 or just after it: when it came, it is 1014.
      [1014, undefined].includes(closeCodeOf(answer)),
  },
  {
    name: "2,000 header lines, no token",
    expected: "401 token_missing",
    request: () =>
      `${upgradeHead("/voice/ws")}${Array.from({ length: 2_000 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`,
    accept: edgeError(401, "token_missing"),
  },
  {
    name: "a 100 KiB header, no token",
    expected: "401 token_missing (under workerd's 128 KiB limit)",
    request: () => `${upgradeHead("/voice/ws")}${filler(100 * 1024)}\r\n`,
    accept: edgeError(401, "token_missing"),
  },
  {
    name: "a 200 KiB header",
    expected: "workerd's own 431, connection closed; the Worker never runs",
    request: (t) => `${upgradeHead("/voice/ws")}${bearer(t)}${filler(200 * 1024)}\r\n`,
    accept: runtimeAnswer(431),
  },
  {
    name: "a 1 MiB header",
    expected: "workerd's own 431, connection closed",
    request: () => `${upgradeHead("/voice/ws")}${filler(1024 * 1024)}\r\n`,
    accept: runtimeAnswer(431),
  },
  {
    name: "HTTP/1.0 upgrade with a valid token",
    expected: "101 and the bridge's 0x00 frame (workerd upgrades HTTP/1.0 too)",
    request: (t) => `${upgradeHead("/voice/ws", { version: "1.0" })}${bearer(t)}\r\n`,
    accept: (answer) => answer.status === 101,
  },
  {
    name: "HTTP/1.0 upgrade without a token",
    expected: "401 token_missing",
    request: () => `${upgradeHead("/voice/ws", { version: "1.0" })}\r\n`,
    accept: edgeError(401, "token_missing"),
  },
  {
    name: "HTTP/1.0 upgrade without Host",
    expected: "workerd's own 400",
    request: (t) => `${upgradeHead("/voice/ws", { version: "1.0", host: null })}${bearer(t)}\r\n`,
    accept: (answer) => answer.status === 400 && json(answer).error === undefined,
  },
  {
    name: "HTTP/1.0 GET without Upgrade",
    expected: "426 upgrade_required",
    request: () => "GET /voice/ws HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
    accept: edgeError(426, "upgrade_required"),
  },
  {
    name: "POST upgrade without a token",
    expected:
      "405 method_not_allowed, as in production: the local edge hands the Worker the real method",
    request: () => `${upgradeHead("/voice/ws", { method: "POST" })}Content-Length: 0\r\n\r\n`,
    accept: edgeError(405, "method_not_allowed"),
  },
  ...["POST", "PUT", "DELETE", "OPTIONS", "TRACE"].map((method) => ({
    name: `${method} without Upgrade`,
    expected: "405 method_not_allowed",
    request: () => `${method} /voice/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`,
    accept: edgeError(405, "method_not_allowed"),
  })),
  {
    name: "HEAD /voice/ws",
    expected: "405, no body",
    request: () => "HEAD /voice/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    accept: (answer) => answer.status === 405 && answer.headers.allow === "GET",
  },
  {
    name: "Upgrade: websocket, h2c",
    expected: "426 upgrade_required",
    request: (t) => `${upgradeHead("/voice/ws")}${bearer(t)}Upgrade: h2c\r\n\r\n`,
    accept: edgeError(426, "upgrade_required"),
  },
  {
    name: "Sec-WebSocket-Version: 8 with a valid token",
    expected: "workerd's own 400, connection closed",
    request: (t) =>
      `${upgradeHead("/voice/ws").replace("Version: 13", "Version: 8")}${bearer(t)}\r\n`,
    accept: runtimeAnswer(400),
  },
  {
    name: "no Sec-WebSocket-Key, valid token",
    expected: "workerd's own 400, connection closed",
    request: (t) =>
      `${upgradeHead("/voice/ws").replace(/Sec-WebSocket-Key[^\r]*\r\n/, "")}${bearer(t)}\r\n`,
    accept: runtimeAnswer(400),
  },
  {
    name: "a header line without a colon",
    expected: "workerd's own 400, connection closed",
    request: () => "GET /voice/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColon\r\n\r\n",
    accept: runtimeAnswer(400),
  },
  {
    name: "two Host headers",
    expected: "workerd's own 500, connection closed (logged by workerd)",
    request: (t) => `${upgradeHead("/voice/ws")}Host: other.example\r\n${bearer(t)}\r\n`,
    accept: runtimeAnswer(500),
  },
  {
    name: "absolute-form target for another host",
    expected: "workerd's own 500, connection closed (logged by workerd)",
    request: (t) => `${upgradeHead("http://evil.example/voice/ws")}${bearer(t)}\r\n`,
    accept: runtimeAnswer(500),
  },
  {
    name: "CONNECT",
    expected: "workerd's own 500, connection closed (logged by workerd)",
    request: () => "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    accept: runtimeAnswer(500),
  },
  {
    name: "an unknown method",
    expected: "workerd's own 501, connection closed",
    request: () => "BREW /voice/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    accept: runtimeAnswer(501),
  },
];

export interface ProbeResult {
  name: string;
  expected: string;
  got: string;
  ok: boolean;
  ms: number;
}

export interface ProbeReport {
  results: ProbeResult[];
  /** After every probe (and with `stalled` connections holding half-sent headers): health 200 and a session echoes a frame. */
  edgeStillServes: boolean;
  stalled: number;
  /** Bridge sessions still open afterwards. */
  bridgeOpenAfter: number;
}

/** Sends every probe on its own connection (each bounded by `timeoutMs`), then checks the edge still serves, with `stalled` connections mid-headers. */
export async function rawProbes(
  h: Harness,
  options: { stalled: number; timeoutMs?: number },
): Promise<ProbeReport> {
  const results: ProbeResult[] = [];
  for (const probe of PROBES) {
    const answer = await rawRequest(h.edgePort, probe.request(await hs256()), {
      timeoutMs: options.timeoutMs ?? 5_000,
    });
    const error = json(answer).error;
    const got = answer.timedOut
      ? `no answer within ${options.timeoutMs ?? 5_000} ms`
      : `${answer.status || answer.statusLine || "nothing"}${error ? ` ${error}` : ""}${answer.closed ? ", closed" : ""}`;
    results.push({
      name: probe.name,
      expected: probe.expected,
      got,
      ok: !answer.timedOut && probe.accept(answer),
      ms: answer.ms,
    });
  }

  const stalled: Socket[] = [];
  for (let i = 0; i < options.stalled; i++) {
    const socket = connect(h.edgePort, "127.0.0.1");
    socket.on("error", () => undefined);
    socket.write("GET /voice/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    stalled.push(socket);
  }
  let edgeStillServes = false;
  try {
    const health = await fetch(`${h.edge.httpOrigin}/voice/health`);
    const carried = carryToken(h.wsUrl, await hs256(), "subprotocol");
    const session = await expectOpen(carried.url, { protocols: carried.protocols });
    await session.next();
    const frame = randomBytes(640);
    session.ws.send(frame);
    edgeStillServes = health.status === 200 && (await session.next()).data.equals(frame);
    session.ws.close(1000);
    await session.closed;
  } finally {
    for (const socket of stalled) socket.destroy();
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    results,
    edgeStillServes,
    stalled: stalled.length,
    bridgeOpenAfter: (await bridgeHealth(h.bridge.origin)).openSessions,
  };
}

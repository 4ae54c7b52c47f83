import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PROJECT_ROOT } from "../infra/config/stackFiles";
import { SESSION_CLOSE_CODES } from "../worker/src/errors";
import { BEARER_PROTOCOL_PREFIX as EDGE_BEARER_PREFIX } from "../worker/src/headers";
import {
  LINE_PATH,
  TICKET_PROTOCOL_PREFIX as EDGE_TICKET_PREFIX,
} from "../worker/src/line/contract";
import { HEALTH_PATH as EDGE_HEALTH_PATH, WS_PATH } from "../worker/src/routes";
import { authSettingsSchema } from "../worker/src/bindings";
import {
  BEARER_PROTOCOL_PREFIX,
  CLOSE_CODES,
  DEFAULT_QUERY_PARAMETER,
  HEALTH_PATH,
  LINE_PATH_SEGMENT,
  LINE_REJOIN_LIMIT_RETRIES,
  LINE_REJOIN_LIMIT_WAIT_S,
  SESSION_CAP_SLACK_S,
  STABLE_LINE_S,
  TICKET_PROTOCOL_PREFIX,
  TOKEN_PREFETCH_MAX_AGE_S,
  closeAction,
  connectVoice,
  type AttemptReport,
  type ClosePhase,
  type SocketKind,
  type ConnectVoiceOptions,
  type ConnectVoiceSettings,
  type VoiceState,
} from "./voice";

/** A WebSocket the test drives: it records what the kit asked for and sent. */
class FakeSocket {
  readyState = 0;
  binaryType = "blob";
  sent: unknown[] = [];
  closedByKit: number | undefined;
  onopen: ((event: object) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
    all: FakeSocket[],
  ) {
    all.push(this);
  }
  send(data: unknown): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(data);
  }
  close(code = 1000): void {
    // As a browser does: only 1000 and 3000–4999 are a page's to send.
    if (code !== 1000 && (code < 3000 || code > 4999))
      throw new DOMException(
        `The close code must be 1000 or 3000-4999: ${code}`,
        "InvalidAccessError",
      );
    if (this.readyState >= 2) return;
    this.closedByKit = code;
    this.readyState = 2;
    queueMicrotask(() => this.ended(code, ""));
  }
  // What the edge and the bridge do:
  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(...bytes: number[]): void {
    this.onmessage?.({ data: new Uint8Array(bytes).buffer });
  }
  text(data: string): void {
    this.onmessage?.({ data });
  }
  serverClose(code: number, reason: object | string = ""): void {
    this.ended(code, typeof reason === "string" ? reason : JSON.stringify(reason));
  }
  /** A refused upgrade as a page sees it: error, then 1006, no open. */
  refuse(): void {
    this.ended(1006, "");
  }
  private ended(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  get path(): string {
    return new URL(this.url).pathname;
  }
  get search(): URLSearchParams {
    return new URL(this.url).searchParams;
  }
}

const URL_WS = "wss://voice.example" + WS_PATH;
/** The harness's nth token: shaped as a JWT (three base64url parts), as the kit checks. */
const jwt = (n: number) => `eyJhbGciOiJIUzI1NiJ9.jwt-${n}.c2ln`;
const QUERY = { text_prompt: "You enjoy having a good conversation.", voice_prompt: "NATF2.pt" };

interface Harness {
  sockets: FakeSocket[];
  states: VoiceState[];
  attempts: AttemptReport[];
  frames: Uint8Array[];
  tokens: string[];
  health: string[];
  connection: ReturnType<typeof connectVoice>;
  last(): FakeSocket;
  state(): VoiceState;
}

/** Options over the harness's own; `getToken: undefined` beside `cookie`/`noToken` takes the harness's out. */
type Overrides = Partial<ConnectVoiceSettings> & {
  getToken?: ConnectVoiceOptions["getToken"];
  cookie?: boolean;
  noToken?: boolean;
};

function start(
  overrides: Overrides = {},
  healthAnswer: () => Promise<Response> = () =>
    Promise.resolve(new Response(JSON.stringify({ status: "ok" }), { status: 200 })),
): Harness {
  const sockets: FakeSocket[] = [];
  const harness = {
    sockets,
    states: [] as VoiceState[],
    attempts: [] as AttemptReport[],
    frames: [] as Uint8Array[],
    tokens: [] as string[],
    health: [] as string[],
  } as Harness;
  const Socket = function (this: unknown, url: string, protocols: string[]) {
    return new FakeSocket(url, protocols, sockets);
  } as unknown as typeof WebSocket;
  harness.connection = connectVoice({
    url: URL_WS,
    query: QUERY,
    getToken: async () => {
      const token = jwt(harness.tokens.length + 1);
      harness.tokens.push(token);
      return token;
    },
    onState: (state) => harness.states.push(state),
    onAttempt: (report) => harness.attempts.push(report),
    onFrame: (frame) => harness.frames.push(frame),
    WebSocket: Socket,
    fetch: ((url: string) => {
      harness.health.push(url);
      return healthAnswer();
    }) as typeof fetch,
    ...overrides,
  } as ConnectVoiceOptions);
  harness.last = () => sockets[sockets.length - 1];
  harness.state = () => harness.connection.state;
  return harness;
}

/** Lets the kit's promises (getToken, fetch) run without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);
const seconds = (s: number) => vi.advanceTimersByTimeAsync(s * 1000);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("the kit's names are the edge's", () => {
  it("spells each subprotocol prefix, path, parameter and close code as the edge does", () => {
    expect(BEARER_PROTOCOL_PREFIX).toBe(EDGE_BEARER_PREFIX);
    expect(TICKET_PROTOCOL_PREFIX).toBe(EDGE_TICKET_PREFIX);
    expect(HEALTH_PATH).toBe(EDGE_HEALTH_PATH);
    expect(authSettingsSchema.parse({ mode: "jwt", algorithms: ["HS256"] })).toMatchObject({
      queryParameter: DEFAULT_QUERY_PARAMETER,
    });
    expect(WS_PATH.replace(/[^/]*$/, LINE_PATH_SEGMENT)).toBe(LINE_PATH);
    expect(CLOSE_CODES).toEqual(SESSION_CLOSE_CODES);
  });
});

/** [socket, phase, code, reason, what the kit does]: every row of the table. */
export const CLOSE_TABLE_CASES: [
  SocketKind,
  ClosePhase,
  number,
  object | string,
  ReturnType<typeof closeAction>,
][] = [
  ["voice", "before_open", 1006, "", { kind: "check_health" }],
  ["voice", "before_ready", 1000, "", { kind: "closed" }],
  [
    "voice",
    "before_ready",
    1013,
    { error: "bridge_busy", retryAfterS: 7 },
    { kind: "busy", retryAfterS: 7, line: false },
  ],
  [
    "voice",
    "before_ready",
    1013,
    { error: "bridge_busy", retryAfterS: 40, line: true },
    { kind: "busy", retryAfterS: 40, line: true },
  ],
  [
    "voice",
    "before_ready",
    1013,
    { error: "bridge_busy", retryAfterS: 5, line: false },
    { kind: "busy", retryAfterS: 5, line: false },
  ],
  [
    "voice",
    "before_ready",
    4400,
    { error: "session_options_invalid", parameter: "voice_prompt" },
    { kind: "fail", reason: "session_options_invalid", detail: { parameter: "voice_prompt" } },
  ],
  [
    "voice",
    "before_ready",
    4409,
    { error: "session_limit", limit: 1 },
    { kind: "fail", reason: "session_limit", detail: { limit: 1 } },
  ],
  [
    "voice",
    "before_ready",
    4410,
    { error: "ticket_refused", ticket: "expired" },
    { kind: "ticket_refused", detail: { ticket: "expired" } },
  ],
  ["voice", "before_ready", 1014, { error: "bridge_unavailable" }, { kind: "unavailable" }],
  ["voice", "before_ready", 1006, "", { kind: "unavailable" }],
  ["voice", "after_ready", 1000, "", { kind: "closed" }],
  ["voice", "after_ready", 1006, "", { kind: "reconnect" }],
  ["voice", "after_ready", 1001, "", { kind: "reconnect" }],
  ["voice", "after_ready", 1011, "", { kind: "reconnect" }],
  ["voice", "after_ready", 1014, "", { kind: "reconnect" }],
  ["line", "before_open", 1006, "", { kind: "check_health" }],
  [
    "line",
    "before_ready",
    4409,
    { error: "session_limit", limit: 1 },
    { kind: "fail", reason: "session_limit", detail: { limit: 1 } },
  ],
  [
    "line",
    "before_ready",
    1013,
    { error: "bridge_busy", retryAfterS: 5, line: false },
    { kind: "busy", retryAfterS: 5, line: false },
  ],
  [
    "line",
    "before_ready",
    4410,
    { error: "ticket_refused", ticket: "expired" },
    { kind: "rejoin_line" },
  ],
  ["line", "before_ready", 1006, "", { kind: "rejoin_line" }],
  ["line", "before_ready", 1001, "", { kind: "rejoin_line" }],
];

describe("closeAction, the close-code table", () => {
  it.each(CLOSE_TABLE_CASES)(
    "%s socket, %s, close %i %j",
    (socket, phase, code, reason, action) => {
      const text = typeof reason === "string" ? reason : JSON.stringify(reason);
      expect(closeAction(code, text, phase, socket)).toEqual(action);
    },
  );

  it("reads a reason that is not JSON, or none, without throwing", () => {
    expect(closeAction(1013, "busy", "before_ready")).toEqual({
      kind: "busy",
      retryAfterS: 5,
      line: false,
    });
    expect(closeAction(4400, "", "before_ready")).toEqual({
      kind: "fail",
      reason: "session_options_invalid",
      detail: { parameter: null },
    });
  });
});

/** A page in line at position 2 (its first join). */
async function inLine(overrides: Overrides = {}) {
  const kit = start(overrides);
  await settle();
  kit.last().accept();
  kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 5, line: true });
  await settle();
  kit.last().accept();
  kit.last().text(JSON.stringify({ type: "position", position: 2, etaS: 60 }));
  return kit;
}

describe("connectVoice", () => {
  it("offers a fresh token as bearer.<jwt> beside voice.v1, never in the URL, and the session options in the query", async () => {
    const kit = start();
    await settle();
    expect(kit.sockets).toHaveLength(1);
    const socket = kit.last();
    expect(socket.protocols).toEqual(["voice.v1", `bearer.${jwt(1)}`]);
    expect(socket.path).toBe("/voice/ws");
    expect(Object.fromEntries(socket.search)).toEqual(QUERY);
    expect(socket.url).not.toContain(jwt(1));
    expect(socket.binaryType).toBe("arraybuffer");
    expect(kit.state()).toEqual({ state: "connecting", attempt: 1 });
  });

  it("puts the token in the URL only with the query transport", async () => {
    const kit = start({ tokenTransport: "query", queryParameter: "t" });
    await settle();
    expect(kit.last().protocols).toEqual(["voice.v1"]);
    expect(kit.last().search.get("t")).toBe(jwt(1));
  });

  it("offers only voice.v1 with the cookie transport and asks for no token", async () => {
    const kit = start({ cookie: true, getToken: undefined });
    await settle();
    expect(kit.last().protocols).toEqual(["voice.v1"]);
    expect(kit.tokens).toEqual([]);
  });

  it("holds frames until the bridge's 0x00, then sends them in order and the next ones at once", async () => {
    const kit = start();
    await settle();
    const socket = kit.last();
    kit.connection.send(new Uint8Array([1, 10]));
    socket.accept();
    kit.connection.send(new Uint8Array([1, 11]));
    expect(socket.sent).toEqual([]);
    expect(kit.state()).toEqual({ state: "connecting", attempt: 1 });
    socket.frame(0x00);
    expect(socket.sent.map((frame) => [...(frame as Uint8Array)])).toEqual([
      [1, 10],
      [1, 11],
    ]);
    expect(kit.state()).toEqual({ state: "ready", attempt: 1 });
    kit.connection.send(new Uint8Array([1, 12]));
    expect(socket.sent).toHaveLength(3);
    socket.frame(0x01, 0xaa);
    expect(kit.state()).toEqual({ state: "live", attempt: 1 });
    socket.frame(0x02, 0x41);
    expect(kit.frames.map((frame) => [...frame])).toEqual([
      [0x01, 0xaa],
      [0x02, 0x41],
    ]);
  });

  it("fails handshake_timeout when the 0x00 does not come within the bound, and does not retry", async () => {
    const kit = start({ handshakeTimeoutMs: 5_000 });
    await settle();
    kit.last().accept();
    await seconds(4.9);
    expect(kit.state().state).toBe("connecting");
    await seconds(0.2);
    expect(kit.state()).toMatchObject({ state: "failed", reason: "handshake_timeout" });
    expect(kit.last().closedByKit).toBe(1000);
    await seconds(600);
    expect(kit.sockets).toHaveLength(1);
    await expect(kit.connection.done).resolves.toMatchObject({ reason: "handshake_timeout" });
  });

  it("after 1013 without a line waits retryAfterS (jittered, capped by maxBusyWaitS), with a fresh token", async () => {
    const kit = start({ line: false, maxBusyWaitS: 10 });
    await settle();
    kit.last().accept();
    kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 300, line: true });
    const waiting = kit.state();
    expect(waiting).toMatchObject({ state: "waiting", position: null, etaS: null });
    const retryInS = (waiting as { retryInS: number }).retryInS;
    expect(retryInS).toBeGreaterThan(0);
    expect(retryInS).toBeLessThanOrEqual(10);
    await seconds(retryInS - 0.1);
    expect(kit.sockets).toHaveLength(1);
    await seconds(0.2);
    expect(kit.sockets).toHaveLength(2);
    expect(kit.last().path).toBe("/voice/ws");
    expect(kit.last().protocols).toEqual(["voice.v1", `bearer.${jwt(2)}`]);
  });

  it("jitters a short retryAfterS to 75–125 %", async () => {
    const kit = start();
    await settle();
    kit.last().accept();
    kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 8 });
    const { retryInS } = kit.state() as { retryInS: number };
    expect(retryInS).toBeGreaterThanOrEqual(6);
    expect(retryInS).toBeLessThanOrEqual(10);
  });

  it("joins the line on 1013 line:true: position reaches onState, the turn opens the voice socket with ticket.<t>", async () => {
    const kit = start();
    await settle();
    kit.last().accept();
    kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 40, line: true });
    await settle();
    expect(kit.sockets).toHaveLength(2);
    const line = kit.last();
    expect(line.url).toBe("wss://voice.example/voice/line");
    expect(line.protocols).toEqual(["voice.v1", `bearer.${jwt(2)}`]);
    expect(kit.state()).toEqual({
      state: "waiting",
      attempt: 2,
      position: null,
      etaS: null,
      retryInS: null,
    });
    line.accept();
    line.text(JSON.stringify({ type: "position", position: 3, etaS: null }));
    expect(kit.state()).toEqual({
      state: "waiting",
      attempt: 2,
      position: 3,
      etaS: null,
      retryInS: null,
    });
    line.text(JSON.stringify({ type: "position", position: 1, etaS: 42 }));
    expect(kit.state()).toMatchObject({ position: 1, etaS: 42 });
    await seconds(25);
    expect(line.sent).toEqual(["ping"]);
    line.text("pong");
    await seconds(25);
    expect(line.sent).toEqual(["ping", "ping"]);
    line.text(JSON.stringify({ type: "turn", ticket: "T1ck3t", expiresInS: 15 }));
    await settle();
    expect(kit.sockets).toHaveLength(3);
    const voice = kit.last();
    expect(voice.path).toBe("/voice/ws");
    // At position 1 the kit fetched the turn's token ahead, and fresh ones since: the turn takes the latest.
    const turnToken = kit.tokens[kit.tokens.length - 1];
    expect(voice.protocols).toEqual(["voice.v1", `bearer.${turnToken}`, "ticket.T1ck3t"]);
    expect(kit.state()).toEqual({ state: "connecting", attempt: 3 });
    voice.accept();
    line.serverClose(1000);
    voice.frame(0x00);
    expect(kit.state()).toEqual({ state: "ready", attempt: 3 });
    expect(kit.tokens.slice(0, 3)).toEqual([jwt(1), jwt(2), jwt(3)]);
    expect(new Set(kit.tokens).size).toBe(kit.tokens.length);
    expect(kit.attempts.map(({ socket, closeCode }) => [socket, closeCode])).toEqual([
      ["voice", 1013],
      ["line", 1000],
    ]);
  });

  it("with line: false never joins the line", async () => {
    const kit = start({ line: false });
    await settle();
    kit.last().accept();
    kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 2, line: true });
    await seconds(3);
    expect(kit.sockets.map((socket) => socket.path)).toEqual(["/voice/ws", "/voice/ws"]);
  });

  it("fails session_limit when the line closes 4409", async () => {
    const kit = await inLine();
    kit.last().serverClose(4409, { error: "session_limit", limit: 1 });
    expect(kit.state()).toEqual({
      state: "failed",
      reason: "session_limit",
      closeCode: 4409,
      detail: { limit: 1 },
    });
  });

  it("backs off and retries the voice socket when the line closes 1013 line:false", async () => {
    const kit = await inLine();
    kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 5, line: false });
    expect(kit.state()).toMatchObject({ state: "waiting", position: null });
    await seconds(7);
    expect(kit.sockets.map((socket) => socket.path)).toEqual([
      "/voice/ws",
      "/voice/line",
      "/voice/ws",
    ]);
  });

  it("rejoins the line when its socket drops before the turn", async () => {
    const kit = await inLine();
    kit.last().serverClose(1006);
    await seconds(1);
    expect(kit.sockets.map((socket) => socket.path)).toEqual([
      "/voice/ws",
      "/voice/line",
      "/voice/line",
    ]);
    expect(kit.last().protocols).toEqual(["voice.v1", `bearer.${jwt(3)}`]);
  });

  it("after 4410 ticket_refused on the voice socket rejoins the line once, then fails", async () => {
    const kit = await inLine();
    kit.last().text(JSON.stringify({ type: "turn", ticket: "a", expiresInS: 15 }));
    await settle();
    kit.last().accept();
    kit.last().serverClose(4410, { error: "ticket_refused", ticket: "expired" });
    await settle();
    expect(kit.last().path).toBe("/voice/line");
    expect(kit.state().state).toBe("waiting");
    kit.last().accept();
    kit.last().text(JSON.stringify({ type: "turn", ticket: "b", expiresInS: 15 }));
    await settle();
    expect(kit.last().protocols).toContain("ticket.b");
    kit.last().accept();
    kit.last().serverClose(4410, { error: "ticket_refused", ticket: "used" });
    await seconds(60);
    expect(kit.state()).toEqual({
      state: "failed",
      reason: "ticket_refused",
      closeCode: 4410,
      detail: { ticket: "used" },
    });
  });

  it("fails session_options_invalid with the parameter on 4400 and never retries", async () => {
    const kit = start();
    await settle();
    kit.last().accept();
    kit.last().serverClose(4400, { error: "session_options_invalid", parameter: "voice_prompt" });
    expect(kit.state()).toEqual({
      state: "failed",
      reason: "session_options_invalid",
      closeCode: 4400,
      detail: { parameter: "voice_prompt" },
    });
    await seconds(600);
    expect(kit.sockets).toHaveLength(1);
    expect(kit.tokens).toHaveLength(1);
  });

  it("fails session_limit with the limit on 4409", async () => {
    const kit = start();
    await settle();
    kit.last().accept();
    kit.last().serverClose(4409, { error: "session_limit", limit: 2 });
    expect(kit.state()).toMatchObject({ reason: "session_limit", detail: { limit: 2 } });
  });

  it("retries 1014 with exponential backoff, then fails bridge_unavailable", async () => {
    const kit = start({ unavailableRetries: 3 });
    await settle();
    for (let i = 0; i < 4; i++) {
      expect(kit.sockets).toHaveLength(i + 1);
      kit.last().accept();
      kit.last().serverClose(1014, { error: "bridge_unavailable" });
      // The nth retry waits at most 2^(n-1) s.
      await seconds(2 ** i + 0.1);
    }
    expect(kit.sockets).toHaveLength(4);
    expect(kit.state()).toMatchObject({
      state: "failed",
      reason: "bridge_unavailable",
      closeCode: 1014,
    });
    expect(kit.tokens).toEqual([jwt(1), jwt(2), jwt(3), jwt(4)]);
  });

  it.each([
    [200, { status: "ok" }, "refused", { health: "ok" }],
    [200, { status: "busy" }, "refused", { health: "busy" }],
    [
      503,
      { status: "bridge_down", error: "bridge_unavailable" },
      "bridge_unavailable",
      { health: "bridge_down" },
    ],
    [503, { status: "misconfigured" }, "misconfigured", { health: "misconfigured" }],
    [404, { error: "not_found" }, "edge_unreachable", { health: null, httpStatus: 404 }],
  ])(
    "a close before the 101 asks /voice/health once: %i %j → %s",
    async (status, body, reason, detail) => {
      const kit = start({}, () => Promise.resolve(new Response(JSON.stringify(body), { status })));
      await settle();
      kit.last().refuse();
      await settle();
      expect(kit.health).toEqual(["https://voice.example/voice/health"]);
      expect(kit.state()).toEqual({ state: "failed", reason, closeCode: 1006, detail });
      expect(kit.attempts).toEqual([
        { attempt: 1, socket: "voice", closeCode: 1006, reason: null, opened: false, msOpen: null },
      ]);
      await seconds(600);
      expect(kit.sockets).toHaveLength(1);
    },
  );

  it("fails edge_unreachable when /voice/health cannot be fetched", async () => {
    const kit = start({}, () => Promise.reject(new TypeError("Failed to fetch")));
    await settle();
    kit.last().refuse();
    await settle();
    expect(kit.state()).toMatchObject({
      state: "failed",
      reason: "edge_unreachable",
      detail: { error: "TypeError: Failed to fetch" },
    });
  });

  it("reconnects after a drop with newConversation: true and a fresh token, up to `reconnects` in a row", async () => {
    const kit = start({ reconnects: 2 });
    await settle();
    for (let i = 0; i < 3; i++) {
      const socket = kit.last();
      socket.accept();
      socket.frame(0x00);
      expect(kit.state().state).toBe("ready");
      socket.serverClose(1006);
      if (i === 2) break;
      const reconnecting = kit.state();
      expect(reconnecting).toMatchObject({
        state: "reconnecting",
        attempt: i + 1,
        newConversation: true,
        closeCode: 1006,
      });
      await seconds((reconnecting as { retryInS: number }).retryInS + 0.1);
      expect(kit.sockets).toHaveLength(i + 2);
      expect(kit.last().protocols).toEqual(["voice.v1", `bearer.${jwt(i + 2)}`]);
    }
    expect(kit.state()).toMatchObject({ state: "failed", reason: "bridge_unavailable" });
  });

  it("ends closed on a clean 1000 from the bridge", async () => {
    const kit = start();
    await settle();
    kit.last().accept();
    kit.last().frame(0x00);
    kit.last().serverClose(1000);
    await expect(kit.connection.done).resolves.toEqual({ state: "closed", closeCode: 1000 });
    await seconds(600);
    expect(kit.sockets).toHaveLength(1);
  });

  it("close() ends everything: the socket closes, no retry follows", async () => {
    const kit = await inLine();
    kit.connection.close();
    expect(kit.state()).toEqual({ state: "closed", closeCode: 1000 });
    expect(kit.last().closedByKit).toBe(1000);
    await seconds(600);
    expect(kit.sockets).toHaveLength(2);
    expect(kit.attempts.map((report) => report.socket)).toEqual(["voice", "line"]);
  });

  it("reports every socket's close code and reason to onAttempt", async () => {
    const kit = start({ line: false });
    await settle();
    kit.last().accept();
    kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 1 });
    await seconds(2);
    kit.last().accept();
    kit.last().serverClose(4400, { error: "session_options_invalid", parameter: "text_prompt" });
    expect(kit.attempts).toEqual([
      {
        attempt: 1,
        socket: "voice",
        closeCode: 1013,
        reason: { error: "bridge_busy", retryAfterS: 1 },
        opened: true,
        msOpen: 0,
      },
      {
        attempt: 2,
        socket: "voice",
        closeCode: 4400,
        reason: { error: "session_options_invalid", parameter: "text_prompt" },
        opened: true,
        msOpen: 0,
      },
    ]);
  });

  it("gives up bridge_busy after giveUpAfterS of waiting", async () => {
    const kit = await inLine({ giveUpAfterS: 120 });
    await seconds(119);
    expect(kit.state().state).toBe("waiting");
    await seconds(2);
    expect(kit.state()).toMatchObject({ state: "failed", reason: "bridge_busy", closeCode: 1013 });
    expect(kit.last().closedByKit).toBe(1000);
  });
});

/** Frames a socket was sent, as byte lists. */
const sentBytes = (socket: FakeSocket) =>
  socket.sent.map((frame) => [...new Uint8Array(frame as ArrayBuffer)]);

/** Answers the kit's voice sockets 1013 line:true and drops each line socket after `openS` seconds (a position first); at most `rounds` sockets. */
async function dropEveryLineSocket(kit: Harness, openS: number, rounds: number): Promise<void> {
  for (let i = 0; i < rounds && !["failed", "closed"].includes(kit.state().state); i++) {
    const socket = kit.last();
    if (socket.readyState === 3) {
      await seconds(1);
      continue;
    }
    socket.accept();
    if (socket.path === "/voice/ws") {
      socket.serverClose(1013, { error: "bridge_busy", retryAfterS: 5, line: true });
      await settle();
      continue;
    }
    socket.text(JSON.stringify({ type: "position", position: 1, etaS: null }));
    await seconds(openS);
    socket.serverClose(1006);
    // Past the longest backoff the kit may take (30 s).
    await seconds(31);
  }
}

describe("what the review found", () => {
  it("close(1001) (a code browsers refuse) does not throw: the socket closes 1000 and the kit ends closed", async () => {
    const kit = start();
    await settle();
    const socket = kit.last();
    socket.accept();
    socket.frame(0x00);
    expect(() => kit.connection.close(1001)).not.toThrow();
    expect(socket.closedByKit).toBe(1000);
    await expect(kit.connection.done).resolves.toEqual({ state: "closed", closeCode: 1000 });
    expect(kit.states.at(-1)).toEqual({ state: "closed", closeCode: 1000 });
  });

  it("close(4000) keeps a page's own code; close(1.5), close(5000) send 1000", async () => {
    for (const [code, sent] of [
      [4000, 4000],
      [1.5, 1000],
      [5000, 1000],
      [2999, 1000],
    ]) {
      const kit = await inLine();
      const line = kit.last();
      kit.connection.close(code);
      expect(line.closedByKit).toBe(1000);
      expect(kit.state()).toEqual({ state: "closed", closeCode: sent });
    }
  });

  it("drops frames held for a handshake when the kit goes waiting, and holds none while in line", async () => {
    const kit = start();
    await settle();
    kit.connection.send(new Uint8Array([1, 1]));
    kit.last().accept();
    kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 5, line: true });
    await settle();
    kit.last().accept();
    kit.last().text(JSON.stringify({ type: "position", position: 1, etaS: 10 }));
    for (let i = 0; i < 400; i++) kit.connection.send(new Uint8Array([1, 2]));
    kit.last().text(JSON.stringify({ type: "turn", ticket: "t", expiresInS: 15 }));
    await settle();
    const voice = kit.last();
    kit.connection.send(new Uint8Array([1, 3]));
    voice.accept();
    voice.frame(0x00);
    expect(kit.state().state).toBe("ready");
    expect(sentBytes(voice)).toEqual([[1, 3]]);
  });

  it("drops frames sent while reconnecting: the new conversation hears none of the old one", async () => {
    const kit = start();
    await settle();
    kit.last().accept();
    kit.last().frame(0x00);
    kit.last().serverClose(1006);
    expect(kit.state().state).toBe("reconnecting");
    for (let i = 0; i < 50; i++) kit.connection.send(new Uint8Array([1, 9]));
    await seconds(1.1);
    const next = kit.last();
    expect(kit.sockets).toHaveLength(2);
    next.accept();
    next.frame(0x00);
    expect(next.sent).toEqual([]);
  });

  it("a page callback that throws does not stop the kit: its errors go to reportError", async () => {
    const reported: unknown[] = [];
    vi.stubGlobal("reportError", (error: unknown) => reported.push(error));
    try {
      const thrower = () => {
        throw new Error("page bug");
      };
      const kit = start({ onState: thrower, onFrame: thrower, onAttempt: thrower });
      await settle();
      expect(kit.sockets).toHaveLength(1);
      kit.last().accept();
      kit.last().frame(0x00);
      expect(kit.state().state).toBe("ready");
      kit.last().frame(0x01, 0xaa);
      expect(kit.state().state).toBe("live");
      kit.last().serverClose(1000);
      await expect(kit.connection.done).resolves.toEqual({ state: "closed", closeCode: 1000 });
      // connecting, ready, live, closed; one frame; one attempt.
      expect(reported).toHaveLength(6);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it(`a rejoin after a drop that gets 4409 is retried ${LINE_REJOIN_LIMIT_RETRIES} times, a few seconds apart, then fails session_limit`, async () => {
    const kit = await inLine();
    kit.last().serverClose(1006);
    await seconds(1);
    for (let retry = 0; retry <= LINE_REJOIN_LIMIT_RETRIES; retry++) {
      expect(kit.last().path).toBe("/voice/line");
      kit.last().accept();
      kit.last().serverClose(4409, { error: "session_limit", limit: 1 });
      if (retry === LINE_REJOIN_LIMIT_RETRIES) break;
      const { retryInS } = kit.state() as { retryInS: number };
      expect(kit.state()).toMatchObject({ state: "waiting", position: null });
      expect(retryInS).toBeGreaterThanOrEqual(LINE_REJOIN_LIMIT_WAIT_S * 0.75);
      expect(retryInS).toBeLessThanOrEqual(LINE_REJOIN_LIMIT_WAIT_S * 1.25);
      await seconds(retryInS + 0.1);
    }
    expect(kit.state()).toEqual({
      state: "failed",
      reason: "session_limit",
      closeCode: 4409,
      detail: { limit: 1 },
    });
    expect(kit.sockets.map((socket) => socket.path)).toEqual([
      "/voice/ws",
      "/voice/line",
      ...Array(LINE_REJOIN_LIMIT_RETRIES + 1).fill("/voice/line"),
    ]);
  });

  it("a line socket that says its position and drops is rejoined a bounded number of times, with backoff, then failed line_unavailable", async () => {
    const kit = await inLine({ reconnects: 3 });
    kit.last().serverClose(1006);
    await seconds(0.4);
    // The first rejoin waits 0.5–1 s; the next ones longer.
    expect(kit.sockets).toHaveLength(2);
    await seconds(1);
    await dropEveryLineSocket(kit, 1, 20);
    expect(kit.state()).toMatchObject({
      state: "failed",
      reason: "line_unavailable",
      detail: { drops: 5 },
    });
    // The first join, 3 rejoins, the voice socket once, its line: 5 drops.
    expect(kit.sockets.map((socket) => socket.path)).toEqual([
      "/voice/ws",
      "/voice/line",
      "/voice/line",
      "/voice/line",
      "/voice/line",
      "/voice/ws",
      "/voice/line",
    ]);
    expect(new Set(kit.tokens).size).toBe(kit.tokens.length);
  });

  it(`a line socket that stayed open ${STABLE_LINE_S} s before it dropped starts the count afresh`, async () => {
    const kit = await inLine({ reconnects: 1 });
    await seconds(STABLE_LINE_S);
    kit.last().serverClose(1006);
    await seconds(1);
    await dropEveryLineSocket(kit, STABLE_LINE_S, 8);
    expect(kit.state().state).toBe("waiting");
    expect(kit.sockets.map((socket) => socket.path)).toEqual([
      "/voice/ws",
      ...Array(10).fill("/voice/line"),
    ]);
  });

  it.each([
    ["an HTML page", "<!doctype html><html>nope</html>", "not_a_jwt"],
    ["a blank answer", " \n", "empty"],
    ["no string", { token: jwt(1) }, "not_a_string"],
  ])(
    "fails token_unavailable when getToken gives %s, without the value in detail",
    async (_, value, problem) => {
      const kit = start({ getToken: () => value as string });
      await settle();
      expect(kit.sockets).toHaveLength(0);
      expect(kit.state()).toEqual({
        state: "failed",
        reason: "token_unavailable",
        closeCode: null,
        detail: { problem },
      });
    },
  );

  it("trims the token getToken gives (a trailing newline)", async () => {
    const kit = start({ getToken: () => jwt(7) + "\n" });
    await settle();
    expect(kit.last().protocols).toEqual(["voice.v1", `bearer.${jwt(7)}`]);
  });

  it("never puts the browser's message (it names the subprotocols, the token too) in socket_not_created's detail", async () => {
    const Throwing = function (_url: string, protocols: string[]) {
      throw new DOMException(`The subprotocol '${protocols[1]}' is invalid.`, "SyntaxError");
    } as unknown as typeof WebSocket;
    const kit = start({ WebSocket: Throwing });
    await settle();
    expect(kit.state()).toEqual({
      state: "failed",
      reason: "socket_not_created",
      closeCode: null,
      detail: { error: "SyntaxError" },
    });
    expect(JSON.stringify(kit.states)).not.toContain("jwt-1");
  });

  it("throws a TypeError at once naming getToken when no token source is given", () => {
    expect(() =>
      connectVoice({ url: URL_WS, query: QUERY } as unknown as ConnectVoiceOptions),
    ).toThrow(TypeError);
    expect(() =>
      connectVoice({ url: URL_WS, query: QUERY } as unknown as ConnectVoiceOptions),
    ).toThrow(/`getToken`.*`cookie: true`.*`noToken: true`/);
  });

  it("offers only voice.v1 with noToken (the edge's auth off)", async () => {
    const kit = start({ noToken: true, getToken: undefined });
    await settle();
    expect(kit.last().protocols).toEqual(["voice.v1"]);
    expect(kit.tokens).toEqual([]);
  });

  it("throws a TypeError naming url for a relative url outside a page, and resolves it against the page in one", async () => {
    expect(() => start({ url: "/voice/ws" })).toThrow(TypeError);
    expect(() => start({ url: "/voice/ws" })).toThrow(/`url`/);
    vi.stubGlobal("document", {});
    vi.stubGlobal("location", { href: "https://voice.example/talk/index.html" });
    try {
      const kit = start({ url: "/voice/ws" });
      await settle();
      expect(kit.last().url).toBe(
        `wss://voice.example/voice/ws?${new URLSearchParams(QUERY).toString()}`,
      );
      kit.last().accept();
      kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 5, line: true });
      await settle();
      expect(kit.last().url).toBe("wss://voice.example/voice/line");
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("counts handshakeTimeoutMs from the attempt's start: a getToken that never answers times out", async () => {
    const kit = start({ handshakeTimeoutMs: 5_000, getToken: () => new Promise<string>(() => {}) });
    await seconds(5.1);
    expect(kit.state()).toEqual({
      state: "failed",
      reason: "handshake_timeout",
      closeCode: null,
      detail: { timeoutMs: 5_000, opened: false },
    });
    expect(kit.sockets).toHaveLength(0);
  });

  async function servedByTurn(maxSessionMinutes: number) {
    const kit = await inLine();
    kit
      .last()
      .text(JSON.stringify({ type: "turn", ticket: "t", expiresInS: 15, maxSessionMinutes }));
    await settle();
    kit.last().accept();
    kit.last().frame(0x00);
    return kit;
  }

  it("ends closed with reason session_cap when the guard ends the session at the turn's maxSessionMinutes (1006), no reconnect", async () => {
    const kit = await servedByTurn(2);
    await seconds(2 * 60 - SESSION_CAP_SLACK_S + 1);
    expect(kit.state().state).toBe("ready");
    kit.last().serverClose(1006);
    expect(kit.state()).toEqual({ state: "closed", closeCode: 1006, reason: "session_cap" });
    await seconds(600);
    expect(kit.sockets).toHaveLength(3);
  });

  it("still reconnects a drop well before the cap", async () => {
    const kit = await servedByTurn(2);
    await seconds(60);
    kit.last().serverClose(1006);
    expect(kit.state()).toMatchObject({ state: "reconnecting", newConversation: true });
  });

  it("takes the cap from the maxSessionMinutes option without the line", async () => {
    const kit = start({ maxSessionMinutes: 1, line: false });
    await settle();
    kit.last().accept();
    kit.last().frame(0x00);
    await seconds(61);
    kit.last().serverClose(1006);
    await expect(kit.connection.done).resolves.toEqual({
      state: "closed",
      closeCode: 1006,
      reason: "session_cap",
    });
  });
});

/** Waits out one backoff the kit announced (`retryInS` of its state), else the longest one. */
async function waitOutRetry(kit: Harness): Promise<void> {
  const retryInS = (kit.state() as { retryInS?: number | null }).retryInS;
  await seconds((typeof retryInS === "number" ? retryInS : 30) + 0.1);
}

describe("what the second review found", () => {
  it("after a live conversation drops, a reconnect closed before its 101 counts against `reconnects`; the spent budget asks /voice/health once", async () => {
    const kit = start({ reconnects: 2 });
    await settle();
    kit.last().accept();
    kit.last().frame(0x00);
    kit.last().frame(0x01, 7);
    expect(kit.state().state).toBe("live");
    kit.last().serverClose(1006);
    expect(kit.state()).toMatchObject({ state: "reconnecting", closeCode: 1006 });
    await waitOutRetry(kit);
    // The edge restarting: no 101.
    kit.last().refuse();
    await settle();
    expect(kit.state()).toMatchObject({ state: "reconnecting", newConversation: true });
    expect(kit.health).toEqual([]);
    await waitOutRetry(kit);
    expect(kit.sockets).toHaveLength(3);
    kit.last().refuse();
    await settle();
    expect(kit.state()).toMatchObject({ state: "failed", reason: "refused", closeCode: 1006 });
    expect(kit.health).toHaveLength(1);
    await seconds(600);
    expect(kit.sockets).toHaveLength(3);
  });

  it("a line rejoin closed before its 101 counts against the line's drops (waiting, backoff); the spent budget asks /voice/health once; the kit never closes a line socket it means to come back to", async () => {
    const kit = await inLine({ reconnects: 2 });
    kit.last().serverClose(1006);
    await seconds(1.1);
    expect(kit.last().path).toBe("/voice/line");
    kit.last().refuse();
    await settle();
    expect(kit.state()).toMatchObject({ state: "waiting", position: null });
    expect(kit.health).toEqual([]);
    for (let i = 0; i < 3 && kit.state().state === "waiting"; i++) {
      await seconds(31);
      kit.last().refuse();
      await settle();
    }
    // Two rejoins, the voice socket once, then /voice/health.
    expect(kit.sockets.map((socket) => socket.path)).toEqual([
      "/voice/ws",
      "/voice/line",
      "/voice/line",
      "/voice/line",
      "/voice/ws",
    ]);
    expect(kit.state()).toMatchObject({ state: "failed", reason: "refused", closeCode: 1006 });
    expect(kit.health).toHaveLength(1);
    expect(kit.sockets.map((socket) => socket.closedByKit)).toEqual(
      Array(kit.sockets.length).fill(undefined),
    );
  });

  it("a first connect closed before its 101 still asks /voice/health at once", async () => {
    const kit = start({ reconnects: 3 });
    await settle();
    kit.last().refuse();
    await settle();
    expect(kit.state()).toMatchObject({ state: "failed", reason: "refused" });
    expect(kit.sockets).toHaveLength(1);
  });

  it("a getToken slower than the turn's expiresInS still takes its turn: at position 1 the kit fetched its token ahead", async () => {
    const TOKEN_S = 20;
    const EXPIRES_IN_S = 15;
    let minted = 0;
    const kit = start({
      getToken: () =>
        new Promise<string>((resolve) => setTimeout(() => resolve(jwt(++minted)), TOKEN_S * 1000)),
      handshakeTimeoutMs: 60_000,
    });
    await seconds(TOKEN_S);
    kit.last().accept();
    kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 5, line: true });
    await seconds(TOKEN_S);
    const line = kit.last();
    expect(line.path).toBe("/voice/line");
    line.accept();
    line.text(JSON.stringify({ type: "position", position: 1, etaS: 30 }));
    await seconds(45);
    line.text(JSON.stringify({ type: "turn", ticket: "T", expiresInS: EXPIRES_IN_S }));
    await settle();
    // The edge's side: a ticket redeemed within expiresInS is honoured.
    const voice = kit.last();
    expect(voice.protocols).toContain("ticket.T");
    voice.accept();
    voice.frame(0x00);
    expect(kit.state().state).toBe("ready");
    const token = voice.protocols.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
    expect(token).toBe(`${BEARER_PROTOCOL_PREFIX}${jwt(minted)}`);
  });

  it(`a token fetched ahead more than ${TOKEN_PREFETCH_MAX_AGE_S} s before the turn is not used: the turn fetches a fresh one`, async () => {
    const kit = await inLine();
    kit.last().text(JSON.stringify({ type: "position", position: 1, etaS: null }));
    await settle();
    const ahead = kit.tokens[kit.tokens.length - 1];
    // The line socket closes (its place kept): no refresh while the kit is out of line.
    kit.last().serverClose(1006);
    await seconds(TOKEN_PREFETCH_MAX_AGE_S + 1);
    kit.last().accept();
    kit.last().text(JSON.stringify({ type: "turn", ticket: "T", expiresInS: 15 }));
    await settle();
    expect(kit.last().protocols).toContain("ticket.T");
    expect(kit.last().protocols).not.toContain(`${BEARER_PROTOCOL_PREFIX}${ahead}`);
    expect(new Set(kit.tokens).size).toBe(kit.tokens.length);
  });

  it("says waiting at once when it decides to join the line, before the line's token arrives", async () => {
    let release: ((token: string) => void) | null = null;
    let calls = 0;
    const kit = start({
      getToken: () =>
        ++calls === 1 ? jwt(1) : new Promise<string>((resolve) => (release = resolve)),
    });
    await settle();
    kit.last().accept();
    kit.last().serverClose(1013, { error: "bridge_busy", retryAfterS: 5, line: true });
    await settle();
    expect(kit.sockets).toHaveLength(1);
    expect(kit.state()).toEqual({
      state: "waiting",
      attempt: 2,
      position: null,
      etaS: null,
      retryInS: null,
    });
    release!(jwt(2));
    await settle();
    expect(kit.last().path).toBe("/voice/line");
  });

  it.each([
    ["unavailableRetries", "x"],
    ["unavailableRetries", 1.5],
    ["reconnects", NaN],
    ["reconnects", -1],
    ["handshakeTimeoutMs", -5],
    ["handshakeTimeoutMs", Infinity],
    ["maxBusyWaitS", 0],
    ["giveUpAfterS", "60"],
    ["maxSessionMinutes", NaN],
    ["healthUrl", "::::"],
    ["healthUrl", "wss://voice.example/voice/health"],
  ])("throws a TypeError naming %s for %j", (name, value) => {
    expect(() => start({ [name]: value } as Overrides)).toThrow(TypeError);
    expect(() => start({ [name]: value } as Overrides)).toThrow(`\`${name}\``);
  });

  it("takes a relative healthUrl against the page, and 0 retries", async () => {
    expect(() => start({ healthUrl: "/health" })).toThrow(/`healthUrl`/);
    vi.stubGlobal("document", {});
    vi.stubGlobal("location", { href: "https://voice.example/talk/index.html" });
    try {
      const kit = start({ healthUrl: "/health", reconnects: 0, unavailableRetries: 0 });
      await settle();
      kit.last().refuse();
      await settle();
      expect(kit.health).toEqual(["https://voice.example/health"]);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

const PHASES = {
  voice: {
    before_open: "before the 101",
    before_ready: "after the 101, before the 0x00",
    after_ready: "after the 0x00",
  },
  line: { before_open: "before the 101", before_ready: "in line", after_ready: "in line" },
} as const;

/** What the kit does for one action, in the doc's words; the action itself comes from closeAction. */
function describeAction(action: ReturnType<typeof closeAction>, socket: string): string {
  switch (action.kind) {
    case "closed":
      return "`closed`";
    case "fail":
      return (
        `\`failed\` \`${action.reason}\`, \`detail\` \`${JSON.stringify(action.detail)}\`; no retry` +
        (socket === "line" && action.reason === "session_limit"
          ? ` (but a rejoin after a drop retries it ${LINE_REJOIN_LIMIT_RETRIES} times, ${LINE_REJOIN_LIMIT_WAIT_S} s × 0.75–1.25 apart: the old socket may still look open)`
          : "")
      );
    case "check_health":
      return "a first connect: asks `/voice/health` once, then `failed`: `edge_unreachable` (no answer), `misconfigured`, `bridge_unavailable` (`bridge_down`) or `refused` (`ok`/`busy`: the page's origin or token was refused; `detail.health`). After a conversation or a place in line: a drop (below)";
    case "busy":
      return action.line
        ? "joins the line at `/voice/line` (unless the option `line` is false): `waiting` with `position` and `etaS`; its turn opens the voice socket with `ticket.<ticket>`"
        : `\`waiting\` with \`retryInS\`: \`retryAfterS\` (${action.retryAfterS}) jittered to 75–125 %, at most \`maxBusyWaitS\`; then a new ${socket === "line" ? "voice socket (not the line)" : "voice socket"}`;
    case "unavailable":
      return "a new voice socket after an exponential backoff (1, 2, 4 s…, jittered), up to `unavailableRetries` in a row; then `failed` `bridge_unavailable`";
    case "reconnect":
      return '`reconnecting` with `newConversation: true` and `retryInS` (exponential backoff); a new voice socket, a new conversation; up to `reconnects` in a row, then `failed` `bridge_unavailable`. A drop at the session cap (`maxSessionMinutes`) instead: `closed` with `reason: "session_cap"`';
    case "ticket_refused":
      return `back to the line once; refused again: \`failed\` \`ticket_refused\`, \`detail\` \`${JSON.stringify(action.detail)}\``;
    case "rejoin_line":
      return `rejoins the line after a backoff (1, 2, 4 s…, jittered; the place is kept for the line's grace period); after \`reconnects\` drops in a row (a line socket open ${STABLE_LINE_S} s, or a \`0x00\`, starts the count afresh) backs off and tries the voice socket once; one drop more: \`failed\` \`line_unavailable\``;
  }
}

/** The close-code table as docs/client-kit.md shows it, formatted as Prettier formats markdown. */
async function closeTableMarkdown(): Promise<string> {
  const { format, resolveConfig } = await import("prettier");
  const doc = join(PROJECT_ROOT, "docs", "client-kit.md");
  const rows = CLOSE_TABLE_CASES.map(([socket, phase, code, reason]) => {
    const text = typeof reason === "string" ? reason : JSON.stringify(reason);
    const action = closeAction(code, text, phase, socket);
    return `| ${socket} | ${PHASES[socket][phase]} | \`${code}\` | ${text === "" ? "—" : `\`${text}\``} | ${describeAction(action, socket)} |`;
  });
  const table = [
    "| socket | closed | code | reason | the kit |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
  return format(table, { ...(await resolveConfig(doc)), parser: "markdown" });
}

const TABLE_START = "<!-- close-code table: kit/voice.test.ts writes it -->";
const TABLE_END = "<!-- end of the close-code table -->";

describe("docs/client-kit.md", () => {
  it("holds the close-code table closeAction answers, so the doc cannot drift from the code", async () => {
    const doc = readFileSync(join(PROJECT_ROOT, "docs", "client-kit.md"), "utf8");
    const start = doc.indexOf(TABLE_START);
    const end = doc.indexOf(TABLE_END);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    const expected = (await closeTableMarkdown()).trim();
    expect(doc.slice(start + TABLE_START.length, end).trim(), "paste closeTableMarkdown()").toBe(
      expected,
    );
  });

  it("lists every export in its Exports section, stable or helper, and nothing else", async () => {
    const doc = readFileSync(join(PROJECT_ROOT, "docs", "client-kit.md"), "utf8");
    const section = doc.slice(doc.indexOf("\n## Exports\n")).split(/\n## /)[1];
    const listed = [...section.matchAll(/^\| `(\w+)`/gm)].map((match) => match[1]);
    const source = readFileSync(join(PROJECT_ROOT, "kit", "voice.ts"), "utf8");
    const typeNames = [...source.matchAll(/^export (?:type|interface) (\w+)/gm)].map((m) => m[1]);
    const runtimeNames = Object.keys(await import("./voice"));
    expect([...listed].sort()).toEqual([...runtimeNames, ...typeNames].sort());
    expect(new Set(listed).size).toBe(listed.length);
  });
});

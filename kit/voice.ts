/**
 * The voice edge's client kit (v1): one ES module with no dependencies that connects a page to
 * `wss://<site>/voice/ws` the way the edge's contract asks (docs/edge-contract.md): a fresh token per
 * socket, outgoing frames held until the bridge's 0x00, every close code acted on, the waiting line
 * joined when the edge offers it, and states a page can render. docs/client-kit.md is its guide.
 *
 * Browser globals only (WebSocket, fetch, setTimeout, Math.random, URL): the edge's own names are
 * spelled here again, and kit/voice.test.ts holds each equal to the edge's source.
 */

export const KIT_VERSION = "1" as const;

/** The application subprotocol every socket offers, beside the bearer or ticket entries. */
export const VOICE_PROTOCOL = "voice.v1";
export const BEARER_PROTOCOL_PREFIX = "bearer.";
export const TICKET_PROTOCOL_PREFIX = "ticket.";
export const DEFAULT_QUERY_PARAMETER = "access_token";
export const LINE_PATH_SEGMENT = "line";
export const HEALTH_PATH = "/voice/health";

/** The close codes the edge gives after authentication (worker/src/errors.ts `SESSION_CLOSE_CODES`). */
export const CLOSE_CODES = {
  bridge_busy: 1013,
  session_options_invalid: 4400,
  bridge_unavailable: 1014,
  session_limit: 4409,
  ticket_refused: 4410,
} as const;

/** A text `ping` on the line socket at least this often: Cloudflare closes sockets idle for about 100 s. */
export const LINE_KEEPALIVE_MS = 25_000;
/** Frames `send()` holds before the 0x00 at most; the oldest go first (a long wait in line). */
export const MAX_HELD_FRAMES = 1_000;
/** First backoff after a 1014 or a drop; doubled each time, never over BACKOFF_MAX_S. */
export const BACKOFF_BASE_S = 1;
export const BACKOFF_MAX_S = 30;
/** A session that stayed up this long after its 0x00 starts the reconnect count afresh. */
export const STABLE_SESSION_S = 60;
/** A line socket that stayed open this long starts the line's drop count afresh. */
export const STABLE_LINE_S = 30;
/** A rejoin of the line after a drop that gets 4409 (the old socket may still look open) is retried this often… */
export const LINE_REJOIN_LIMIT_RETRIES = 3;
/** …this many seconds apart, jittered to 75–125 %. */
export const LINE_REJOIN_LIMIT_WAIT_S = 3;
/** At position 1 in line the kit fetches the turn's token ahead; one older than this (from its arrival) is not used… */
export const TOKEN_PREFETCH_MAX_AGE_S = 30;
/** …and this long after one arrives, while still at position 1, the next is fetched. */
export const TOKEN_PREFETCH_REFRESH_S = 20;
/** A drop this close to the session cap (or past it) is the cap ending the session, not a fault. */
export const SESSION_CAP_SLACK_S = 5;

export type VoiceState =
  | { state: "connecting"; attempt: number }
  | {
      state: "waiting";
      attempt: number;
      position: number | null;
      etaS: number | null;
      retryInS: number | null;
    }
  | { state: "ready"; attempt: number }
  | { state: "live"; attempt: number }
  | {
      state: "reconnecting";
      attempt: number;
      newConversation: true;
      retryInS: number;
      closeCode: number;
    }
  | {
      state: "failed";
      reason: string;
      closeCode: number | null;
      detail: Record<string, unknown>;
    }
  | {
      state: "closed";
      closeCode: number | null;
      /** `session_cap`: the guard ended the session at `maxSessionMinutes` (close 1006); the kit does not reconnect. */
      reason?: "session_cap";
    };

export type VoiceStateName = VoiceState["state"];

export interface AttemptReport {
  attempt: number;
  socket: "voice" | "line";
  closeCode: number | null;
  reason: Record<string, unknown> | null;
  opened: boolean;
  msOpen: number | null;
}

/** Where each socket's token comes from: exactly one of these. */
export type TokenSource =
  | {
      /** Called once per socket the kit opens (voice and line): a JWT for that socket alone. */
      getToken: () => string | Promise<string>;
      cookie?: false;
      noToken?: false;
    }
  | {
      /** The token rides in a cookie the site's backend set: only `voice.v1` is offered. */
      cookie: true;
      getToken?: undefined;
      noToken?: false;
    }
  | {
      /** The edge's auth is off (`edge.auth.mode: off`): only `voice.v1` is offered. */
      noToken: true;
      getToken?: undefined;
      cookie?: false;
    };

export type ConnectVoiceOptions = ConnectVoiceSettings & TokenSource;

export interface ConnectVoiceSettings {
  /** `wss://<site>/voice/ws`; in a page also a URL relative to the page (`/voice/ws`), `https:` read as `wss:`. */
  url: string;
  /** Default `subprotocol` (`["voice.v1", "bearer.<jwt>"]`); `query` puts the token in the URL. */
  tokenTransport?: "subprotocol" | "query";
  /** For the query transport; default `access_token`. */
  queryParameter?: string;
  /** Session options: `text_prompt`, `voice_prompt`, … */
  query: Record<string, string> | URLSearchParams;
  onState?: (state: VoiceState) => void;
  /** Every binary frame after the 0x00, kind byte first. */
  onFrame?: (frame: Uint8Array) => void;
  /** One report per socket the kit opened, when it closes. */
  onAttempt?: (report: AttemptReport) => void;
  /** Default 30 000: from the attempt's start (`connecting`, before `getToken`), the token, the 101 and the 0x00 must all arrive within it. */
  handshakeTimeoutMs?: number;
  /** The stack's session cap in minutes, when the page knows it (the line's `turn` message says it too). */
  maxSessionMinutes?: number;
  /** Cap on one wait after a 1013, in seconds (default 30). */
  maxBusyWaitS?: number;
  /** Total seconds busy (backing off or in line) before failing `bridge_busy`; default never. */
  giveUpAfterS?: number;
  /** Default true: join `/voice/line` when the edge offers a place. */
  line?: boolean;
  /** Default: `url` with its last path segment replaced by `line`. */
  lineUrl?: string;
  /** Default: `<origin>/voice/health`. */
  healthUrl?: string;
  /** 1014s in a row retried with exponential backoff (default 3). */
  unavailableRetries?: number;
  /** Drops after the 0x00 reconnected in a row (default 3). */
  reconnects?: number;
  /** Tests only. */
  WebSocket?: typeof WebSocket;
  /** Tests only. */
  fetch?: typeof fetch;
}

export interface VoiceConnection {
  /** Held until the bridge's 0x00, then sent. */
  send(frame: Uint8Array | ArrayBuffer): void;
  /** Ends everything: state `closed`. `code`: 1000 (default) or 3000–4999; any other is sent as 1000 (browsers refuse it). Never throws. */
  close(code?: number): void;
  readonly state: VoiceState;
  /** Resolves with the final `failed` or `closed` state. */
  readonly done: Promise<VoiceState>;
}

/** Where a socket was when it closed. */
export type ClosePhase =
  /** No 101: the browser says 1006 and nothing more. */
  | "before_open"
  /** The 101 came (the line socket: in line), the bridge's 0x00 not yet. */
  | "before_ready"
  /** After the bridge's 0x00. */
  | "after_ready";

export type SocketKind = AttemptReport["socket"];

/** What the kit does about one close: `closeAction`'s answer. */
export type CloseAction =
  /** The conversation ended cleanly: state `closed`. */
  | { kind: "closed" }
  /** Nothing a retry can mend: state `failed`. */
  | { kind: "fail"; reason: string; detail: Record<string, unknown> }
  /** Every bridge busy: join the line when `line` (and the page allows it), else wait `retryAfterS` (jittered, capped) and try again. */
  | { kind: "busy"; retryAfterS: number; line: boolean }
  /** The bridge is unreachable: retry with exponential backoff, then fail `bridge_unavailable`. */
  | { kind: "unavailable" }
  /** Refused before the upgrade (origin, token) or the edge is down: ask `/voice/health` once, then fail. */
  | { kind: "check_health" }
  /** A drop mid-conversation: reconnect with backoff; the next session is a new conversation. */
  | { kind: "reconnect" }
  /** A turn's ticket refused on the voice socket: back to the line once, then fail `ticket_refused`. */
  | { kind: "ticket_refused"; detail: Record<string, unknown> }
  /** The line socket dropped before its turn: rejoin it (its place is kept a while) after a backoff. */
  | { kind: "rejoin_line" };

const RETRY_AFTER_FALLBACK_S = 5;

/** A close reason as the edge writes it (short JSON), or null. */
export function parseReason(reason: unknown): Record<string, unknown> | null {
  if (typeof reason === "object" && reason !== null && !Array.isArray(reason))
    return reason as Record<string, unknown>;
  if (typeof reason !== "string" || reason === "") return null;
  try {
    const parsed: unknown = JSON.parse(reason);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : { text: reason };
  } catch {
    return { text: reason };
  }
}

function busyOf(reason: Record<string, unknown> | null, lineOffered: boolean): CloseAction {
  const retryAfterS = reason?.retryAfterS;
  return {
    kind: "busy",
    retryAfterS:
      typeof retryAfterS === "number" && retryAfterS > 0 ? retryAfterS : RETRY_AFTER_FALLBACK_S,
    line: lineOffered && reason?.line === true,
  };
}

/**
 * The close-code table: what the kit does about a socket's close, from its code, its JSON reason,
 * where the socket was (`phase`) and which socket it was. Pure; docs/client-kit.md tabulates it.
 */
export function closeAction(
  code: number,
  reason: unknown,
  phase: ClosePhase,
  socket: SocketKind = "voice",
): CloseAction {
  const said = parseReason(reason);
  if (phase === "before_open") return { kind: "check_health" };
  if (socket === "line") {
    if (code === CLOSE_CODES.session_limit)
      return { kind: "fail", reason: "session_limit", detail: { limit: said?.limit ?? null } };
    if (code === CLOSE_CODES.bridge_busy) return busyOf(said, false);
    return { kind: "rejoin_line" };
  }
  if (phase === "after_ready") return code === 1000 ? { kind: "closed" } : { kind: "reconnect" };
  switch (code) {
    case 1000:
      return { kind: "closed" };
    case CLOSE_CODES.bridge_busy:
      return busyOf(said, true);
    case CLOSE_CODES.session_options_invalid:
      return {
        kind: "fail",
        reason: "session_options_invalid",
        detail: { parameter: said?.parameter ?? null },
      };
    case CLOSE_CODES.session_limit:
      return { kind: "fail", reason: "session_limit", detail: { limit: said?.limit ?? null } };
    case CLOSE_CODES.ticket_refused:
      return { kind: "ticket_refused", detail: { ticket: said?.ticket ?? null } };
    default:
      return { kind: "unavailable" };
  }
}

/** What `/voice/health` says about a socket that closed before its 101. */
export function healthFailure(answer: { status: number; body: unknown } | { error: string }): {
  reason: string;
  detail: Record<string, unknown>;
} {
  if ("error" in answer) return { reason: "edge_unreachable", detail: { error: answer.error } };
  const body = parseReason(answer.body) ?? {};
  const status = typeof body.status === "string" ? body.status : null;
  if (status === "ok" || status === "busy")
    return { reason: "refused", detail: { health: status } };
  if (status === "misconfigured") return { reason: "misconfigured", detail: { health: status } };
  if (status === "bridge_down") return { reason: "bridge_unavailable", detail: { health: status } };
  return { reason: "edge_unreachable", detail: { health: status, httpStatus: answer.status } };
}

/** Exponential backoff in seconds for the `n`th retry in a row (1-based), jittered to 50–100 %. */
export function backoffS(n: number, random: () => number = Math.random): number {
  const full = Math.min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (n - 1));
  return round1(full * (0.5 + 0.5 * random()));
}

/** A 1013's wait: `retryAfterS` jittered to 75–125 %, never over `maxBusyWaitS`. */
export function busyWaitS(
  retryAfterS: number,
  maxBusyWaitS: number,
  random: () => number = Math.random,
): number {
  return round1(Math.min(maxBusyWaitS, retryAfterS * (0.75 + 0.5 * random())));
}

const round1 = (seconds: number) => Math.round(seconds * 10) / 10;

/** `url` with its last path segment replaced: `/voice/ws` → `/voice/line`. */
function siblingUrl(url: string, segment: string): URL {
  const sibling = new URL(url);
  sibling.pathname = sibling.pathname.replace(/[^/]*$/, segment);
  sibling.search = "";
  sibling.hash = "";
  return sibling;
}

function defaultHealthUrl(url: string): string {
  const health = new URL(HEALTH_PATH, url);
  health.protocol = health.protocol === "wss:" ? "https:" : "http:";
  return health.href;
}

function bytesOf(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/** A close code a browser's `WebSocket.close` accepts: 1000 or 3000–4999; anything else is 1000. */
function pageCloseCode(code: number | undefined): number {
  return typeof code === "number" && Number.isInteger(code) && code >= 3000 && code <= 4999
    ? code
    : 1000;
}

/** A JWS in compact form: three base64url parts. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** What `getToken` gave, trimmed, or why it is not a token (never the value itself). */
function checkToken(value: unknown): { token: string } | { problem: string } {
  if (typeof value !== "string") return { problem: "not_a_string" };
  const token = value.trim();
  if (token === "") return { problem: "empty" };
  if (!JWT_SHAPE.test(token)) return { problem: "not_a_jwt" };
  return { token };
}

/** A socket URL from the `url`/`lineUrl` option: absolute, or relative to the page; `http(s):` read as `ws(s):`. */
function socketUrl(value: unknown, option: string): string {
  if (typeof value !== "string" || value === "")
    throw new TypeError(`connectVoice: \`${option}\` must be a wss:// URL`);
  let url: URL;
  try {
    url =
      typeof document !== "undefined" && typeof location !== "undefined"
        ? new URL(value, location.href)
        : new URL(value);
  } catch {
    throw new TypeError(
      `connectVoice: \`${option}\` must be an absolute wss:// URL (or, in a page, one relative to it)`,
    );
  }
  if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol === "http:") url.protocol = "ws:";
  if (url.protocol !== "wss:" && url.protocol !== "ws:")
    throw new TypeError(`connectVoice: \`${option}\` must be a wss:// URL, not ${url.protocol}`);
  return url.href;
}

/** The options' mistakes a page would otherwise find only at the first socket. */
function checkOptions(options: ConnectVoiceOptions): void {
  if (typeof options !== "object" || options === null)
    throw new TypeError("connectVoice: pass an options object");
  const sources = [
    options.getToken !== undefined,
    options.cookie === true,
    options.noToken === true,
  ].filter(Boolean).length;
  if (sources !== 1)
    throw new TypeError(
      "connectVoice: pass exactly one of `getToken` (a token per socket), `cookie: true` (the site's cookie carries it) or `noToken: true` (the edge's auth is off)",
    );
  if (options.getToken !== undefined && typeof options.getToken !== "function")
    throw new TypeError("connectVoice: `getToken` must be a function");
  if (typeof options.query !== "object" || options.query === null)
    throw new TypeError("connectVoice: `query` must be a record or URLSearchParams");
  for (const name of COUNT_OPTIONS) {
    const value = options[name];
    if (
      value !== undefined &&
      !(typeof value === "number" && Number.isInteger(value) && value >= 0)
    )
      throw new TypeError(`connectVoice: \`${name}\` must be a whole number ≥ 0`);
  }
  for (const name of TIME_OPTIONS) {
    const value = options[name];
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value > 0))
      throw new TypeError(`connectVoice: \`${name}\` must be a finite number > 0`);
  }
}

const COUNT_OPTIONS = ["unavailableRetries", "reconnects"] as const;
const TIME_OPTIONS = [
  "handshakeTimeoutMs",
  "maxSessionMinutes",
  "maxBusyWaitS",
  "giveUpAfterS",
] as const;

/** The `healthUrl` option: absolute, or relative to the page; http(s) only. */
function checkedHealthUrl(value: unknown): string {
  let url: URL | null = null;
  try {
    if (typeof value === "string" && value !== "")
      url =
        typeof document !== "undefined" && typeof location !== "undefined"
          ? new URL(value, location.href)
          : new URL(value);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:"))
    throw new TypeError(
      "connectVoice: `healthUrl` must be an https:// URL (or, in a page, one relative to it)",
    );
  return url.href;
}

/** A page callback that throws must not stop the kit: its error goes to the page's error reporting. */
function callPage<T>(callback: ((value: T) => void) | undefined, value: T): void {
  if (!callback) return;
  try {
    callback(value);
  } catch (error) {
    const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
    if (typeof report === "function") report(error);
    else console.error(error);
  }
}

/** Opens the voice session and keeps it going by the close-code table until it fails or is closed. */
export function connectVoice(options: ConnectVoiceOptions): VoiceConnection {
  checkOptions(options);
  const url = socketUrl(options.url, "url");
  const Socket = options.WebSocket ?? WebSocket;
  const fetchHealth = options.fetch ?? ((input, init) => fetch(input, init));
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 30_000;
  const maxBusyWaitS = options.maxBusyWaitS ?? 30;
  const useLine = options.line !== false;
  const lineUrl =
    options.lineUrl !== undefined
      ? socketUrl(options.lineUrl, "lineUrl")
      : siblingUrl(url, LINE_PATH_SEGMENT).href;
  const healthUrl =
    options.healthUrl !== undefined ? checkedHealthUrl(options.healthUrl) : defaultHealthUrl(url);
  const unavailableRetries = options.unavailableRetries ?? 3;
  const reconnects = options.reconnects ?? 3;

  let state: VoiceState = { state: "connecting", attempt: 1 };
  let attempt = 0;
  let finished = false;
  let resolveDone!: (state: VoiceState) => void;
  const done = new Promise<VoiceState>((resolve) => (resolveDone = resolve));

  const held: (Uint8Array | ArrayBuffer)[] = [];
  let voice: WebSocket | null = null;
  let voiceReady = false;
  let line: WebSocket | null = null;
  /** Pending waits (backoffs, the handshake bound, the line's keepalive): all cleared when the kit finishes. */
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let giveUpTimer: ReturnType<typeof setTimeout> | undefined;
  let unavailableInRow = 0;
  let reconnectsInRow = 0;
  let ticketRejoined = false;
  let lineDropsInRow = 0;
  let lineLimitRetries = 0;
  /** A conversation reached its 0x00 or a line socket opened: a socket closed before its 101 is then a drop, not a refusal. */
  let wasConnected = false;
  /** Between a join of the line and the next 0x00: a drop goes back to the line. */
  let inLine = false;
  /** The turn's token, fetched ahead at position 1: the latest that arrived, and one in flight. */
  let spareToken: { value: unknown; at: number } | null = null;
  let tokenInFlight: Promise<void> | null = null;
  /** From the line's last `turn`; else the page's option. */
  let turnSessionMinutes: number | undefined;

  function emit(next: VoiceState): void {
    state = next;
    // Held frames belong to one attempt's handshake: a wait or a new conversation drops them.
    if (next.state !== "connecting") held.length = 0;
    callPage(options.onState, next);
    if (next.state === "failed" || next.state === "closed") resolveDone(next);
  }

  function later(seconds: number, step: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!finished) step();
    }, seconds * 1000);
    timers.add(timer);
  }

  function stopAll(): void {
    finished = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    if (giveUpTimer !== undefined) clearTimeout(giveUpTimer);
  }

  function closeSocket(socket: WebSocket | null, code = 1000): void {
    if (!socket || socket.readyState > 1) return;
    try {
      socket.close(pageCloseCode(code));
    } catch {
      socket.close();
    }
  }

  function fail(reason: string, closeCode: number | null, detail: Record<string, unknown>): void {
    if (finished) return;
    stopAll();
    closeSocket(voice);
    closeSocket(line);
    emit({ state: "failed", reason, closeCode, detail });
  }

  function finishClosed(closeCode: number | null, reason?: "session_cap"): void {
    if (finished) return;
    stopAll();
    closeSocket(line);
    emit(reason ? { state: "closed", closeCode, reason } : { state: "closed", closeCode });
  }

  /** Busy time starts counting at the first 1013 and stops at the next 0x00. */
  function startBusyClock(closeCode: number): void {
    if (options.giveUpAfterS === undefined || giveUpTimer !== undefined) return;
    giveUpTimer = setTimeout(
      () => fail("bridge_busy", closeCode, { gaveUpAfterS: options.giveUpAfterS }),
      options.giveUpAfterS * 1000,
    );
  }

  function protocolsAndUrl(
    base: URL,
    token: string | null,
    ticket: string | undefined,
  ): { href: string; protocols: string[] } {
    const protocols = [VOICE_PROTOCOL];
    if (token !== null && options.tokenTransport === "query")
      base.searchParams.set(options.queryParameter ?? DEFAULT_QUERY_PARAMETER, token);
    else if (token !== null) protocols.push(BEARER_PROTOCOL_PREFIX + token);
    if (ticket !== undefined) protocols.push(TICKET_PROTOCOL_PREFIX + ticket);
    return { href: base.href, protocols };
  }

  function voiceUrl(): URL {
    const target = new URL(url);
    const query = new URLSearchParams(options.query);
    for (const [name, value] of query) target.searchParams.append(name, value);
    return target;
  }

  function spareIsFresh(): boolean {
    return spareToken !== null && Date.now() - spareToken.at <= TOKEN_PREFETCH_MAX_AGE_S * 1000;
  }

  /** Fetches the next token ahead (at position 1), and again every TOKEN_PREFETCH_REFRESH_S while `stillFirst`. */
  function prefetchToken(stillFirst: () => boolean): void {
    const getToken = options.getToken;
    if (!getToken || tokenInFlight) return;
    tokenInFlight = (async () => {
      try {
        spareToken = { value: await getToken(), at: Date.now() };
      } catch {
        // The turn fetches its own token, and says what went wrong then.
      }
      tokenInFlight = null;
      later(TOKEN_PREFETCH_REFRESH_S, () => {
        if (stillFirst()) prefetchToken(stillFirst);
      });
    })();
  }

  /** A turn's token: the one fetched ahead when it is fresh (used once), else a new one. */
  async function turnToken(): Promise<unknown> {
    if (!spareIsFresh() && tokenInFlight) await tokenInFlight;
    const spare = spareIsFresh() ? spareToken : null;
    spareToken = null;
    return spare ? spare.value : options.getToken!();
  }

  /** Opens one socket after fetching its token; null when the kit finished meanwhile or failed. */
  async function open(
    base: URL,
    ticket: string | undefined,
  ): Promise<{ socket: WebSocket; number: number } | null> {
    const number = ++attempt;
    let token: string | null = null;
    if (options.getToken) {
      let given: unknown;
      try {
        given = await (ticket !== undefined ? turnToken() : options.getToken());
      } catch (error) {
        // The page's own error (its fetch, its parse), not a value the kit was given.
        if (!finished) fail("token_unavailable", null, { message: String(error) });
        return null;
      }
      if (finished) return null;
      const checked = checkToken(given);
      if ("problem" in checked) {
        fail("token_unavailable", null, { problem: checked.problem });
        return null;
      }
      token = checked.token;
    }
    if (finished) return null;
    const { href, protocols } = protocolsAndUrl(base, token, ticket);
    try {
      const socket = new Socket(href, protocols);
      socket.binaryType = "arraybuffer";
      return { socket, number };
    } catch (error) {
      // The browser's message names the subprotocols, the token among them: only its name goes on.
      fail("socket_not_created", null, {
        error: error instanceof Error ? error.name : typeof error,
      });
      return null;
    }
  }

  function report(
    number: number,
    socket: SocketKind,
    event: CloseEvent | null,
    openedAt: number | null,
  ): void {
    callPage(options.onAttempt, {
      attempt: number,
      socket,
      closeCode: event ? event.code : null,
      reason: event ? parseReason(event.reason) : null,
      opened: openedAt !== null,
      msOpen: openedAt === null ? null : Date.now() - openedAt,
    });
  }

  async function connect(ticket?: string): Promise<void> {
    emit({ state: "connecting", attempt: attempt + 1 });
    let openedAt: number | null = null;
    let readyAt: number | null = null;
    let live = false;
    let timedOut = false;
    // From the attempt's start: a getToken that never answers times out too.
    const handshake = setTimeout(() => {
      timers.delete(handshake);
      timedOut = true;
      fail("handshake_timeout", null, { timeoutMs: handshakeTimeoutMs, opened: openedAt !== null });
    }, handshakeTimeoutMs);
    timers.add(handshake);
    const opened = await open(voiceUrl(), ticket);
    if (!opened) return;
    const { socket, number } = opened;
    voice = socket;
    voiceReady = false;

    socket.onopen = () => {
      openedAt = Date.now();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (finished || voice !== socket) return;
      const frame = bytesOf(event.data);
      if (!frame) return;
      if (readyAt === null) {
        if (frame[0] !== 0x00) return;
        readyAt = Date.now();
        clearTimeout(handshake);
        timers.delete(handshake);
        voiceReady = true;
        wasConnected = true;
        inLine = false;
        unavailableInRow = 0;
        lineDropsInRow = 0;
        lineLimitRetries = 0;
        ticketRejoined = false;
        if (giveUpTimer !== undefined) clearTimeout(giveUpTimer);
        giveUpTimer = undefined;
        closeSocket(line);
        line = null;
        for (const frame of held.splice(0)) socket.send(frame as BufferSource);
        emit({ state: "ready", attempt: number });
        return;
      }
      if (!live) {
        live = true;
        emit({ state: "live", attempt: number });
      }
      callPage(options.onFrame, frame);
    };
    socket.onclose = (event: CloseEvent) => {
      report(number, "voice", event, openedAt);
      if (voice === socket) {
        voice = null;
        voiceReady = false;
      }
      if (finished || timedOut) return;
      clearTimeout(handshake);
      timers.delete(handshake);
      const phase: ClosePhase =
        openedAt === null ? "before_open" : readyAt === null ? "before_ready" : "after_ready";
      if (readyAt !== null && Date.now() - readyAt >= STABLE_SESSION_S * 1000) reconnectsInRow = 0;
      let action = closeAction(event.code, event.reason, phase, "voice");
      // After a conversation or a place in line, no 101 is the edge restarting or the network changing.
      if (phase === "before_open" && wasConnected)
        action = inLine ? { kind: "rejoin_line" } : { kind: "reconnect" };
      if (action.kind === "reconnect" && reachedSessionCap(openedAt))
        return finishClosed(event.code, "session_cap");
      act(action, event.code, number, phase === "before_open");
    };
  }

  /** The guard's cap ends a session with 1006 at `maxSessionMinutes` after its 101 (and about 2 s more). */
  function reachedSessionCap(openedAt: number | null): boolean {
    const minutes = turnSessionMinutes ?? options.maxSessionMinutes;
    if (openedAt === null || typeof minutes !== "number" || !(minutes > 0)) return false;
    return Date.now() - openedAt >= (minutes * 60 - SESSION_CAP_SLACK_S) * 1000;
  }

  /** `rejoin`: after the line socket dropped (its old socket may still look open to the line). */
  async function joinLine(rejoin = false): Promise<void> {
    inLine = true;
    // At once: the token may take a while, and the page is in line from now on.
    emit({ state: "waiting", attempt: attempt + 1, position: null, etaS: null, retryInS: null });
    const opened = await open(new URL(lineUrl), undefined);
    if (!opened) return;
    const { socket, number } = opened;
    line = socket;
    let openedAt: number | null = null;
    let turned = false;
    const keepalive = () =>
      later(LINE_KEEPALIVE_MS / 1000, () => {
        if (turned || line !== socket || socket.readyState !== 1) return;
        socket.send("ping");
        keepalive();
      });

    socket.onopen = () => {
      openedAt = Date.now();
      wasConnected = true;
      keepalive();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (finished || turned || typeof event.data !== "string") return;
      if (event.data === "pong") return;
      if (event.data === "ping") return socket.send("pong");
      const message = parseReason(event.data);
      if (message?.type === "position" && typeof message.position === "number") {
        lineLimitRetries = 0;
        emit({
          state: "waiting",
          attempt: number,
          position: message.position,
          etaS: typeof message.etaS === "number" ? message.etaS : null,
          retryInS: null,
        });
        if (message.position <= 1) prefetchToken(() => !turned && !finished && line === socket);
      } else if (message?.type === "turn" && typeof message.ticket === "string") {
        // The coordinator closes this socket (1000) once the ticket is redeemed.
        turned = true;
        if (typeof message.maxSessionMinutes === "number")
          turnSessionMinutes = message.maxSessionMinutes;
        void connect(message.ticket);
      }
    };
    socket.onclose = (event: CloseEvent) => {
      report(number, "line", event, openedAt);
      if (line === socket) line = null;
      if (finished || turned) return;
      const phase: ClosePhase = openedAt === null ? "before_open" : "before_ready";
      if (
        rejoin &&
        event.code === CLOSE_CODES.session_limit &&
        lineLimitRetries < LINE_REJOIN_LIMIT_RETRIES
      ) {
        lineLimitRetries += 1;
        const waitS = busyWaitS(LINE_REJOIN_LIMIT_WAIT_S, LINE_REJOIN_LIMIT_WAIT_S * 2);
        return retryAfter(waitS, () => void joinLine(true), {
          state: "waiting",
          attempt: number,
          position: null,
          etaS: null,
          retryInS: waitS,
        });
      }
      if (openedAt !== null && Date.now() - openedAt >= STABLE_LINE_S * 1000) lineDropsInRow = 0;
      const action: CloseAction =
        phase === "before_open" && wasConnected
          ? { kind: "rejoin_line" }
          : closeAction(event.code, event.reason, phase, "line");
      act(action, event.code, number, phase === "before_open");
    };
  }

  async function checkHealth(closeCode: number): Promise<void> {
    let answer: { status: number; body: unknown } | { error: string };
    try {
      const response = await fetchHealth(healthUrl, { cache: "no-store" });
      answer = { status: response.status, body: await response.text().catch(() => "") };
    } catch (error) {
      answer = { error: String(error) };
    }
    const { reason, detail } = healthFailure(answer);
    fail(reason, closeCode, detail);
  }

  function retryAfter(seconds: number, step: () => void, waiting: VoiceState): void {
    emit(waiting);
    later(seconds, step);
  }

  /** `beforeOpen`: the socket closed before its 101; a spent budget then asks /voice/health why. */
  function act(action: CloseAction, closeCode: number, number: number, beforeOpen = false): void {
    switch (action.kind) {
      case "closed":
        return finishClosed(closeCode);
      case "fail":
        return fail(action.reason, closeCode, action.detail);
      case "check_health":
        void checkHealth(closeCode);
        return;
      case "busy": {
        startBusyClock(closeCode);
        if (action.line && useLine) {
          void joinLine();
          return;
        }
        inLine = false;
        const waitS = busyWaitS(action.retryAfterS, maxBusyWaitS);
        const waiting: VoiceState = {
          state: "waiting",
          attempt: number,
          position: null,
          etaS: null,
          retryInS: waitS,
        };
        return retryAfter(waitS, () => void connect(), waiting);
      }
      case "unavailable": {
        if (unavailableInRow >= unavailableRetries)
          return fail("bridge_unavailable", closeCode, { retries: unavailableInRow });
        unavailableInRow += 1;
        later(backoffS(unavailableInRow), () => void connect());
        return;
      }
      case "reconnect": {
        if (reconnectsInRow >= reconnects)
          return beforeOpen
            ? void checkHealth(closeCode)
            : fail("bridge_unavailable", closeCode, { reconnects: reconnectsInRow });
        reconnectsInRow += 1;
        const waitS = backoffS(reconnectsInRow);
        emit({
          state: "reconnecting",
          attempt: number,
          newConversation: true,
          retryInS: waitS,
          closeCode,
        });
        later(waitS, () => void connect());
        return;
      }
      case "ticket_refused":
        if (ticketRejoined || !useLine) return fail("ticket_refused", closeCode, action.detail);
        ticketRejoined = true;
        void joinLine();
        return;
      case "rejoin_line": {
        // Counted until a line socket stays open STABLE_LINE_S or a 0x00 comes: `reconnects`
        // rejoins, then the voice socket once, then no more.
        lineDropsInRow += 1;
        if (lineDropsInRow > reconnects + 1)
          return beforeOpen
            ? void checkHealth(closeCode)
            : fail("line_unavailable", closeCode, { drops: lineDropsInRow });
        const waitS = backoffS(lineDropsInRow);
        if (lineDropsInRow > reconnects) {
          return retryAfter(waitS, () => void connect(), {
            state: "waiting",
            attempt: number,
            position: null,
            etaS: null,
            retryInS: waitS,
          });
        }
        later(waitS, () => void joinLine(true));
        return;
      }
    }
  }
  void connect();

  return {
    send(frame) {
      if (finished) return;
      if (voice && voiceReady) return voice.send(frame as BufferSource);
      // Only a handshake in flight holds frames; waiting or reconnecting, they belong to no conversation.
      if (state.state !== "connecting") return;
      held.push(frame);
      if (held.length > MAX_HELD_FRAMES) held.shift();
    },
    close(code) {
      if (finished) return;
      const closeCode = pageCloseCode(code);
      stopAll();
      closeSocket(voice, closeCode);
      closeSocket(line);
      emit({ state: "closed", closeCode });
    },
    get state() {
      return state;
    },
    done,
  };
}

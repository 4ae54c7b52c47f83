import { bindingsFor, type Bindings } from "./bindings";
import { bridgeWatchTick } from "./bridgeWatch/watch";
import { checkOrigin } from "./auth/origin";
import {
  readClientCredentials,
  selectProtocol,
  type ClientCredentials,
  type TransportSettings,
} from "./auth/transports";
import { verifyToken } from "./auth/verify";
import { EdgeError, errorResponse, SessionRefusal } from "./errors";
import { healthResponse } from "./health";
import { logEvent } from "./log";
import { admitToBridge, type BridgeTry } from "./admission";
import { bridgeRequestOf } from "./passThrough";
import { refusedSessionResponse } from "./refusedSession";
import { canonicalSearch, sessionOptionsProblem } from "./sessionQuery";
import { HEALTH_PATH, isVoicePath, LINE_PATH } from "./routes";
import { RETRY_AFTER_DEFAULT_S } from "./guardAnswers";
import { admitThroughLine, coordinatorOf } from "./line/edge";
import type { LineCoordinator } from "./line/rpc";
import { joinLine } from "./line/join";
import { KIT_PATH, kitResponse } from "./kit";
import * as servedKit from "voice-kit:module";
import { recordPoint } from "./analytics/points";

/** Who the token named, once authentication passed: only for the point's keyed `visitor` hash, never logged. */
interface Caller {
  subject?: string | null;
}

interface UpgradeOutcome {
  response: Response;
  /** Set when the bridge did not take the session: the 101 closes at once. */
  refused?: true;
  fields: Record<string, string | number | boolean | object | null | undefined>;
}

/** Authenticates before any socket exists; returns the caller's subject, or null when the stack turned auth off. */
async function authenticate(
  credentials: ClientCredentials,
  bindings: Bindings,
): Promise<string | null> {
  const auth = bindings.EDGE_CONFIG.auth;
  if (auth.mode === "off") return null;
  // Refused whichever transport carried a token: two token cookies mean someone tossed one in.
  if (credentials.ambiguousCookie) throw new EdgeError("token_ambiguous");
  if (credentials.token === undefined)
    throw new EdgeError(credentials.malformedAuthorization ? "token_malformed" : "token_missing");
  const caller = await verifyToken(credentials.token, auth, {
    secret: bindings.JWT_SECRET,
    previousSecret: bindings.JWT_SECRET_PREVIOUS,
    previousSecretAcceptedUntil:
      auth.previousSecretAcceptedUntil === undefined
        ? undefined
        : Date.parse(auth.previousSecretAcceptedUntil),
    jwksTimeoutMs: bindings.EDGE_CONFIG.jwksTimeoutMs,
  });
  return caller.subject;
}

const transportSettings = new WeakMap<Bindings, TransportSettings>();

/** The token transports and forwarded cookies (and, with the line on, tickets), put together once per isolate (bindings are parsed once). */
function transportsOf(bindings: Bindings, lineOn: boolean): TransportSettings {
  let settings = transportSettings.get(bindings);
  if (!settings) {
    const { auth, forwardCookies } = bindings.EDGE_CONFIG;
    settings =
      auth.mode === "jwt"
        ? { cookieName: auth.cookieName, queryParameter: auth.queryParameter, forwardCookies }
        : { forwardCookies };
    if (lineOn) settings.tickets = true;
    transportSettings.set(bindings, settings);
  }
  return settings;
}

/** Origin, credentials and token, in that order, before anything touches a socket. */
async function authenticateUpgrade(
  client: Request,
  url: URL,
  bindings: Bindings,
  lineOn: boolean,
): Promise<{ credentials: ClientCredentials; subject: string | null }> {
  checkOrigin(client.headers.get("Origin"), bindings);
  const credentials = readClientCredentials(client.headers, url, transportsOf(bindings, lineOn));
  if (
    (credentials.bearerProtocolOffered || credentials.ticketProtocolOffered) &&
    credentials.applicationProtocols.length === 0
  )
    throw new EdgeError("subprotocol_required");
  return { credentials, subject: await authenticate(credentials, bindings) };
}

/** A 101 that closes at once with `refusal`'s code: the page can read why, the bridge never saw it. */
function refusedOutcome(
  refusal: SessionRefusal,
  credentials: ClientCredentials,
  fields: UpgradeOutcome["fields"],
  started: number,
): UpgradeOutcome {
  const protocol = selectProtocol(credentials.applicationProtocols, null);
  return {
    response: refusedSessionResponse(refusal, protocol),
    refused: true,
    fields: {
      transport: credentials.transport ?? null,
      protocol,
      error: refusal.failure,
      ...refusal.detail,
      closeCode: refusal.closeCode,
      closeReason: refusal.reason,
      ...fields,
      msTo101: Date.now() - started,
    },
  };
}

async function upgrade(
  client: Request,
  url: URL,
  bindings: Bindings,
  line: LineUse | undefined,
  caller: Caller,
): Promise<UpgradeOutcome> {
  const started = Date.now();
  const { credentials, subject } = await authenticateUpgrade(client, url, bindings, !!line);
  caller.subject = subject;
  // Refused before any bridge is tried: the guard and the server would each read the raw query their own way.
  const optionsProblem = sessionOptionsProblem(credentials.query);
  if (optionsProblem) {
    const { parameter, problem } = optionsProblem;
    const refusal = new SessionRefusal(
      { error: "session_options_invalid", parameter },
      "session_options_invalid",
    );
    return refusedOutcome(refusal, credentials, { parameter, problem, tries: [] }, started);
  }
  const search = canonicalSearch(credentials.query);
  const bridgeRequest = bridgeRequestOf(client.headers, credentials, subject, bindings, search);
  const lineFields: UpgradeOutcome["fields"] = {};
  let lineTries: BridgeTry[] = [];
  if (line) {
    const ticket = credentials.ticket;
    const through = await admitThroughLine(
      line.coordinator,
      { subject, ...(ticket !== undefined ? { ticket } : {}) },
      bridgeRequest,
      bindings,
      line.waitUntil,
    );
    lineFields.line = ticket !== undefined ? "ticket" : "coordinator";
    lineFields.lineMs = through.coordinatorMs;
    if (through.kind === "served")
      return {
        response: through.session.response,
        fields: {
          transport: credentials.transport ?? null,
          protocol: through.session.protocol,
          bridge: through.bridge,
          tries: through.tries,
          ...lineFields,
          msTo101: Date.now() - started,
        },
      };
    if (through.kind === "refused")
      return refusedOutcome(
        through.refusal,
        credentials,
        { tries: through.tries, ...lineFields },
        started,
      );
    lineFields.line = "fallback";
    lineFields.lineFallback = through.why;
    lineTries = through.tries;
  }
  // Without the line (or with no try through it) this is today's admission, unchanged.
  const tried = lineTries.length > 0;
  const admission = await admitToBridge(
    bridgeRequest,
    bindings,
    tried ? new Set(lineTries.map((lineTry) => lineTry.bridge)) : undefined,
  );
  const tries = {
    tries: tried ? [...lineTries, ...admission.tries] : admission.tries,
    ...lineFields,
  };
  if (admission.served)
    return {
      response: admission.session.response,
      fields: {
        transport: credentials.transport ?? null,
        protocol: admission.session.protocol,
        bridge: admission.bridge,
        ...tries,
        msTo101: Date.now() - started,
      },
    };
  return refusedOutcome(
    admission.refusal,
    credentials,
    { ...tries, ...(admission.untried > 0 ? { untried: admission.untried } : {}) },
    started,
  );
}

/**
 * A place in the waiting line (`/voice/line`): the same Origin and token checks as the voice
 * socket, then the coordinator's own socket for this subject. Refusals after authentication are a
 * 101 and a close, as on the voice socket: 4409 over the subject's bound, 1013 with `line: false`
 * when the line is full or the coordinator cannot be reached.
 */
async function lineUpgrade(
  client: Request,
  url: URL,
  bindings: Bindings,
  line: LineUse | undefined,
  caller: Caller,
): Promise<UpgradeOutcome> {
  const started = Date.now();
  if (!line) throw new EdgeError("not_found");
  const { credentials, subject } = await authenticateUpgrade(client, url, bindings, true);
  caller.subject = subject;
  const joined = await joinLine(line.coordinator, subject);
  if (joined.kind === "joined") {
    const protocol = selectProtocol(credentials.applicationProtocols, null);
    return {
      response: new Response(null, {
        status: 101,
        webSocket: joined.socket,
        headers: protocol === null ? {} : { "Sec-WebSocket-Protocol": protocol },
      }),
      fields: { transport: credentials.transport ?? null, protocol, msTo101: Date.now() - started },
    };
  }
  const refusal =
    joined.kind === "session_limit"
      ? new SessionRefusal({ error: "session_limit", limit: joined.limit }, "session_limit")
      : new SessionRefusal(
          { error: "bridge_busy", retryAfterS: RETRY_AFTER_DEFAULT_S, line: false },
          "bridge_busy",
        );
  return refusedOutcome(
    refusal,
    credentials,
    joined.kind === "unavailable" ? { lineFallback: joined.why } : {},
    started,
  );
}

function isWebSocketUpgrade(request: Request): boolean {
  return (request.headers.get("Upgrade") ?? "").toLowerCase() === "websocket";
}

/** The waiting line, when the edge has its binding: the coordinator and the request's `waitUntil`. */
interface LineUse {
  coordinator: LineCoordinator;
  waitUntil: (promise: Promise<unknown>) => void;
}

function lineUseOf(env: object, ctx: ExecutionContext): LineUse | undefined {
  const coordinator = coordinatorOf(env);
  return coordinator && { coordinator, waitUntil: (promise) => ctx.waitUntil(promise) };
}

async function handleWebSocketPath(
  request: Request,
  url: URL,
  env: object,
  ctx: ExecutionContext,
): Promise<Response> {
  const started = Date.now();
  const fields: Record<string, unknown> = {
    colo: (request.cf?.colo as string | undefined) ?? null,
  };
  const caller: Caller = {};
  let response: Response;
  let refused = false;
  try {
    if (request.method !== "GET") throw new EdgeError("method_not_allowed");
    if (!isWebSocketUpgrade(request)) throw new EdgeError("upgrade_required");
    const parsed = bindingsFor(env);
    if (!parsed.ok) {
      logEvent("config_invalid", { problems: parsed.problems });
      throw new EdgeError("misconfigured");
    }
    const outcome =
      url.pathname === LINE_PATH
        ? await lineUpgrade(request, url, parsed.bindings, lineUseOf(env, ctx), caller)
        : await upgrade(request, url, parsed.bindings, lineUseOf(env, ctx), caller);
    Object.assign(fields, outcome.fields);
    response = outcome.response;
    refused = outcome.refused === true;
  } catch (error) {
    const edgeError = error instanceof EdgeError ? error : new EdgeError("internal_error");
    if (!(error instanceof EdgeError))
      fields.exception = error instanceof Error ? error.name : typeof error;
    Object.assign(fields, { error: edgeError.code, ...edgeError.detail });
    response = errorResponse(
      edgeError,
      edgeError.code === "method_not_allowed" ? { Allow: "GET" } : {},
    );
  }
  const event = url.pathname === LINE_PATH ? "line_join" : "upgrade";
  const logged = {
    outcome: response.status === 101 && !refused ? "connected" : "refused",
    status: response.status,
    path: url.pathname,
    ...fields,
  };
  // Written in line: deferring it (waitUntil + a timer) cost more CPU per upgrade than the line itself.
  logEvent(event, logged);
  recordPoint(
    env,
    event,
    // A refusal before the upgrade logs no msTo101; its point still says how long the answer took.
    fields.msTo101 === undefined ? { ...logged, msTo101: Date.now() - started } : logged,
    caller.subject,
    (promise) => ctx.waitUntil(promise),
  );
  return response;
}

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const url = new URL(request.url);
    if (isVoicePath(url.pathname)) return handleWebSocketPath(request, url, env, ctx);
    if (url.pathname === LINE_PATH && coordinatorOf(env))
      return handleWebSocketPath(request, url, env, ctx);
    if (url.pathname === HEALTH_PATH) {
      if (request.method !== "GET" && request.method !== "HEAD")
        return errorResponse(new EdgeError("method_not_allowed"), { Allow: "GET, HEAD" });
      return healthResponse(bindingsFor(env));
    }
    if (url.pathname === KIT_PATH) return kitResponse(request, servedKit);
    return errorResponse(new EdgeError("not_found"));
  },

  /** The bridge watch (`BRIDGE_WATCH_CRON`): the only handler that reads the watch's bindings. */
  async scheduled(controller, env): Promise<void> {
    await bridgeWatchTick(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<object>;

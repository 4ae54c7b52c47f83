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
import { admitToBridge } from "./admission";
import { bridgeRequestOf } from "./passThrough";
import { refusedSessionResponse } from "./refusedSession";
import { canonicalSearch, sessionOptionsProblem } from "./sessionQuery";
import { HEALTH_PATH, WS_PATH } from "./routes";

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

/** The token transports and forwarded cookies, put together once per isolate (bindings are parsed once). */
function transportsOf(bindings: Bindings): TransportSettings {
  let settings = transportSettings.get(bindings);
  if (!settings) {
    const { auth, forwardCookies } = bindings.EDGE_CONFIG;
    settings =
      auth.mode === "jwt"
        ? { cookieName: auth.cookieName, queryParameter: auth.queryParameter, forwardCookies }
        : { forwardCookies };
    transportSettings.set(bindings, settings);
  }
  return settings;
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

async function upgrade(client: Request, url: URL, bindings: Bindings): Promise<UpgradeOutcome> {
  const started = Date.now();
  checkOrigin(client.headers.get("Origin"), bindings);
  const credentials = readClientCredentials(client.headers, url, transportsOf(bindings));
  if (credentials.bearerProtocolOffered && credentials.applicationProtocols.length === 0)
    throw new EdgeError("subprotocol_required");
  const subject = await authenticate(credentials, bindings);
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
  const admission = await admitToBridge(bridgeRequest, bindings);
  const tries = { tries: admission.tries };
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

function isWebSocketUpgrade(request: Request): boolean {
  return (request.headers.get("Upgrade") ?? "").toLowerCase() === "websocket";
}

async function handleWebSocketPath(request: Request, url: URL, env: object): Promise<Response> {
  const fields: Record<string, unknown> = {
    colo: (request.cf?.colo as string | undefined) ?? null,
  };
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
    const outcome = await upgrade(request, url, parsed.bindings);
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
  // Written in line: deferring it (waitUntil + a timer) cost more CPU per upgrade than the line itself.
  logEvent("upgrade", {
    outcome: response.status === 101 && !refused ? "connected" : "refused",
    status: response.status,
    ...fields,
  });
  return response;
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === WS_PATH) return handleWebSocketPath(request, url, env);
    if (url.pathname === HEALTH_PATH) {
      if (request.method !== "GET" && request.method !== "HEAD")
        return errorResponse(new EdgeError("method_not_allowed"), { Allow: "GET, HEAD" });
      return healthResponse(bindingsFor(env));
    }
    return errorResponse(new EdgeError("not_found"));
  },

  /** The bridge watch (`BRIDGE_WATCH_CRON`): the only handler that reads the watch's bindings. */
  async scheduled(controller, env): Promise<void> {
    await bridgeWatchTick(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<object>;

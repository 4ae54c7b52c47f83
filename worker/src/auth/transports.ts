import { BEARER_PROTOCOL_PREFIX, isBearerProtocol } from "../headers";
import { TICKET_PROTOCOL_PREFIX, TICKET_QUERY_PARAMETER } from "../line/contract";
import { readQuery, type QueryPair } from "../sessionQuery";

export type TokenTransport = "authorization" | "subprotocol" | "cookie" | "query";

export interface TransportSettings {
  /** Cookie carrying the token; the transport is off when absent. */
  cookieName?: string;
  /** Query parameter carrying the token; the transport is off when null or absent. */
  queryParameter?: string | null;
  /** Cookies the bridge may receive, by name (never the token cookie). */
  forwardCookies?: readonly string[];
  /** The waiting line is on: a turn's ticket is read (`ticket.<t>` entry or `ticket` parameter) and never forwarded. */
  tickets?: boolean;
}

export interface ClientCredentials {
  /** The token, from the first transport that carried one (Authorization, subprotocol, cookie, query). */
  token?: string;
  transport?: TokenTransport;
  /** An Authorization header that is not `Bearer <token>`. */
  malformedAuthorization: boolean;
  /**
   * More than one cookie of the token cookie's name: which one the browser sent first says nothing
   * about who set it (a sibling subdomain can add one for the parent domain), so none is trusted.
   */
  ambiguousCookie?: boolean;
  /** Offered subprotocols without any bearer (or, with the line on, ticket) entry, in the client's order. */
  applicationProtocols: string[];
  bearerProtocolOffered: boolean;
  /** A turn's ticket (the line on), from the subprotocol entry, else the query; never forwarded. */
  ticket?: string;
  ticketProtocolOffered?: boolean;
  /** The page's query as the server reads it (sessionQuery.ts), without the token parameter. */
  query: QueryPair[];
  /** The Cookie header to forward: only the cookies named in `forwardCookies`; null when none. */
  forwardedCookie: string | null;
}

export function parseProtocolList(header: string | null): string[] {
  if (!header) return [];
  return header
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

/** The query without the token parameter (every pair whose name decodes to it), and its first value. */
function takeQueryParameter(
  search: string,
  name: string | null | undefined,
): { value?: string; rest: QueryPair[] } {
  const pairs = readQuery(search);
  if (!name) return { rest: pairs };
  return {
    value: pairs.find(([key]) => key === name)?.[1],
    rest: pairs.filter(([key]) => key !== name),
  };
}

/**
 * The cookies of a Cookie header as name/value pairs. Two `Cookie:` lines reach the Worker joined
 * with ", ", and a cookie value may not contain a comma (RFC 6265), so both separators split.
 */
export function parseCookies(header: string | null): [string, string][] {
  if (!header) return [];
  const cookies: [string, string][] = [];
  for (const part of header.split(/[;,]/)) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf("=");
    const name = eq === -1 ? trimmed : trimmed.slice(0, eq).trim();
    cookies.push([name, (eq === -1 ? "" : trimmed.slice(eq + 1).trim()).replace(/^"(.*)"$/, "$1")]);
  }
  return cookies;
}

function takeCookie(
  headers: Headers,
  settings: TransportSettings,
): { value?: string; ambiguous: boolean; forwarded: string | null } {
  // With neither the cookie transport nor forwarded cookies, the Cookie header is not even read.
  if (!settings.cookieName && !settings.forwardCookies?.length)
    return { ambiguous: false, forwarded: null };
  const cookies = parseCookies(headers.get("Cookie"));
  const tokenCookies = settings.cookieName
    ? cookies.filter(([name]) => name === settings.cookieName)
    : [];
  const value = tokenCookies.length === 1 ? tokenCookies[0][1] : undefined;
  const allowed = new Set(settings.forwardCookies ?? []);
  if (settings.cookieName) allowed.delete(settings.cookieName);
  const forwarded = cookies
    .filter(([name]) => allowed.has(name))
    .map(([name, cookieValue]) => `${name}=${cookieValue}`);
  return {
    value,
    ambiguous: tokenCookies.length > 1,
    forwarded: forwarded.length > 0 ? forwarded.join("; ") : null,
  };
}

/**
 * Finds the token in whichever transport carried it and computes what may be forwarded:
 * every transport is stripped, so a token never reaches the bridge even when several were sent.
 */
export function readClientCredentials(
  headers: Headers,
  url: URL,
  settings: TransportSettings,
): ClientCredentials {
  let offered = parseProtocolList(headers.get("Sec-WebSocket-Protocol"));
  const bearerEntry = offered.find(isBearerProtocol);
  const query = takeQueryParameter(url.search, settings.queryParameter);
  const cookie = takeCookie(headers, settings);
  let ticket: { value?: string; protocolOffered: boolean } | undefined;
  if (settings.tickets) {
    const entry = offered.find(isTicketProtocol);
    offered = offered.filter((protocol) => !isTicketProtocol(protocol));
    const queryValue = query.rest.find(([key]) => key === TICKET_QUERY_PARAMETER)?.[1];
    query.rest = query.rest.filter(([key]) => key !== TICKET_QUERY_PARAMETER);
    ticket = {
      value: entry ? entry.slice(TICKET_PROTOCOL_PREFIX.length) : queryValue,
      protocolOffered: entry !== undefined,
    };
  }

  const authorization = headers.get("Authorization");
  const bearerHeader = authorization?.match(/^Bearer[ ]+(\S+)\s*$/i)?.[1];

  const candidates: [TokenTransport, string | undefined][] = [
    ["authorization", bearerHeader],
    ["subprotocol", bearerEntry?.slice(BEARER_PROTOCOL_PREFIX.length)],
    ["cookie", cookie.value],
    ["query", query.value],
  ];
  const found = candidates.find(([, value]) => value !== undefined && value !== "");

  return {
    token: found?.[1],
    transport: found?.[0],
    malformedAuthorization: authorization !== null && bearerHeader === undefined,
    ambiguousCookie: cookie.ambiguous,
    applicationProtocols: offered.filter((protocol) => !isBearerProtocol(protocol)),
    bearerProtocolOffered: bearerEntry !== undefined,
    query: query.rest,
    forwardedCookie: cookie.forwarded,
    ...(ticket
      ? {
          ...(ticket.value ? { ticket: ticket.value } : {}),
          ticketProtocolOffered: ticket.protocolOffered,
        }
      : {}),
  };
}

/** A `ticket.<t>` subprotocol entry, in any letter case. */
export function isTicketProtocol(protocol: string): boolean {
  return protocol.slice(0, TICKET_PROTOCOL_PREFIX.length).toLowerCase() === TICKET_PROTOCOL_PREFIX;
}

/**
 * The protocol the 101 names: the bridge's choice when it made one the client offered,
 * otherwise the client's first application protocol; null when the client offered none.
 */
export function selectProtocol(
  applicationProtocols: string[],
  bridgeChoice: string | null,
): string | null {
  if (bridgeChoice && applicationProtocols.includes(bridgeChoice)) return bridgeChoice;
  return applicationProtocols[0] ?? null;
}

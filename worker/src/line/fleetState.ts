/**
 * The waiting line's state machine: the fleet's bridges, the line and the turns, as plain data and
 * pure functions of it (no Worker types, tested in Node). The coordinator (fleetLine.ts) loads the
 * state from SQLite, applies these functions, writes back what they marked dirty, and carries out
 * the effects they return on its sockets.
 */
import { RETRY_AFTER_DEFAULT_S, RETRY_AFTER_MAX_S, RETRY_AFTER_MIN_S } from "../guardAnswers";
import {
  TICKET_REFUSED_CLOSE_CODE,
  type LineMessage,
  type LineSettings,
  type TicketRefusalReason,
} from "./contract";
import type { AdmitAnswer, AdmitRequest, RedeemAnswer, TryReport } from "./rpc";

/** What the coordinator believes of one bridge; a guard's answer always overrides it. */
export type BridgeState =
  | { kind: "free" }
  /**
   * A session on it. `admitted`: the line admitted it (`subject`, null with auth off, and `since`
   * are known); else the guard says busy and nobody knows who (today's admission while the
   * coordinator was away, a client of the tunnel itself), `since` when it was first seen.
   * `pendingUntil`: the edge is trying it now; until then a guard that says free is not believed.
   * `offer`: the id of the offer the edge has not yet said how it went (null once it has, and for
   * a holder nobody admitted); only that offer's try outcome is applied, once.
   * `unreachableSince`: its guard stopped answering during an admitted session; the holder is
   * kept until HOLDER_FORGET_MS of silence.
   */
  | {
      kind: "held";
      admitted: boolean;
      subject: string | null;
      since: number;
      pendingUntil: number | null;
      offer: string | null;
      unreachableSince: number | null;
    }
  /** Kept for the head of the line's ticket until `until`. */
  | { kind: "reserved"; subject: string | null; ticket: string; until: number }
  | { kind: "down" };

export interface BridgeRecord {
  name: string;
  state: BridgeState;
  /** When the state last changed: a probe sent before it says nothing about the new state. */
  changedAt: number;
}

/** A place in line. Its socket carries the tag `placeTag(id)`. */
export interface Place {
  id: number;
  /** The token's subject; null with auth off (never counted against a bound). */
  subject: string | null;
  joinedAt: number;
  /** While disconnected: when its socket closed (the grace period runs from here). */
  lastSeen: number;
  connected: boolean;
  /** The ticket of its turn, once it has one. */
  turn: string | null;
}

export interface Ticket {
  ticket: string;
  subject: string | null;
  bridge: string;
  placeId: number;
  /** The place's `joinedAt`: a turn whose bridge fails puts its visitor back where they stood. */
  joinedAt: number;
  expiresAt: number;
  status: "reserved" | "used" | "expired";
}

export interface FleetState {
  /** In the bindings' order. */
  bridges: Map<string, BridgeRecord>;
  places: Map<number, Place>;
  tickets: Map<string, Ticket>;
  /** Recent session lengths in ms, oldest first, at most RECENT_SESSIONS. */
  lengths: number[];
  nextPlaceId: number;
  /** What changed since the last write to storage. */
  dirty: {
    bridges: Set<string>;
    places: Set<number>;
    tickets: Set<string>;
    lengths: boolean;
    nextPlaceId: boolean;
  };
}

/**
 * How often the alarm reads the guards while anyone is in line or a turn or a try is pending. A
 * session's end reaches the head of the line after half this on average, all of it at worst, plus a
 * probe's round trip: 750 ms keeps the worst case under the 1 s (measured 1 s polling: 1,010 ms).
 */
export const POLL_INTERVAL_MS = 750;
/**
 * With nobody waiting and nothing pending, a bridge not known free is read this often: a held
 * session's end only matters once someone waits (joining brings the alarm back to
 * POLL_INTERVAL_MS), and a down bridge is offered as a last resort anyway. At most 1,440 alarms a
 * day, against 115,200 at 750 ms (the Free plan allows 100,000 Durable Object requests a day).
 */
export const IDLE_POLL_INTERVAL_MS = 60_000;
/** An admitted session's holder is kept this long while its guard does not answer, then the bridge is down. */
export const HOLDER_FORGET_MS = 120_000;
/**
 * A try's hold lasts the edge's bound on the try plus this: the edge's report of how it went
 * travels after the try (an RPC from the upgrade's `waitUntil`).
 */
export const REPORT_MARGIN_MS = 2_000;

/** Sessions whose lengths the estimate averages. */
export const RECENT_SESSIONS = 20;
/** A used or expired ticket is remembered this long, to say why it is refused. */
export const TICKET_MEMORY_MS = 10 * 60_000;

export const placeTag = (id: number): string => `place:${id}`;

export function emptyState(): FleetState {
  return {
    bridges: new Map(),
    places: new Map(),
    tickets: new Map(),
    lengths: [],
    nextPlaceId: 1,
    dirty: {
      bridges: new Set(),
      places: new Set(),
      tickets: new Set(),
      lengths: false,
      nextPlaceId: false,
    },
  };
}

/** Makes the state's bridges those of the bindings: new ones free, gone ones forgotten. */
export function syncBridges(state: FleetState, names: readonly string[], now: number): void {
  const wanted = new Set(names);
  for (const [name, record] of state.bridges)
    if (!wanted.has(name)) {
      // A turn on a bridge that is gone: its visitor stands again where they stood.
      if (record.state.kind === "reserved") cancelReservation(state, record.state.ticket, now);
      state.bridges.delete(name);
      state.dirty.bridges.add(name);
    }
  const ordered = new Map<string, BridgeRecord>();
  for (const name of names) {
    const record = state.bridges.get(name);
    if (record) ordered.set(name, record);
    else {
      ordered.set(name, { name, state: { kind: "free" }, changedAt: now });
      state.dirty.bridges.add(name);
    }
  }
  state.bridges = ordered;
}

/** What a change asks of the sockets: a turn to send, a place's socket to close. */
export interface Effects {
  turns: { placeId: number; message: Extract<LineMessage, { type: "turn" }> }[];
  closes: { placeId: number; code: number; reason: string }[];
}

export const noEffects = (): Effects => ({ turns: [], closes: [] });

/** Busy by the guard's word, held by nobody the line knows. */
const UNKNOWN_HOLDER = (now: number): BridgeState => ({
  kind: "held",
  admitted: false,
  subject: null,
  since: now,
  pendingUntil: null,
  offer: null,
  unreachableSince: null,
});

function setBridge(state: FleetState, name: string, next: BridgeState, now: number): void {
  const record = state.bridges.get(name);
  if (!record) return;
  record.state = next;
  record.changedAt = now;
  state.dirty.bridges.add(name);
}

function setPlace(state: FleetState, place: Place): void {
  state.places.set(place.id, place);
  state.dirty.places.add(place.id);
}

function dropPlace(state: FleetState, id: number): void {
  if (state.places.delete(id)) state.dirty.places.add(id);
}

function setTicket(state: FleetState, ticket: Ticket): void {
  state.tickets.set(ticket.ticket, ticket);
  state.dirty.tickets.add(ticket.ticket);
}

/** Places waiting for a turn, in line order (joined first, then the older place). */
export function waitingPlaces(state: FleetState): Place[] {
  return [...state.places.values()]
    .filter((place) => place.turn === null)
    .sort((a, b) => a.joinedAt - b.joinedAt || a.id - b.id);
}

/** Sessions, reserved turns and places in line `subject` holds now. */
export function holdingsOf(state: FleetState, subject: string): number {
  let count = 0;
  for (const { state: bridge } of state.bridges.values())
    if (
      ((bridge.kind === "held" && bridge.admitted) || bridge.kind === "reserved") &&
      bridge.subject === subject
    )
      count++;
  // A place with a turn is counted through its reserved bridge.
  for (const place of state.places.values())
    if (place.subject === subject && place.turn === null) count++;
  return count;
}

/**
 * How soon the alarm should read the guards: POLL_INTERVAL_MS while anyone is in line or a turn or
 * a try is pending, IDLE_POLL_INTERVAL_MS while only some bridge is not known free, null (no alarm)
 * when the fleet is idle.
 */
export function pollIntervalOf(state: FleetState): number | null {
  if (state.places.size > 0) return POLL_INTERVAL_MS;
  let watch = false;
  for (const { state: bridge } of state.bridges.values()) {
    if (bridge.kind === "reserved" || (bridge.kind === "held" && bridge.pendingUntil !== null))
      return POLL_INTERVAL_MS;
    if (bridge.kind !== "free") watch = true;
  }
  return watch ? IDLE_POLL_INTERVAL_MS : null;
}

/**
 * The estimate's one input: the mean of the recent session lengths, at most the session cap;
 * with none recorded yet, the cap itself, or null (no estimate) without one.
 */
export function typicalSessionMs(
  lengths: readonly number[],
  settings: LineSettings,
): number | null {
  const capMs =
    settings.maxSessionMinutes === undefined ? null : settings.maxSessionMinutes * 60_000;
  if (lengths.length === 0) return capMs;
  const mean = lengths.reduce((sum, length) => sum + length, 0) / lengths.length;
  return capMs === null ? mean : Math.min(mean, capMs);
}

/**
 * Seconds until each of the first `count` places in line may get its turn. Every bridge that is
 * not down frees at an expected time — a free one now, a held one when its session reaches the
 * typical length (at once if it already has), a reserved one when its ticket would be used and
 * that session ends — and each freed bridge serves the next place, then frees again a typical
 * length later. So position p waits for the p-th earliest of these times. Null without a typical
 * length (no session ended yet and no cap) or with every bridge down.
 */
export function waitEstimates(
  state: FleetState,
  settings: LineSettings,
  count: number,
  now: number,
): (number | null)[] {
  const typical = typicalSessionMs(state.lengths, settings);
  const frees: number[] = [];
  for (const { state: bridge } of state.bridges.values()) {
    if (bridge.kind === "down") continue;
    if (bridge.kind === "free") frees.push(0);
    else if (typical !== null)
      frees.push(
        bridge.kind === "held"
          ? Math.max(0, bridge.since + typical - now)
          : Math.max(0, bridge.until - now) + typical,
      );
  }
  if (typical === null || frees.length === 0) return new Array<null>(count).fill(null);
  const estimates: number[] = [];
  // Few bridges (at most MAX_BRIDGES): a linear scan for the earliest beats a heap.
  for (let p = 0; p < count; p++) {
    let earliest = 0;
    for (let i = 1; i < frees.length; i++) if (frees[i] < frees[earliest]) earliest = i;
    estimates.push(Math.ceil(frees[earliest] / 1000));
    frees[earliest] += typical;
  }
  return estimates;
}

/** Each waiting place's position (from 1) and estimate. */
export function positionsOf(
  state: FleetState,
  settings: LineSettings,
  now: number,
): Map<number, { position: number; etaS: number | null }> {
  const waiting = waitingPlaces(state);
  const estimates = waitEstimates(state, settings, waiting.length, now);
  return new Map(
    waiting.map((place, i) => [place.id, { position: i + 1, etaS: estimates[i] }] as const),
  );
}

/**
 * Whether a page hears a new position message: its position changed, or its estimate appeared,
 * vanished, or moved by at least 5 s and a tenth (small drifts are not news).
 */
export function positionIsNews(
  last: { position: number; etaS: number | null } | undefined,
  next: { position: number; etaS: number | null },
): boolean {
  if (!last || last.position !== next.position) return true;
  if ((last.etaS === null) !== (next.etaS === null)) return true;
  if (last.etaS === null || next.etaS === null) return false;
  const moved = Math.abs(last.etaS - next.etaS);
  return moved >= 5 && moved >= last.etaS / 10;
}

/** Bridges of one kind, the longest in it first: wear spreads over the fleet. */
function bridgesOfKind(state: FleetState, kind: "free" | "down"): BridgeRecord[] {
  return [...state.bridges.values()]
    .filter((record) => record.state.kind === kind)
    .sort((a, b) => a.changedAt - b.changedAt);
}

const freeBridges = (state: FleetState) => bridgesOfKind(state, "free");

/** Gives each free bridge to the head of the line (a connected place), as a reserved turn. */
export function assignTurns(
  state: FleetState,
  settings: LineSettings,
  now: number,
  newTicket: () => string,
  effects: Effects,
): void {
  const free = freeBridges(state);
  if (free.length === 0) return;
  const heads = waitingPlaces(state).filter((place) => place.connected);
  for (let i = 0; i < Math.min(free.length, heads.length); i++) {
    const bridge = free[i];
    const place = heads[i];
    const ticket = newTicket();
    const until = now + settings.holdSeconds * 1000;
    setBridge(state, bridge.name, { kind: "reserved", subject: place.subject, ticket, until }, now);
    setPlace(state, { ...place, turn: ticket });
    setTicket(state, {
      ticket,
      subject: place.subject,
      bridge: bridge.name,
      placeId: place.id,
      joinedAt: place.joinedAt,
      expiresAt: until,
      status: "reserved",
    });
    effects.turns.push({ placeId: place.id, message: turnMessage(ticket, settings) });
  }
}

function turnMessage(ticket: string, settings: LineSettings) {
  return {
    type: "turn" as const,
    ticket,
    expiresInS: settings.holdSeconds,
    ...(settings.maxSessionMinutes !== undefined
      ? { maxSessionMinutes: settings.maxSessionMinutes }
      : {}),
  };
}

/** A reserved turn that will not be used: its visitor stands again where they stood, its bridge is `next`. */
function cancelTurn(state: FleetState, ticket: Ticket, now: number): void {
  setTicket(state, { ...ticket, status: "expired" });
  const place = state.places.get(ticket.placeId);
  if (place) setPlace(state, { ...place, turn: null });
  else
    setPlace(state, {
      id: ticket.placeId,
      subject: ticket.subject,
      joinedAt: ticket.joinedAt,
      lastSeen: now,
      connected: false,
      turn: null,
    });
}

/**
 * What one try of a bridge taught the edge: applied only while the bridge is still held for that
 * very offer, so a late, repeated or stale report changes nothing the guard or another offer set.
 */
export function applyTry(state: FleetState, report: TryReport, now: number): void {
  const record = state.bridges.get(report.bridge);
  if (!record) return;
  const current = record.state;
  if (current.kind !== "held" || current.offer !== report.offer) return;
  switch (report.outcome) {
    case "served":
      setBridge(state, report.bridge, { ...current, pendingUntil: null, offer: null }, now);
      return;
    case "options_refused":
    case "untried":
      // No session started: the bridge is as free as it was.
      setBridge(state, report.bridge, { kind: "free" }, now);
      break;
    case "busy":
      setBridge(state, report.bridge, UNKNOWN_HOLDER(now), now);
      break;
    case "down":
      setBridge(state, report.bridge, { kind: "down" }, now);
      break;
  }
  // A redeemed turn whose bridge did not take the session: its visitor keeps the head of the line.
  const ticket = report.ticket === undefined ? undefined : state.tickets.get(report.ticket);
  if (ticket && ticket.bridge === report.bridge && ticket.status === "used")
    cancelTurn(state, ticket, now);
}

/** One look at a bridge's guard, sent at `sentAt`: the guard is the final word. */
export interface Observation {
  bridge: string;
  sentAt: number;
  /** Reachable and up; `busy`: admitting no new session. */
  up: boolean;
  busy: boolean;
  /** The guard answered and says its server is down: no session survives on it. */
  serverDown?: boolean;
}

/** The bridges `subject` is believed to hold a session on (the ones its bound counts). */
export function bridgesHeldBy(state: FleetState, subject: string): string[] {
  return [...state.bridges.values()]
    .filter(
      ({ state: bridge }) =>
        bridge.kind === "held" && bridge.admitted && bridge.subject === subject,
    )
    .map(({ name }) => name);
}

/** Corrects the belief about one bridge from its guard's `/health`; a session that ended is measured. */
export function observe(state: FleetState, observation: Observation, now: number): void {
  const record = state.bridges.get(observation.bridge);
  // A probe sent before the last change says nothing about the new state.
  if (!record || record.changedAt > observation.sentAt) return;
  const current = record.state;
  if (!observation.up) {
    if (current.kind === "down") return;
    if (current.kind === "held" && current.pendingUntil !== null && now < current.pendingUntil)
      return;
    if (current.kind === "held" && current.admitted && !observation.serverDown) {
      // One missed answer (a tunnel blip) must not forget who holds it: that is the subject's bound.
      if (current.unreachableSince === null)
        setBridge(state, record.name, { ...current, unreachableSince: now }, record.changedAt);
      else if (now - current.unreachableSince >= HOLDER_FORGET_MS)
        setBridge(state, record.name, { kind: "down" }, now);
      return;
    }
    if (current.kind === "reserved") cancelReservation(state, current.ticket, now);
    setBridge(state, record.name, { kind: "down" }, now);
    return;
  }
  if (observation.busy) {
    if (current.kind === "free" || current.kind === "down")
      setBridge(state, record.name, UNKNOWN_HOLDER(now), now);
    else if (current.kind === "held" && current.unreachableSince !== null)
      setBridge(state, record.name, { ...current, unreachableSince: null }, record.changedAt);
    else if (current.kind === "reserved") {
      // Someone reached it outside the line: the turn cannot be served there.
      cancelReservation(state, current.ticket, now);
      setBridge(state, record.name, UNKNOWN_HOLDER(now), now);
    }
    return;
  }
  if (current.kind === "down") setBridge(state, record.name, { kind: "free" }, now);
  else if (current.kind === "held") {
    if (current.pendingUntil !== null && now < current.pendingUntil) return;
    // Only a session the line admitted and the edge saw served has a known start and end: an
    // unknown one's, an unconfirmed try's (it may never have started) and one that ended while
    // the guard was silent are not recorded.
    if (current.admitted && current.offer === null && current.unreachableSince === null)
      recordLength(state, now - current.since);
    setBridge(state, record.name, { kind: "free" }, now);
  }
}

function recordLength(state: FleetState, lengthMs: number): void {
  if (lengthMs <= 0) return;
  state.lengths.push(lengthMs);
  if (state.lengths.length > RECENT_SESSIONS)
    state.lengths.splice(0, state.lengths.length - RECENT_SESSIONS);
  state.dirty.lengths = true;
}

function cancelReservation(state: FleetState, ticketId: string, now: number): void {
  const ticket = state.tickets.get(ticketId);
  if (ticket && ticket.status === "reserved") cancelTurn(state, ticket, now);
}

/** Time passing: turns not taken expire (and pass on), left places past their grace go, edge tries that never reported are settled. */
export function tick(
  state: FleetState,
  settings: LineSettings,
  now: number,
  effects: Effects,
): void {
  for (const record of state.bridges.values()) {
    const current = record.state;
    if (current.kind === "reserved" && now >= current.until) {
      const ticket = state.tickets.get(current.ticket);
      if (ticket) {
        setTicket(state, { ...ticket, status: "expired" });
        dropPlace(state, ticket.placeId);
        effects.closes.push({
          placeId: ticket.placeId,
          code: TICKET_REFUSED_CLOSE_CODE,
          reason: JSON.stringify(ticketRefusal("expired")),
        });
      }
      setBridge(state, record.name, { kind: "free" }, now);
    } else if (
      current.kind === "held" &&
      current.pendingUntil !== null &&
      now >= current.pendingUntil
    )
      // The edge never said how its try went: the guard's next answer decides.
      setBridge(state, record.name, { ...current, pendingUntil: null }, record.changedAt);
  }
  const graceMs = settings.rejoinGraceSeconds * 1000;
  for (const place of [...state.places.values()])
    if (!place.connected && place.turn === null && now >= place.lastSeen + graceMs)
      dropPlace(state, place.id);
  for (const ticket of [...state.tickets.values()])
    if (ticket.status !== "reserved" && now >= ticket.expiresAt + TICKET_MEMORY_MS) {
      state.tickets.delete(ticket.ticket);
      state.dirty.tickets.add(ticket.ticket);
    }
}

export function ticketRefusal(ticket: TicketRefusalReason["ticket"]): TicketRefusalReason {
  return { error: "ticket_refused", ticket };
}

/** `retryAfterS` for a page told busy: the estimate for the place it would take, within the guard's bounds. */
function retryAfterOf(state: FleetState, settings: LineSettings, now: number): number {
  const waiting = waitingPlaces(state).length;
  const estimate = waitEstimates(state, settings, waiting + 1, now)[waiting];
  const seconds = estimate === null ? RETRY_AFTER_DEFAULT_S : estimate;
  return Math.min(RETRY_AFTER_MAX_S, Math.max(RETRY_AFTER_MIN_S, seconds));
}

/**
 * A bridge for an upgrade without a ticket: the tries it reports first correct the state, then a
 * free bridge (never one reserved for the line's head; none while anyone connected waits) is held
 * for it while the edge tries it. Else busy, with a place in line offered unless the line is full.
 */
export function admit(
  state: FleetState,
  settings: LineSettings,
  request: AdmitRequest,
  now: number,
  newTicket: () => string,
  effects: Effects,
): AdmitAnswer {
  for (const tried of request.tried) applyTry(state, tried, now);
  // A place its page left (kept for a rejoin, no turn yet) does not bar that page's own voice
  // socket: it is given up when a bridge is offered, and kept when the answer is busy.
  const leftPlaces =
    request.subject === null
      ? []
      : [...state.places.values()].filter(
          (place) => place.subject === request.subject && !place.connected && place.turn === null,
        );
  if (
    request.subject !== null &&
    holdingsOf(state, request.subject) - leftPlaces.length >= settings.maxSessionsPerSubject
  )
    return { kind: "session_limit", limit: settings.maxSessionsPerSubject };
  assignTurns(state, settings, now, newTicket, effects);
  const triedNames = new Set(request.tried.map((tried) => tried.bridge));
  const untried = (record: BridgeRecord) => !triedNames.has(record.name);
  // A bridge believed down is tried as a last resort (a /health that never answers must not keep
  // every GPU idle), but never ahead of anyone waiting in line.
  const lineWaits = waitingPlaces(state).some((place) => place.connected);
  const bridge =
    freeBridges(state).find(untried) ??
    (lineWaits ? undefined : bridgesOfKind(state, "down").find(untried));
  if (bridge) {
    const offer = newTicket();
    for (const place of leftPlaces) dropPlace(state, place.id);
    setBridge(state, bridge.name, tryHold(request.subject, offer, request.tryBoundMs, now), now);
    return { kind: "bridge", bridge: bridge.name, offer };
  }
  // A line in front of a fleet that is all down would keep its pages waiting for nothing.
  if ([...state.bridges.values()].every(({ state: bridge }) => bridge.kind === "down"))
    return { kind: "unavailable" };
  return {
    kind: "busy",
    retryAfterS: retryAfterOf(state, settings, now),
    line: waitingPlaces(state).length < settings.maxWaiting,
  };
}

/** A bridge held for one offer while the edge tries it (and reports how it went). */
const tryHold = (
  subject: string | null,
  offer: string,
  tryBoundMs: number,
  now: number,
): BridgeState => ({
  kind: "held",
  admitted: true,
  subject,
  since: now,
  pendingUntil: now + tryBoundMs + REPORT_MARGIN_MS,
  offer,
  unreachableSince: null,
});

/**
 * A turn's ticket presented on the voice socket: single-use, bound to its subject and bridge,
 * short-lived. The offer is the ticket itself (unique, and carried by the report).
 */
export function redeem(
  state: FleetState,
  request: { ticket: string; subject: string | null; tryBoundMs: number },
  now: number,
  effects: Effects,
): RedeemAnswer {
  const ticket = state.tickets.get(request.ticket);
  if (!ticket) return { kind: "refused", reason: ticketRefusal("unknown") };
  if (ticket.subject !== request.subject)
    return { kind: "refused", reason: ticketRefusal("other_subject") };
  if (ticket.status === "used") return { kind: "refused", reason: ticketRefusal("used") };
  const bridge = state.bridges.get(ticket.bridge);
  const reserved =
    ticket.status === "reserved" &&
    now < ticket.expiresAt &&
    bridge?.state.kind === "reserved" &&
    bridge.state.ticket === ticket.ticket;
  if (!reserved) return { kind: "refused", reason: ticketRefusal("expired") };
  setTicket(state, { ...ticket, status: "used" });
  setBridge(
    state,
    ticket.bridge,
    tryHold(ticket.subject, ticket.ticket, request.tryBoundMs, now),
    now,
  );
  dropPlace(state, ticket.placeId);
  effects.closes.push({ placeId: ticket.placeId, code: 1000, reason: "turn taken" });
  return { kind: "bridge", bridge: ticket.bridge, offer: ticket.ticket };
}

export type JoinAnswer =
  | { kind: "place"; placeId: number; reconnected: boolean }
  | { kind: "session_limit"; limit: number }
  | { kind: "full" };

/**
 * A line socket opened: the subject's place kept through the grace period is taken up again (with
 * its turn, if one came meanwhile); else a new place at the back, within the subject's bound (a
 * second place while the first one's socket is open is refused, as a second session is) and the
 * line's size.
 */
export function join(
  state: FleetState,
  settings: LineSettings,
  subject: string | null,
  now: number,
  effects: Effects,
): JoinAnswer {
  const mine =
    subject === null ? [] : [...state.places.values()].filter((place) => place.subject === subject);
  const atBound = subject !== null && holdingsOf(state, subject) >= settings.maxSessionsPerSubject;
  const kept = mine.find((place) => !place.connected);
  if (kept) {
    setPlace(state, { ...kept, connected: true, lastSeen: now });
    if (kept.turn !== null) {
      const ticket = state.tickets.get(kept.turn);
      if (ticket)
        effects.turns.push({
          placeId: kept.id,
          message: {
            ...turnMessage(ticket.ticket, settings),
            expiresInS: Math.max(1, Math.ceil((ticket.expiresAt - now) / 1000)),
          },
        });
    }
    return { kind: "place", placeId: kept.id, reconnected: true };
  }
  if (atBound) return { kind: "session_limit", limit: settings.maxSessionsPerSubject };
  if (waitingPlaces(state).length >= settings.maxWaiting) return { kind: "full" };
  const placeId = state.nextPlaceId++;
  state.dirty.nextPlaceId = true;
  setPlace(state, {
    id: placeId,
    subject,
    joinedAt: now,
    lastSeen: now,
    connected: true,
    turn: null,
  });
  return { kind: "place", placeId, reconnected: false };
}

/**
 * A line socket closed. Dropped (a network change, a tab gone): its place is kept for the grace
 * period (a place with a turn, until the turn expires). Closed by its page with 1000
 * (`forGood`): the place goes at once, and a turn it was given passes on now, its bridge freed.
 */
export function leave(
  state: FleetState,
  settings: LineSettings,
  placeId: number,
  now: number,
  forGood = false,
): void {
  const place = state.places.get(placeId);
  if (!place) return;
  if (forGood) {
    const ticket = place.turn === null ? undefined : state.tickets.get(place.turn);
    if (ticket?.status === "reserved") {
      setTicket(state, { ...ticket, status: "expired" });
      const bridge = state.bridges.get(ticket.bridge);
      if (bridge?.state.kind === "reserved" && bridge.state.ticket === ticket.ticket)
        setBridge(state, ticket.bridge, { kind: "free" }, now);
    }
    dropPlace(state, placeId);
    return;
  }
  if (place.turn === null && settings.rejoinGraceSeconds === 0) dropPlace(state, placeId);
  else setPlace(state, { ...place, connected: false, lastSeen: now });
}

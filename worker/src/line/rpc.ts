/**
 * What the edge asks the coordinator (Durable Object RPC on the `LINE` binding's stub) and what it
 * answers. One upgrade: `admit` (again after each bridge that did not take the session, with the
 * tries so far), or `redeem` for a turn's ticket; then `report` how the last try went.
 */
import type { SessionLimitReason, TicketRefusalReason } from "./contract";

/** How one try of one bridge went, as the edge's log line names it. */
export type TryOutcome = "served" | "busy" | "down" | "options_refused";

export interface AdmitRequest {
  /** The token's subject; null with auth off. */
  subject: string | null;
  /**
   * The bridges this upgrade already tried, in order, each with the offer it came with: none of
   * them is offered again, and each outcome is applied once, only to its own offer.
   */
  tried: { bridge: string; offer: string; outcome: Exclude<TryOutcome, "served"> }[];
  /** The edge's bound on one try: the bridge is held for the upgrade this long at most. */
  tryBoundMs: number;
}

/** `offer`: this offer's id, carried back with how its try went. */
export type AdmitAnswer =
  | { kind: "bridge"; bridge: string; offer: string }
  /** No bridge for this visitor now; `line`: a place in line is offered (the line is not full). */
  | { kind: "busy"; retryAfterS: number; line: boolean }
  /** Every bridge is down (and any this upgrade tried answered so): no line to offer, 1014. */
  | { kind: "unavailable" }
  | ({ kind: "session_limit" } & Omit<SessionLimitReason, "error">);

export interface RedeemRequest {
  ticket: string;
  subject: string | null;
  tryBoundMs: number;
}

export type RedeemAnswer =
  | { kind: "bridge"; bridge: string; offer: string }
  | { kind: "refused"; reason: TicketRefusalReason };

export interface TryReport {
  bridge: string;
  /** The offer's id from the answer that named the bridge. */
  offer: string;
  /** `untried`: the upgrade's time ran out before it tried the bridge offered. */
  outcome: TryOutcome | "untried";
  /** The ticket the upgrade redeemed: a turn whose bridge did not take it keeps its place. */
  ticket?: string;
}

/** The coordinator as the edge sees it. */
export interface LineCoordinator {
  admit(request: AdmitRequest): Promise<AdmitAnswer>;
  redeem(request: RedeemRequest): Promise<RedeemAnswer>;
  report(report: TryReport): Promise<void>;
}

/** The request the edge forwards to the coordinator for a line socket (after its own checks). */
export const LINE_JOIN_URL = "https://line.internal/join";
/** Carries the authenticated subject to the coordinator; absent with auth off. */
export const LINE_SUBJECT_HEADER = "X-Line-Subject";

/**
 * The edge's side of the waiting line: admission through the coordinator (one try at any k of N
 * busy), a turn's ticket redeemed, and the fallback to today's admission when the coordinator
 * throws, hangs or is not there. A free GPU is never withheld because the coordinator is away.
 */
import type { BridgeTarget, Bindings } from "../bindings";
import { tryBridge, type BridgeTry } from "../admission";
import { refusalOfTries } from "../bridgeChoice";
import { admissionTimeoutOf } from "../config/rules";
import { SessionRefusal } from "../errors";
import { RETRY_AFTER_DEFAULT_S } from "../guardAnswers";
import type { BridgeRequest, BridgeSession } from "../passThrough";
import { LINE_BINDINGS, LINE_OBJECT_NAME } from "./contract";
import type { AdmitRequest, LineCoordinator, TryReport } from "./rpc";

/** One call to the coordinator is awaited this long at most; then the edge falls back. */
export const COORDINATOR_TIMEOUT_MS = 1_500;

/** The coordinator's stub when the edge has the `LINE` binding; undefined without it (today's path). */
export function coordinatorOf(env: object): LineCoordinator | undefined {
  const namespace = (env as Record<string, unknown>)[LINE_BINDINGS.coordinator] as
    DurableObjectNamespace | undefined;
  if (!namespace || typeof namespace.idFromName !== "function") return undefined;
  return namespace.get(namespace.idFromName(LINE_OBJECT_NAME)) as unknown as LineCoordinator;
}

/** Why the edge did not use the coordinator: its call timed out, or threw (named by the error). */
export class CoordinatorUnavailable extends Error {
  constructor(readonly why: string) {
    super(why);
    this.name = "CoordinatorUnavailable";
  }
}

/** `call`, bounded by COORDINATOR_TIMEOUT_MS; a failure of any kind is a CoordinatorUnavailable. */
export async function bounded<T>(call: () => Promise<T>): Promise<T> {
  let timer: number | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CoordinatorUnavailable("timeout")), COORDINATOR_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      call().catch((error: unknown) => {
        throw new CoordinatorUnavailable(
          `exception:${error instanceof Error ? error.name : typeof error}`,
        );
      }),
      timeout,
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

type LineOutcome = { tries: BridgeTry[] } & (
  | { kind: "served"; session: BridgeSession; bridge: string }
  | { kind: "refused"; refusal: SessionRefusal }
  /** Today's admission takes over, skipping the bridges already tried. */
  | { kind: "fallback"; why: string }
);

/** `coordinatorMs`: the time spent waiting for the coordinator's answers (the log's `lineMs`). */
export type LineAdmission = LineOutcome & { coordinatorMs: number };

/**
 * Admits one authenticated upgrade through the coordinator: it names a bridge (held for this
 * subject while the edge tries it), the edge tries it, and a busy or down answer goes back with
 * the next request, so each bridge is tried at most once. With a ticket, the bridge reserved for
 * it is the only one tried. How the last try went is reported after the response (`waitUntil`).
 */
export async function admitThroughLine(
  coordinator: LineCoordinator,
  input: { subject: string | null; ticket?: string },
  request: BridgeRequest,
  bindings: Bindings,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<LineAdmission> {
  let coordinatorMs = 0;
  const ask = async <T>(call: () => Promise<T>): Promise<T> => {
    const asked = Date.now();
    try {
      return await bounded(call);
    } finally {
      coordinatorMs += Date.now() - asked;
    }
  };
  const outcome = await admitThrough(coordinator, input, request, bindings, waitUntil, ask);
  return { ...outcome, coordinatorMs };
}

async function admitThrough(
  coordinator: LineCoordinator,
  input: { subject: string | null; ticket?: string },
  request: BridgeRequest,
  bindings: Bindings,
  waitUntil: (promise: Promise<unknown>) => void,
  ask: <T>(call: () => Promise<T>) => Promise<T>,
): Promise<LineOutcome> {
  const settings = bindings.EDGE_CONFIG;
  const tryBoundMs = settings.bridgeConnectTimeoutMs;
  const deadline = Date.now() + admissionTimeoutOf(settings);
  const bridges = new Map(bindings.bridges.map((bridge) => [bridge.name, bridge]));
  const { subject, ticket } = input;
  const tries: BridgeTry[] = [];
  const report = (bridge: string, offer: string, outcome: TryReport["outcome"]) =>
    waitUntil(
      coordinator
        .report({ bridge, offer, outcome, ...(ticket !== undefined ? { ticket } : {}) })
        .catch(() => undefined),
    );
  const fallback = (error: unknown): LineOutcome => {
    if (!(error instanceof CoordinatorUnavailable)) throw error;
    return { kind: "fallback", why: error.why, tries };
  };

  if (ticket !== undefined) {
    let answer;
    try {
      answer = await ask(() => coordinator.redeem({ ticket, subject, tryBoundMs }));
    } catch (error) {
      return fallback(error);
    }
    if (answer.kind === "refused")
      return {
        kind: "refused",
        refusal: new SessionRefusal(answer.reason, "ticket_refused"),
        tries,
      };
    const bridge = bridges.get(answer.bridge);
    if (!bridge) return { kind: "fallback", why: "unknown_bridge", tries };
    const result = await tryBridge(bridge, request, tryBoundMs, deadline);
    if (!result) {
      report(bridge.name, answer.offer, "untried");
      return { kind: "fallback", why: "no_time", tries };
    }
    tries.push(result.tried);
    report(bridge.name, answer.offer, result.tried.outcome);
    if (result.served)
      return { kind: "served", session: result.session, bridge: bridge.name, tries };
    if (result.refusal.reason.error === "session_options_invalid")
      return { kind: "refused", refusal: result.refusal, tries };
    // The turn's bridge did not take it: the visitor keeps the head of the line and joins again.
    return { kind: "refused", refusal: lineBusy(result.refusal), tries };
  }

  const tried: AdmitRequest["tried"] = [];
  const refusals: SessionRefusal[] = [];
  for (let round = 0; round <= bridges.size; round++) {
    let answer;
    try {
      answer = await ask(() => coordinator.admit({ subject, tried, tryBoundMs }));
    } catch (error) {
      return fallback(error);
    }
    if (answer.kind === "session_limit")
      return {
        kind: "refused",
        refusal: new SessionRefusal(
          { error: "session_limit", limit: answer.limit },
          "session_limit",
        ),
        tries,
      };
    if (answer.kind === "unavailable")
      return {
        kind: "refused",
        refusal:
          refusals.length > 0
            ? refusalOfTries(refusals)
            : new SessionRefusal({ error: "bridge_unavailable" }, "bridge_unavailable"),
        tries,
      };
    if (answer.kind === "busy") {
      const reason = {
        error: "bridge_busy" as const,
        retryAfterS: answer.retryAfterS,
        line: answer.line,
      };
      return { kind: "refused", refusal: new SessionRefusal(reason, "bridge_busy"), tries };
    }
    const bridge: BridgeTarget | undefined = bridges.get(answer.bridge);
    if (!bridge || tried.some((t) => t.bridge === answer.bridge))
      return { kind: "fallback", why: bridge ? "bridge_offered_twice" : "unknown_bridge", tries };
    const result = await tryBridge(bridge, request, tryBoundMs, deadline);
    // Too little time left: the bridge offered goes back untried (every earlier try went with this
    // round's admit).
    if (!result) {
      report(bridge.name, answer.offer, "untried");
      break;
    }
    tries.push(result.tried);
    if (result.served) {
      report(bridge.name, answer.offer, "served");
      return { kind: "served", session: result.session, bridge: bridge.name, tries };
    }
    if (result.refusal.reason.error === "session_options_invalid") {
      report(bridge.name, answer.offer, "options_refused");
      return { kind: "refused", refusal: result.refusal, tries };
    }
    tried.push({
      bridge: bridge.name,
      offer: answer.offer,
      outcome: result.tried.outcome === "busy" ? "busy" : "down",
    });
    refusals.push(result.refusal);
  }
  const refusal =
    refusals.length > 0
      ? refusalOfTries(refusals)
      : new SessionRefusal(
          { error: "bridge_busy", retryAfterS: RETRY_AFTER_DEFAULT_S },
          "bridge_busy",
        );
  return { kind: "refused", refusal, tries };
}

/** A turn's bridge did not take the session: busy, with the line offered (the place is kept). */
function lineBusy(refusal: SessionRefusal): SessionRefusal {
  const retryAfterS =
    refusal.reason.error === "bridge_busy" ? refusal.reason.retryAfterS : RETRY_AFTER_DEFAULT_S;
  return new SessionRefusal(
    { error: "bridge_busy", retryAfterS, line: true },
    refusal.failure,
    refusal.detail,
  );
}

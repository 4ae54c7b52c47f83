import type { Bindings, BridgeTarget } from "./bindings";
import { refusalOfTries, tryOrder, type BridgeMark } from "./bridgeChoice";
import { admissionTimeoutOf } from "./config/rules";
import { SessionRefusal } from "./errors";
import { openBridgeSession, type BridgeRequest, type BridgeSession } from "./passThrough";

/** The shortest try worth starting (the per-try bound's own minimum). */
const MIN_TRY_MS = 100;

/** How one try of one bridge ended, as the upgrade's log line lists it. */
export interface BridgeTry {
  bridge: string;
  outcome: "served" | "busy" | "options_refused" | "down";
  /** The finer cause of `down` (`bridge_timeout`, `bridge_unavailable`, `bridge_rejected`). */
  failure?: string;
  /** The bridge's HTTP status when it answered other than 101. */
  status?: number;
  ms: number;
}

export type Admission =
  | { served: true; session: BridgeSession; bridge: string; tries: BridgeTry[] }
  | { served: false; refusal: SessionRefusal; tries: BridgeTry[]; untried: number };

/** Per isolate: each bridge's last mark. */
const lastTried = new WeakMap<Bindings, Map<string, BridgeMark>>();

function memoryOf(bindings: Bindings): Map<string, BridgeMark> {
  let memory = lastTried.get(bindings);
  if (!memory) {
    memory = new Map();
    lastTried.set(bindings, memory);
  }
  return memory;
}

/**
 * Admits one authenticated upgrade to the first bridge that takes it: bridges in `tryOrder`, one
 * try each and one at a time (a Worker has few simultaneous connections), each try bounded by
 * `bridgeConnectTimeoutMs` and all of them by `admissionTimeoutMs` (default: the larger of 20 s
 * and one try's bound). Busy or down moves on; a
 * refusal of the session options is the page's to fix, the same on every bridge: no more tries.
 */
export async function admitToBridge(
  request: BridgeRequest,
  bindings: Bindings,
  /** Bridges this upgrade already tried (through the waiting line before it failed). */
  skip: ReadonlySet<string> = new Set(),
): Promise<Admission> {
  const settings = bindings.EDGE_CONFIG;
  const memory = memoryOf(bindings);
  const started = Date.now();
  const deadline = started + admissionTimeoutOf(settings);
  const order = tryOrder(
    skip.size === 0 ? bindings.bridges : bindings.bridges.filter((b) => !skip.has(b.name)),
    memory,
    started,
  );
  const tries: BridgeTry[] = [];
  const refusals: SessionRefusal[] = [];
  for (const bridge of order) {
    const result = await tryBridge(bridge, request, settings.bridgeConnectTimeoutMs, deadline);
    // Too little time for a try to mean anything: the bridges left are counted as untried.
    if (result === undefined) break;
    tries.push(result.tried);
    if (result.served) {
      memory.set(bridge.name, { at: Date.now(), kind: "busy" });
      return { served: true, session: result.session, bridge: bridge.name, tries };
    }
    const { refusal } = result;
    if (refusal.reason.error === "session_options_invalid")
      return { served: false, refusal, tries, untried: order.length - tries.length };
    const busy = refusal.reason.error === "bridge_busy";
    // A try the total bound cut short says nothing against the bridge: it is not marked down.
    if (busy || !(result.cutByTotal && refusal.failure === "bridge_timeout"))
      memory.set(bridge.name, { at: Date.now(), kind: busy ? "busy" : "down" });
    refusals.push(refusal);
  }
  return {
    served: false,
    refusal: refusalOfTries(refusals),
    tries,
    untried: order.length - tries.length,
  };
}

export type TryResult =
  | { served: true; session: BridgeSession; tried: BridgeTry }
  | { served: false; refusal: SessionRefusal; tried: BridgeTry; cutByTotal: boolean };

/**
 * One try of one bridge, bounded by `tryBoundMs` and by `deadline` (the upgrade's total bound);
 * undefined when less than MIN_TRY_MS is left.
 */
export async function tryBridge(
  bridge: BridgeTarget,
  request: BridgeRequest,
  tryBoundMs: number,
  deadline: number,
): Promise<TryResult | undefined> {
  const tryStarted = Date.now();
  const remaining = deadline - tryStarted;
  if (remaining < MIN_TRY_MS) return undefined;
  const cutByTotal = remaining < tryBoundMs;
  const signal = AbortSignal.timeout(Math.min(tryBoundMs, remaining));
  try {
    const session = await openBridgeSession(bridge, request, signal);
    const tried: BridgeTry = {
      bridge: bridge.name,
      outcome: "served",
      ms: Date.now() - tryStarted,
    };
    return { served: true, session, tried };
  } catch (error) {
    if (!(error instanceof SessionRefusal)) throw error;
    return {
      served: false,
      refusal: error,
      tried: tryOf(bridge, error, Date.now() - tryStarted),
      cutByTotal,
    };
  }
}

function tryOf(bridge: BridgeTarget, refusal: SessionRefusal, ms: number): BridgeTry {
  const status = refusal.detail.bridgeStatus;
  const outcome =
    refusal.reason.error === "bridge_busy"
      ? "busy"
      : refusal.reason.error === "session_options_invalid"
        ? "options_refused"
        : "down";
  return {
    bridge: bridge.name,
    outcome,
    ...(outcome === "down" ? { failure: refusal.failure } : {}),
    ...(status !== undefined ? { status } : {}),
    ms,
  };
}

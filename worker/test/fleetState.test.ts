import { describe, expect, it } from "vitest";
import { lineSettingsSchema, type LineSettings } from "../src/line/contract";
import {
  admit,
  applyTry,
  assignTurns,
  emptyState,
  holdingsOf,
  join,
  leave,
  noEffects,
  observe,
  positionIsNews,
  HOLDER_FORGET_MS,
  bridgesHeldBy,
  IDLE_POLL_INTERVAL_MS,
  POLL_INTERVAL_MS,
  pollIntervalOf,
  positionsOf,
  redeem,
  syncBridges,
  tick,
  waitEstimates,
  type FleetState,
} from "../src/line/fleetState";

const settings = (overrides: Partial<LineSettings> = {}): LineSettings =>
  lineSettingsSchema.parse({ holdSeconds: 10, rejoinGraceSeconds: 5, ...overrides });

function fleet(names = ["a", "b", "c"], now = 0): FleetState {
  const state = emptyState();
  syncBridges(state, names, now);
  return state;
}

let tickets = 0;
const newTicket = () => `t${++tickets}`;

/** The offer a bridge is held for now (what the edge got with the bridge's name). */
function offerOf(state: FleetState, bridge: string): string {
  const current = state.bridges.get(bridge)!.state;
  if (current.kind !== "held" || current.offer === null) throw new Error(`${bridge} has no offer`);
  return current.offer;
}

const anOffer = { kind: "bridge", offer: expect.any(String) };

/** `tried` as the edge sends it: each try with the offer it came with (by default, the current one). */
function admitAt(
  state: FleetState,
  s: LineSettings,
  subject: string | null,
  now: number,
  tried: { bridge: string; outcome: "busy" | "down"; offer?: string }[] = [],
) {
  const withOffers = tried.map((t) => ({ ...t, offer: t.offer ?? offerOf(state, t.bridge) }));
  return admit(
    state,
    s,
    { subject, tried: withOffers, tryBoundMs: 2_000 },
    now,
    newTicket,
    noEffects(),
  );
}

/** The edge reports its try of the bridge's current offer. */
const reportTry = (
  state: FleetState,
  bridge: string,
  outcome: "served" | "busy" | "down" | "untried",
  now: number,
  ticket?: string,
) =>
  applyTry(
    state,
    { bridge, offer: offerOf(state, bridge), outcome, ...(ticket ? { ticket } : {}) },
    now,
  );

/** Fills every bridge with a served session of its own subject, at `now`. */
function fillAll(state: FleetState, s: LineSettings, now: number): void {
  for (const name of state.bridges.keys()) {
    const answer = admitAt(state, s, `holder-${name}`, now);
    expect(answer).toEqual({ ...anOffer, bridge: name });
    reportTry(state, name, "served", now);
  }
}

function joinAt(state: FleetState, s: LineSettings, subject: string, now: number) {
  const effects = noEffects();
  const answer = join(state, s, subject, now, effects);
  assignTurns(state, s, now, newTicket, effects);
  return { answer, effects };
}

const guardSays = (
  state: FleetState,
  bridge: string,
  busy: boolean,
  sentAt: number,
  now = sentAt,
) => observe(state, { bridge, sentAt, up: true, busy }, now);

describe("admission through the coordinator", () => {
  it("hands out the bridge free the longest, held for the subject while the edge tries it", () => {
    const state = fleet();
    guardSays(state, "a", true, 1);
    guardSays(state, "a", false, 2);
    expect(admitAt(state, settings(), "alice", 3)).toEqual({ ...anOffer, bridge: "b" });
    expect(state.bridges.get("b")!.state).toEqual({
      kind: "held",
      admitted: true,
      subject: "alice",
      since: 3,
      pendingUntil: 4_003,
      offer: expect.any(String),
      unreachableSince: null,
    });
  });

  it("offers the next bridge after a busy or down try, each bridge at most once, and corrects itself", () => {
    const state = fleet();
    const s = settings();
    expect(admitAt(state, s, "alice", 0)).toEqual({ ...anOffer, bridge: "a" });
    const offerA = offerOf(state, "a");
    expect(admitAt(state, s, "alice", 1, [{ bridge: "a", outcome: "busy" }])).toEqual({
      ...anOffer,
      bridge: "b",
    });
    const third = admitAt(state, s, "alice", 2, [
      { bridge: "a", outcome: "busy", offer: offerA },
      { bridge: "b", outcome: "down" },
    ]);
    expect(third).toEqual({ ...anOffer, bridge: "c" });
    expect(state.bridges.get("a")!.state).toMatchObject({
      kind: "held",
      admitted: false,
      subject: null,
    });
    expect(state.bridges.get("b")!.state).toEqual({ kind: "down" });
  });

  it.each([
    ["with room in line", 1_000, true],
    ["with the line full", 1, false],
  ])("says busy %s when every bridge is held", (_, maxWaiting, line) => {
    const s = settings({ maxWaiting });
    const state = fleet();
    fillAll(state, s, 0);
    joinAt(state, s, "first", 1);
    expect(admitAt(state, s, "late", 2)).toEqual({
      kind: "busy",
      retryAfterS: expect.any(Number),
      line,
    });
  });

  it("refuses a subject already holding a session, a turn or a place (maxSessionsPerSubject)", () => {
    const s = settings();
    const state = fleet(["a"]);
    expect(admitAt(state, s, "alice", 0)).toEqual({ ...anOffer, bridge: "a" });
    reportTry(state, "a", "served", 0);
    expect(admitAt(state, s, "alice", 1)).toEqual({ kind: "session_limit", limit: 1 });
    expect(joinAt(state, s, "alice", 1).answer).toEqual({ kind: "session_limit", limit: 1 });
    expect(joinAt(state, s, "bob", 1).answer).toMatchObject({ kind: "place" });
    expect(admitAt(state, s, "bob", 2)).toEqual({ kind: "session_limit", limit: 1 });
    // A second place while the first one's socket is open: refused, as a second session is.
    expect(joinAt(state, s, "bob", 2).answer).toEqual({ kind: "session_limit", limit: 1 });
    expect(holdingsOf(state, "bob")).toBe(1);
    expect(admitAt(state, settings({ maxSessionsPerSubject: 2 }), "alice", 3)).toMatchObject({
      kind: "busy",
    });
  });

  it("never counts anyone against a bound with auth off (no subject)", () => {
    const s = settings();
    const state = fleet(["a", "b"]);
    expect(admitAt(state, s, null, 0)).toEqual({ ...anOffer, bridge: "a" });
    expect(admitAt(state, s, null, 0)).toEqual({ ...anOffer, bridge: "b" });
  });
});

describe("the guards are the final word", () => {
  it("marks a bridge it thought free held when its guard says busy, and frees it when the guard says free", () => {
    const state = fleet(["a"]);
    guardSays(state, "a", true, 10);
    expect(state.bridges.get("a")!.state).toMatchObject({ kind: "held", admitted: false });
    guardSays(state, "a", false, 20);
    expect(state.bridges.get("a")!.state).toEqual({ kind: "free" });
    // Nobody knows when an unknown session started: no length is recorded.
    expect(state.lengths).toEqual([]);
  });

  it("records the length of a session the line admitted when its guard says free", () => {
    const s = settings();
    const state = fleet(["a"]);
    admitAt(state, s, "alice", 1_000);
    reportTry(state, "a", "served", 1_050);
    guardSays(state, "a", true, 2_000);
    guardSays(state, "a", false, 61_000);
    expect(state.lengths).toEqual([60_000]);
    expect(pollIntervalOf(state)).toBeNull();
  });

  it("believes no 'free' while the edge's try is under way, nor from a probe sent before the last change", () => {
    const s = settings();
    const state = fleet(["a"]);
    admitAt(state, s, "alice", 100);
    guardSays(state, "a", false, 500, 600);
    expect(state.bridges.get("a")!.state).toMatchObject({ kind: "held", subject: "alice" });
    reportTry(state, "a", "served", 700);
    guardSays(state, "a", false, 650, 800);
    expect(state.bridges.get("a")!.state).toMatchObject({ kind: "held", subject: "alice" });
  });

  it("marks an unreachable guard's bridge down, and free once it answers free", () => {
    const state = fleet(["a"]);
    observe(state, { bridge: "a", sentAt: 1, up: false, busy: false }, 1);
    expect(state.bridges.get("a")!.state).toEqual({ kind: "down" });
    guardSays(state, "a", false, 2);
    expect(state.bridges.get("a")!.state).toEqual({ kind: "free" });
  });

  it("settles a try the edge never reported: the guard's next answer decides", () => {
    const s = settings();
    const state = fleet(["a"]);
    admitAt(state, s, "alice", 0);
    tick(state, s, 4_000, noEffects());
    guardSays(state, "a", false, 4_100);
    expect(state.bridges.get("a")!.state).toEqual({ kind: "free" });
  });
});

describe("the line and its turns", () => {
  function fullFleetWithLine(s: LineSettings) {
    const state = fleet(["a", "b"]);
    fillAll(state, s, 0);
    const places = ["p1", "p2", "p3"].map((subject, i) => joinAt(state, s, subject, 10 + i).answer);
    return { state, placeIds: places.map((p) => (p.kind === "place" ? p.placeId : -1)) };
  }

  it("numbers the places from 1 in the order they joined", () => {
    const s = settings();
    const { state, placeIds } = fullFleetWithLine(s);
    const positions = positionsOf(state, s, 20);
    expect(placeIds.map((id) => positions.get(id)!.position)).toEqual([1, 2, 3]);
  });

  it("gives a freed bridge to the head as a reserved turn; a newcomer does not take it; the others move up", () => {
    const s = settings({ maxSessionMinutes: 5 });
    const { state, placeIds } = fullFleetWithLine(s);
    guardSays(state, "a", false, 30_000);
    const effects = noEffects();
    assignTurns(state, s, 30_000, newTicket, effects);
    expect(effects.turns).toEqual([
      {
        placeId: placeIds[0],
        message: { type: "turn", ticket: expect.any(String), expiresInS: 10, maxSessionMinutes: 5 },
      },
    ]);
    expect(state.bridges.get("a")!.state).toMatchObject({ kind: "reserved", subject: "p1" });
    expect(admitAt(state, s, "newcomer", 30_001)).toMatchObject({ kind: "busy" });
    const positions = positionsOf(state, s, 30_001);
    expect(positions.get(placeIds[0])).toBeUndefined();
    expect([positions.get(placeIds[1])!.position, positions.get(placeIds[2])!.position]).toEqual([
      1, 2,
    ]);
  });

  describe("a ticket", () => {
    function withTurn() {
      const s = settings();
      const { state, placeIds } = fullFleetWithLine(s);
      guardSays(state, "a", false, 30_000);
      const effects = noEffects();
      assignTurns(state, s, 30_000, newTicket, effects);
      return { s, state, placeIds, ticket: effects.turns[0].message.ticket };
    }
    const redeemAt = (state: FleetState, ticket: string, subject: string, now: number) =>
      redeem(state, { ticket, subject, tryBoundMs: 2_000 }, now, noEffects());

    it("is redeemed once by its subject for its bridge, and its line socket is closed", () => {
      const { state, placeIds, ticket } = withTurn();
      const effects = noEffects();
      expect(redeem(state, { ticket, subject: "p1", tryBoundMs: 2_000 }, 30_100, effects)).toEqual({
        kind: "bridge",
        bridge: "a",
        offer: ticket,
      });
      expect(effects.closes).toEqual([{ placeId: placeIds[0], code: 1000, reason: "turn taken" }]);
      expect(state.bridges.get("a")!.state).toMatchObject({ kind: "held", subject: "p1" });
    });

    it.each([
      ["used twice", "p1", "used", true],
      ["by another subject", "p2", "other_subject", false],
      ["unknown", "p1", "unknown", false],
    ])("is refused %s", (_, subject, why, redeemFirst) => {
      const { state, ticket } = withTurn();
      if (redeemFirst) redeemAt(state, ticket, "p1", 30_100);
      const presented = why === "unknown" ? "no-such-ticket" : ticket;
      expect(redeemAt(state, presented, subject, 30_200)).toEqual({
        kind: "refused",
        reason: { error: "ticket_refused", ticket: why },
      });
    });

    it("expires unused: its socket is closed with 4410, the turn passes on, and it is refused as expired", () => {
      const { s, state, placeIds, ticket } = withTurn();
      const effects = noEffects();
      tick(state, s, 40_000, effects);
      assignTurns(state, s, 40_000, newTicket, effects);
      expect(effects.closes).toEqual([
        {
          placeId: placeIds[0],
          code: 4410,
          reason: '{"error":"ticket_refused","ticket":"expired"}',
        },
      ]);
      expect(effects.turns.map((turn) => turn.placeId)).toEqual([placeIds[1]]);
      expect(redeemAt(state, ticket, "p1", 40_001)).toEqual({
        kind: "refused",
        reason: { error: "ticket_refused", ticket: "expired" },
      });
    });

    it("is withdrawn when the guard says its bridge is busy after all: its visitor is first in line again", () => {
      const { s, state, placeIds, ticket } = withTurn();
      guardSays(state, "a", true, 31_000);
      expect(redeemAt(state, ticket, "p1", 31_100)).toMatchObject({ kind: "refused" });
      expect(positionsOf(state, s, 31_100).get(placeIds[0])!.position).toBe(1);
    });

    it("keeps its visitor's place when the bridge did not take the redeemed session", () => {
      const { s, state, ticket } = withTurn();
      redeemAt(state, ticket, "p1", 30_100);
      reportTry(state, "a", "busy", 30_200, ticket);
      const rejoined = joinAt(state, s, "p1", 30_300).answer;
      expect(rejoined).toMatchObject({ kind: "place", reconnected: true });
      expect(
        positionsOf(state, s, 30_300).get((rejoined as { placeId: number }).placeId)!.position,
      ).toBe(1);
    });
  });

  it("keeps a left place for the grace period for the same subject, then removes it and those behind move up", () => {
    const s = settings({ rejoinGraceSeconds: 5 });
    const { state, placeIds } = fullFleetWithLine(s);
    leave(state, s, placeIds[0], 100);
    tick(state, s, 4_000, noEffects());
    expect(joinAt(state, s, "p1", 4_100).answer).toEqual({
      kind: "place",
      placeId: placeIds[0],
      reconnected: true,
    });
    leave(state, s, placeIds[0], 5_000);
    tick(state, s, 10_000, noEffects());
    const positions = positionsOf(state, s, 10_000);
    expect(positions.get(placeIds[0])).toBeUndefined();
    expect(positions.get(placeIds[1])!.position).toBe(1);
  });

  it("removes a left place at once with no grace period", () => {
    const s = settings({ rejoinGraceSeconds: 0 });
    const { state, placeIds } = fullFleetWithLine(s);
    leave(state, s, placeIds[1], 100);
    expect(positionsOf(state, s, 100).get(placeIds[2])!.position).toBe(2);
  });
});

describe("the wait estimate", () => {
  const typical = 100_000;
  function heldSince(sinces: (number | "down")[]): FleetState {
    const state = fleet(sinces.map((_, i) => `g${i}`));
    sinces.forEach((since, i) => {
      const record = state.bridges.get(`g${i}`)!;
      record.state =
        since === "down"
          ? { kind: "down" }
          : {
              kind: "held",
              admitted: true,
              subject: `s${i}`,
              since,
              pendingUntil: null,
              offer: null,
              unreachableSince: null,
            };
    });
    state.lengths = [typical];
    return state;
  }

  it.each([
    ["two bridges 40 s into 100 s sessions", [0, 0], 4, [60, 60, 160, 160]],
    ["one of them down", [0, "down"], 3, [60, 160, 260]],
    ["sessions past the typical length", [-200_000, -150_000], 3, [0, 0, 100]],
  ] as const)("with %s", (_, sinces, count, expected) => {
    expect(waitEstimates(heldSince([...sinces]), settings(), count, 40_000)).toEqual(expected);
  });

  it("has none without a finished session or a cap, nor with every bridge down", () => {
    const none = heldSince([0]);
    none.lengths = [];
    expect(waitEstimates(none, settings(), 2, 0)).toEqual([null, null]);
    expect(waitEstimates(none, settings({ maxSessionMinutes: 1 }), 1, 0)).toEqual([60]);
    expect(waitEstimates(heldSince(["down"]), settings(), 1, 0)).toEqual([null]);
  });

  it.each([
    [undefined, { position: 3, etaS: 240 }, true],
    [{ position: 3, etaS: 240 }, { position: 2, etaS: 240 }, true],
    [{ position: 3, etaS: 240 }, { position: 3, etaS: 238 }, false],
    [{ position: 3, etaS: 240 }, { position: 3, etaS: 200 }, true],
    [{ position: 3, etaS: null }, { position: 3, etaS: 200 }, true],
    [{ position: 3, etaS: 20 }, { position: 3, etaS: 17 }, false],
  ])("tells %j → %j: %s", (last, next, news) => {
    expect(positionIsNews(last, next)).toBe(news);
  });
});

describe("a try's outcome applies once, to its own offer", () => {
  /** `names` all held by served sessions but `free`; `h` waits in line (connected). */
  function headWaiting(names: string[], s: LineSettings) {
    const state = fleet(names);
    fillAll(state, s, 0);
    const h = joinAt(state, s, "h", 10).answer;
    return { state, placeId: h.kind === "place" ? h.placeId : -1 };
  }
  const turnOf = (state: FleetState, placeId: number) => state.places.get(placeId)?.turn ?? null;
  const redeemable = (state: FleetState, ticket: string, now: number) =>
    redeem(state, { ticket, subject: "h", tryBoundMs: 2_000 }, now, noEffects());

  it("ignores a try listed again in a later round over the head's reserved turn", () => {
    const s = settings();
    const state = fleet(["a", "b", "c"]);
    expect(admitAt(state, s, "s1", 0)).toMatchObject({ bridge: "a" });
    reportTry(state, "a", "served", 0);
    expect(admitAt(state, s, "w", 1)).toMatchObject({ bridge: "b" });
    const offerB = offerOf(state, "b");
    expect(admitAt(state, s, "w", 100, [{ bridge: "b", outcome: "busy" }])).toMatchObject({
      bridge: "c",
    });
    const offerC = offerOf(state, "c");
    joinAt(state, s, "h", 200);
    guardSays(state, "b", false, 1_000);
    assignTurns(state, s, 1_000, newTicket, noEffects());
    expect(state.bridges.get("b")!.state).toMatchObject({ kind: "reserved", subject: "h" });
    // w's try of c failed; its next admit lists b again, with b's old offer.
    admitAt(state, s, "w", 2_100, [
      { bridge: "b", outcome: "busy", offer: offerB },
      { bridge: "c", outcome: "down", offer: offerC },
    ]);
    expect(state.bridges.get("b")!.state).toMatchObject({ kind: "reserved", subject: "h" });
    const place = [...state.places.values()].find((p) => p.subject === "h")!;
    expect(redeemable(state, place.turn!, 2_200)).toMatchObject({ kind: "bridge", bridge: "b" });
  });

  it("ignores a 'served' that arrives after the hold lapsed and the bridge became the head's turn", () => {
    const s = settings();
    const state = fleet(["a"]);
    expect(admitAt(state, s, "s", 0)).toMatchObject({ bridge: "a" });
    const late = offerOf(state, "a");
    joinAt(state, s, "h", 20);
    tick(state, s, 4_500, noEffects());
    guardSays(state, "a", false, 4_500, 4_600);
    assignTurns(state, s, 4_600, newTicket, noEffects());
    const ticket = [...state.places.values()][0].turn!;
    applyTry(state, { bridge: "a", offer: late, outcome: "served" }, 4_700);
    expect(state.bridges.get("a")!.state).toMatchObject({ kind: "reserved", ticket });
    expect(redeemable(state, ticket, 4_800)).toMatchObject({ kind: "bridge", bridge: "a" });
  });

  it("ignores a stale 'busy' about a bridge that another subject now holds", () => {
    const s = settings();
    const state = fleet(["a", "b"]);
    expect(admitAt(state, s, "alice", 1)).toMatchObject({ bridge: "a" });
    const stale = offerOf(state, "a");
    admitAt(state, s, "alice", 2, [{ bridge: "a", outcome: "busy" }]);
    guardSays(state, "a", false, 3, 4);
    expect(admitAt(state, s, "bob", 5)).toMatchObject({ bridge: "a" });
    reportTry(state, "a", "served", 6);
    applyTry(state, { bridge: "a", offer: stale, outcome: "busy" }, 7);
    expect(holdingsOf(state, "bob")).toBe(1);
  });

  it("waits for a try's report past the edge's bound on the try", () => {
    const s = settings();
    const state = fleet(["a"]);
    admitAt(state, s, "alice", 0);
    guardSays(state, "a", false, 2_500);
    reportTry(state, "a", "served", 2_900);
    expect(state.bridges.get("a")!.state).toMatchObject({ kind: "held", subject: "alice" });
    expect(holdingsOf(state, "alice")).toBe(1);
  });

  it("puts a turn whose bridge left the bindings back in line, first", () => {
    const s = settings();
    const { state, placeId } = headWaiting(["a", "b"], s);
    guardSays(state, "a", false, 20);
    assignTurns(state, s, 20, newTicket, noEffects());
    expect(turnOf(state, placeId)).not.toBeNull();
    syncBridges(state, ["b"], 30);
    expect(turnOf(state, placeId)).toBeNull();
    expect(positionsOf(state, s, 30).get(placeId)!.position).toBe(1);
  });

  it("frees a bridge the edge had no time to try, recording no session", () => {
    const s = settings();
    const state = fleet(["a", "b"]);
    admitAt(state, s, "alice", 0);
    reportTry(state, "a", "untried", 100);
    expect(state.bridges.get("a")!.state).toEqual({ kind: "free" });
    // A hold nobody reported, that lapses while the guard says free, was no session either.
    expect(admitAt(state, s, "bob", 200)).toMatchObject({ bridge: "b" });
    tick(state, s, 5_000, noEffects());
    guardSays(state, "b", false, 5_000);
    expect(state.bridges.get("b")!.state).toEqual({ kind: "free" });
    expect(state.lengths).toEqual([]);
  });
});

describe("an unreachable guard", () => {
  it("keeps the admitted holder through missed answers, and forgets it after HOLDER_FORGET_MS", () => {
    const s = settings();
    const state = fleet(["a", "b"]);
    admitAt(state, s, "alice", 1);
    reportTry(state, "a", "served", 2);
    const unreachable = (now: number) =>
      observe(state, { bridge: "a", sentAt: now, up: false, busy: false }, now);
    unreachable(10_000);
    guardSays(state, "a", true, 11_000);
    expect(holdingsOf(state, "alice")).toBe(1);
    expect(admitAt(state, s, "alice", 11_100)).toMatchObject({ kind: "session_limit" });
    expect(state.bridges.get("a")!.state).toMatchObject({ subject: "alice", since: 1 });
    unreachable(20_000);
    unreachable(20_000 + HOLDER_FORGET_MS - 1);
    expect(holdingsOf(state, "alice")).toBe(1);
    unreachable(20_000 + HOLDER_FORGET_MS);
    expect(state.bridges.get("a")!.state).toEqual({ kind: "down" });
  });

  it("answers unavailable, not busy with a line, when every bridge is down (the ones this upgrade tried included)", () => {
    const s = settings();
    const state = fleet(["a", "b"]);
    observe(state, { bridge: "a", sentAt: 10, up: false, busy: false }, 10);
    expect(admitAt(state, s, "v", 20)).toMatchObject({ kind: "bridge", bridge: "b" });
    expect(
      admitAt(state, s, "w", 30, [{ bridge: "b", outcome: "down", offer: "gone" }]),
    ).toMatchObject({ kind: "bridge", bridge: "a" });
    expect(
      admitAt(state, s, "w", 40, [
        { bridge: "b", outcome: "down" },
        { bridge: "a", outcome: "down" },
      ]),
    ).toEqual({ kind: "unavailable" });
  });

  it("forgets the holder at once when the guard answers that its server is down (no session survives it)", () => {
    const s = settings();
    const state = fleet(["a", "b"]);
    admitAt(state, s, "alice", 1);
    reportTry(state, "a", "served", 2);
    expect(bridgesHeldBy(state, "alice")).toEqual(["a"]);
    observe(
      state,
      { bridge: "a", sentAt: 10_000, up: false, busy: false, serverDown: true },
      10_000,
    );
    expect(state.bridges.get("a")!.state).toEqual({ kind: "down" });
    expect(bridgesHeldBy(state, "alice")).toEqual([]);
    expect(admitAt(state, s, "alice", 10_100)).toMatchObject({ kind: "bridge", bridge: "b" });
  });

  it("leaves its bridge offered as a last resort, after the free ones, once per upgrade, never ahead of the line", () => {
    const s = settings();
    const state = fleet(["a", "b", "c"]);
    for (const name of ["a", "b"])
      observe(state, { bridge: name, sentAt: 10, up: false, busy: false }, 10);
    expect(admitAt(state, s, "v", 20)).toMatchObject({ bridge: "c" });
    expect(admitAt(state, s, "w", 30)).toMatchObject({ bridge: "a" });
    expect(admitAt(state, s, "w", 40, [{ bridge: "a", outcome: "down" }])).toMatchObject({
      bridge: "b",
    });
    expect(
      admitAt(state, s, "w", 50, [
        { bridge: "a", outcome: "down", offer: "gone" },
        { bridge: "b", outcome: "down" },
      ]),
    ).toMatchObject({ kind: "busy" });
    joinAt(state, s, "x", 60);
    expect(admitAt(state, s, "y", 70)).toMatchObject({ kind: "busy" });
  });
});

describe("the alarm's pace", () => {
  it("polls often only while someone waits or a try or turn is pending; slowly for a bridge not known free; never when idle", () => {
    const s = settings();
    const state = fleet(["a", "b"]);
    expect(pollIntervalOf(state)).toBeNull();
    admitAt(state, s, "alice", 0);
    expect(pollIntervalOf(state)).toBe(POLL_INTERVAL_MS);
    reportTry(state, "a", "served", 100);
    observe(state, { bridge: "b", sentAt: 200, up: false, busy: false }, 200);
    expect(pollIntervalOf(state)).toBe(IDLE_POLL_INTERVAL_MS);
    joinAt(state, s, "bob", 300);
    expect(pollIntervalOf(state)).toBe(POLL_INTERVAL_MS);
  });
});

describe("a page that left its place", () => {
  it("opens its voice socket without 4409: busy keeps the place for a rejoin", () => {
    const s = settings();
    const state = fleet(["a"]);
    fillAll(state, s, 0);
    const left = joinAt(state, s, "h", 10).answer as { placeId: number };
    leave(state, s, left.placeId, 15);
    expect(admitAt(state, s, "h", 16)).toMatchObject({ kind: "busy", line: true });
    expect(state.places.has(left.placeId)).toBe(true);
    expect(holdingsOf(state, "h")).toBe(1);
  });

  it("is offered a bridge (here one believed down, tried last) and gives its place up: one holding", () => {
    const s = settings();
    const state = fleet(["a", "b"]);
    fillAll(state, s, 0);
    const left = joinAt(state, s, "h", 10).answer as { placeId: number };
    leave(state, s, left.placeId, 15);
    guardSays(state, "b", false, 20);
    observe(state, { bridge: "b", sentAt: 21, up: false, busy: false }, 21);
    expect(admitAt(state, s, "h", 22)).toEqual({ ...anOffer, bridge: "b" });
    expect(state.places.has(left.placeId)).toBe(false);
    expect(holdingsOf(state, "h")).toBe(1);
  });
});

describe("a rejoin", () => {
  it("takes up a place whose socket closed, with the turn that came meanwhile: one place", () => {
    const s = settings();
    const state = fleet(["a"]);
    fillAll(state, s, 0);
    const first = joinAt(state, s, "h", 10).answer;
    expect(first).toMatchObject({ kind: "place" });
    leave(state, s, (first as { placeId: number }).placeId, 15);
    guardSays(state, "a", false, 20);
    assignTurns(state, s, 20, newTicket, noEffects());
    const again = joinAt(state, s, "h", 30);
    expect(again.answer).toEqual({ ...first, reconnected: true });
    expect(again.effects.turns).toMatchObject([{ message: { type: "turn" } }]);
    expect(holdingsOf(state, "h")).toBe(1);
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { PERSONAPLEX_QUERY, standinClient } from "../../test/support/bridge";
import {
  APP_ORIGIN,
  expectOpen,
  expectRefusedSession,
  jwtEdgeConfig,
  TEST_SECRET,
  type OpenSession,
  type TestEdge,
} from "../../test/support/edge";
import {
  startGuardedFleet,
  type FleetBridge,
  type GuardedFleet,
} from "../../test/support/guardedFleet";
import { startLineEdge } from "../../test/support/lineEdge";
import { lineClient, type LineClient } from "../../test/support/lineClient";
import { hs256 } from "../../test/support/tokens";
import type { LineMessage } from "../../worker/src/line/contract";

/**
 * The waiting line end to end: the edge and the coordinator (the line script's FleetLine, bound by
 * `scriptName`) in workerd, three personaplex stand-ins (one conversation each) behind three real
 * guards (HAProxy), pages as `ws` clients each with its own token subject.
 */

const VOICES = ["NATF2.pt"];
const NAMES = ["gpu-1", "gpu-2", "gpu-3"];
const HOLD_SECONDS = 5;
const GRACE_SECONDS = 3;
const MAX_SESSION_MINUTES = 10;
const workDir = mkdtempSync(join(tmpdir(), "voice-edge-line-"));

let guarded: GuardedFleet;
let fleet: FleetBridge[];
let edge: TestEdge;
let bridgesBinding: { name: string; url: string }[];

const edgeConfig = () => jwtEdgeConfig({ bridgeConnectTimeoutMs: 2_000 });
const lineConfig = {
  holdSeconds: HOLD_SECONDS,
  rejoinGraceSeconds: GRACE_SECONDS,
  maxWaiting: 4,
  maxSessionMinutes: MAX_SESSION_MINUTES,
};

beforeAll(async () => {
  guarded = await startGuardedFleet({ names: NAMES, voices: VOICES, promptDelayMs: 50 });
  fleet = guarded.bridges;
  bridgesBinding = guarded.binding;
}, 90_000);

/** The edge and the line script, `lineCode` replacing the coordinator's bundle. */
function startEdge(options: { lineCode?: string; persistDir?: string } = {}): Promise<TestEdge> {
  return startLineEdge({
    edgeBindings: { BRIDGES: bridgesBinding, EDGE_CONFIG: edgeConfig(), JWT_SECRET: TEST_SECRET },
    lineBindings: { BRIDGES: bridgesBinding, LINE_CONFIG: lineConfig },
    ...options,
  });
}

// A coordinator of its own for every test (its storage is Miniflare's, in memory); the guards are shared.
beforeEach(async () => {
  edge = await startEdge();
});

afterEach(async () => {
  await edge?.dispose();
  await idle();
});

afterAll(async () => {
  await guarded?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

/** What a page of `subject` offers: the voice protocol and its token (and a turn's ticket). */
async function protocolsOf(subject: string, ticket?: string): Promise<string[]> {
  return [
    "voice.v1",
    `bearer.${await hs256({ sub: subject })}`,
    ...(ticket ? [`ticket.${ticket}`] : []),
  ];
}

async function voiceOptions(subject: string, ticket?: string) {
  return { protocols: await protocolsOf(subject, ticket), headers: { Origin: APP_ORIGIN } };
}

function voiceUrl(on: TestEdge = edge, query = `?${PERSONAPLEX_QUERY}`): string {
  return `${on.wsOrigin}/voice/ws${query}`;
}

interface UpgradeLine {
  event: string;
  outcome: string;
  bridge?: string;
  line?: string;
  lineFallback?: string;
  closeCode?: number;
  tries: { bridge: string; outcome: string }[];
}

function logLines(on: TestEdge, from: number, event = "upgrade"): UpgradeLine[] {
  return on.logs
    .slice(from)
    .filter((line) => line.includes(`"event":"${event}"`))
    .map((line) => JSON.parse(line) as UpgradeLine);
}

/** A visitor served: the 101, the bridge's 0x00, and the log line that says how. */
async function served(
  subject: string,
  options: { ticket?: string; on?: TestEdge } = {},
): Promise<{ session: OpenSession; line: UpgradeLine }> {
  const on = options.on ?? edge;
  const from = on.logs.length;
  const session = await expectOpen(voiceUrl(on), await voiceOptions(subject, options.ticket));
  expect([...(await session.next(10_000)).data]).toEqual([0x00]);
  await expect.poll(() => logLines(on, from).length).toBe(1);
  const [line] = logLines(on, from);
  expect(line).toMatchObject({ outcome: "connected", bridge: expect.any(String) });
  return { session, line };
}

async function refused(subject: string, ticket?: string) {
  return expectRefusedSession(voiceUrl(), await voiceOptions(subject, ticket));
}

async function joinLine(subject: string): Promise<LineClient> {
  const client = lineClient(`${edge.wsOrigin}/voice/line`, await voiceOptions(subject));
  await client.opened;
  return client;
}

const isPosition =
  (position: number) =>
  (message: LineMessage): boolean =>
    message.type === "position" && message.position === position;
const isTurn = (message: LineMessage): boolean => message.type === "turn";

async function leave(session: OpenSession): Promise<void> {
  session.ws.close(1000);
  await session.closed;
}

async function guardSessions(bridge: FleetBridge): Promise<number> {
  const response = await fetch(`${bridge.guard.origin}/health`);
  return ((await response.json()) as { sessions: number }).sessions;
}

async function idle(): Promise<void> {
  for (const bridge of fleet)
    await expect.poll(() => guardSessions(bridge), { timeout: 10_000 }).toBe(0);
}

describe("the waiting line", () => {
  it("serves three with one try each, lines up three more at 1, 2, 3 with an estimate, and gives the head the bridge that frees", async () => {
    const visitors = [];
    for (const subject of ["v1", "v2", "v3"]) {
      const visitor = await served(subject);
      expect(visitor.line).toMatchObject({ line: "coordinator" });
      expect(visitor.line.tries).toHaveLength(1);
      visitors.push(visitor);
    }
    expect(visitors.map((v) => v.line.bridge).sort()).toEqual(NAMES);

    const waiting: LineClient[] = [];
    for (const subject of ["v4", "v5", "v6"]) {
      const busy = await refused(subject);
      expect(busy.code).toBe(1013);
      expect(busy.reason).toMatchObject({ error: "bridge_busy", line: true });
      expect(busy.reason.retryAfterS).toEqual(expect.any(Number));
      waiting.push(await joinLine(subject));
    }
    for (const [i, client] of waiting.entries()) {
      const message = await client.next(isPosition(i + 1));
      expect(message).toMatchObject({ type: "position", etaS: expect.any(Number) });
    }
    const etas = waiting.map((client) => client.position()!.etaS!);
    expect(etas).toEqual([...etas].sort((a, b) => a - b));
    expect(etas[0]).toBeGreaterThan(0);

    // One session ends: the head gets the bridge that freed, the others move up.
    const [first, ...others] = visitors;
    await leave(first.session);
    const turn = await waiting[0].next(isTurn);
    expect(turn).toEqual({
      type: "turn",
      ticket: expect.any(String),
      expiresInS: HOLD_SECONDS,
      maxSessionMinutes: MAX_SESSION_MINUTES,
    });
    await waiting[1].next(isPosition(1));
    await waiting[2].next(isPosition(2));

    const from = edge.logs.length;
    const head = await served("v4", { ticket: (turn as { ticket: string }).ticket });
    expect(head.line).toMatchObject({ line: "ticket", bridge: first.line.bridge });
    expect(head.line.tries).toHaveLength(1);
    expect(edge.logs.slice(from).join("\n")).not.toContain((turn as { ticket: string }).ticket);
    // The turn taken, its line socket is closed by the coordinator.
    await expect.poll(() => waiting[0].ws.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);

    for (const client of waiting.slice(1)) client.ws.close();
    await Promise.all([head, ...others].map(({ session }) => leave(session)));
  });
});

/** Three sessions of their own subjects: every bridge held. */
async function fill(prefix: string) {
  const visitors = [];
  for (const n of [1, 2, 3]) visitors.push(await served(`${prefix}${n}`));
  return visitors;
}

async function lineUp(subjects: string[]): Promise<LineClient[]> {
  const clients: LineClient[] = [];
  for (const [i, subject] of subjects.entries()) {
    const client = await joinLine(subject);
    await client.next(isPosition(i + 1));
    clients.push(client);
  }
  return clients;
}

const ticketOf = (message: LineMessage): string => (message as { ticket: string }).ticket;

describe("leaving and coming back", () => {
  it("keeps the place of a line socket that reconnects within the grace period; removes one that does not, and those behind move up", async () => {
    const visitors = await fill("s");
    const [w1, w2, w3] = await lineUp(["w1", "w2", "w3"]);

    w2.ws.close();
    const again = await joinLine("w2");
    await again.next(isPosition(2));
    // The runtime answers a page's keepalive without waking the coordinator.
    again.ws.send("ping");
    await expect.poll(() => again.other).toEqual(["pong"]);

    w1.ws.close();
    // Past the grace period the place goes: the others move up.
    await again.next(isPosition(1));
    await w3.next(isPosition(2));
    expect(again.messages.filter((m) => m.type === "position").map((m) => m.position)).toEqual([
      2, 1,
    ]);

    for (const client of [again, w3]) client.ws.close();
    await Promise.all(visitors.map(({ session }) => leave(session)));
  });
});

describe("leaving for good (the page closes its line socket with 1000)", () => {
  it("gives up the place at once: the page joining again is put at the back, not back at its place", async () => {
    const visitors = await fill("g");
    const [first, second] = await lineUp(["gone1", "gone2"]);
    first.ws.close(1000);
    await first.closed;
    // At once, well within the grace period a dropped socket's place is kept for.
    const back = await joinLine("gone1");
    await back.next(isPosition(2));
    await second.next(isPosition(1));

    for (const client of [back, second]) client.ws.close();
    await Promise.all(visitors.map(({ session }) => leave(session)));
  });

  it("passes a turn it was given on at once: its ticket is refused, the next in line gets the bridge", async () => {
    const [held, ...others] = await fill("h");
    const [first, second] = await lineUp(["turn1", "turn2"]);
    await leave(held.session);
    const turn = await first.next(isTurn);
    first.ws.close(1000);
    await first.closed;
    // At once, well within the turn's hold: the ticket is no longer honoured.
    const stale = await refused("turn1", ticketOf(turn));
    expect([stale.code, stale.reason]).toEqual([
      4410,
      { error: "ticket_refused", ticket: "expired" },
    ]);
    const next = await second.next(isTurn);
    expect(ticketOf(next)).not.toBe(ticketOf(turn));
    const head = await served("turn2", { ticket: ticketOf(next) });
    expect(head.line).toMatchObject({ line: "ticket", bridge: held.line.bridge });

    await Promise.all([head, ...others].map(({ session }) => leave(session)));
  });
});

describe("a session's end with nobody in line", () => {
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** An upgrade's outcome: the session when the bridge's 0x00 came, else the close code. */
  async function servedOrCode(subject: string): Promise<OpenSession | number> {
    const session = await expectOpen(voiceUrl(), await voiceOptions(subject));
    const first = await Promise.race([
      session.closed.then((close) => ({ close })),
      session.next(15_000).then((frame) => ({ frame })),
    ]);
    return "close" in first ? first.close.code : session;
  }

  it("is looked for at the line's pace once an upgrade hears busy (the slow pace otherwise)", async () => {
    const visitors = await fill("q");
    // Past the last 750 ms alarm the tries set: from here the coordinator polls once a minute.
    await pause(3_000);
    await leave(visitors[0].session);
    const freed = fleet.find((b) => b.name === visitors[0].line.bridge)!;
    await expect.poll(() => guardSessions(freed)).toBe(0);
    let session: OpenSession | undefined;
    for (let attempt = 0; attempt < 5 && !session; attempt++) {
      const outcome = await servedOrCode("n");
      if (typeof outcome !== "number") session = outcome;
      else {
        expect(outcome).toBe(1013);
        await pause(1_000);
      }
    }
    expect(session).toBeDefined();
    await Promise.all([session!, ...visitors.slice(1).map((v) => v.session)].map(leave));
  });
});

describe("a turn withdrawn", () => {
  it("tells its visitor the position again, even one it was told before the turn", async () => {
    const visitors = await fill("s");
    // One session ends with someone waiting: its length makes the estimates small from here on.
    const [w0] = await lineUp(["w0"]);
    await leave(visitors[0].session);
    const head = await served("w0", { ticket: ticketOf(await w0.next(isTurn)) });
    const [w] = await lineUp(["w"]);
    await leave(visitors[1].session);
    await w.next(isTurn);
    // Someone reaches the reserved bridge outside the line: its guard says busy, the turn is withdrawn.
    const freed = fleet.find((b) => b.name === visitors[1].line.bridge)!;
    const outside = standinClient(
      `${freed.guard.origin.replace(/^http/, "ws")}/api/chat?${PERSONAPLEX_QUERY}`,
    );
    await outside.next();
    await w.next(isPosition(1));
    expect(w.messages.filter((m) => m.type === "position").map((m) => m.position)).toEqual([1, 1]);

    w.ws.close();
    outside.ws.close();
    await outside.closed;
    await Promise.all([head, visitors[2]].map(({ session }) => leave(session)));
  });
});

describe("a restart of the runtime (a deploy)", () => {
  it("finds the fleet and the line in storage: held bridges stay held, and the places come back in order", async () => {
    // Sessions straight to the guards, which a restart of the edge's runtime does not end.
    const direct = fleet.map(({ guard }) =>
      standinClient(`${guard.origin.replace(/^http/, "ws")}/api/chat?${PERSONAPLEX_QUERY}`),
    );
    await Promise.all(direct.map((client) => client.next()));
    const persistDir = mkdtempSync(join(workDir, "line-storage-"));
    await edge.dispose();
    const before = await startEdge({ persistDir });
    try {
      edge = before;
      // The guards say busy: the coordinator learns it and offers a place.
      await expect
        .poll(async () => (await refused("w0")).reason.line, { timeout: 10_000 })
        .toBe(true);
      await lineUp(["w1", "w2"]);
    } finally {
      await before.dispose();
    }
    // The restarted runtime; afterEach disposes it.
    edge = await startEdge({ persistDir });
    try {
      const from = edge.logs.length;
      expect((await refused("newcomer")).code).toBe(1013);
      await expect.poll(() => logLines(edge, from).length).toBe(1);
      expect(logLines(edge, from)[0].tries).toEqual([]);
      const w2 = await joinLine("w2");
      await w2.next(isPosition(2));
      const w1 = await joinLine("w1");
      await w1.next(isPosition(1));
      for (const client of [w1, w2]) client.ws.close();
    } finally {
      for (const client of direct) client.ws.close();
      await Promise.all(direct.map((client) => client.closed));
    }
  });
});

describe("tickets", () => {
  it("honours a turn's ticket once, for its subject, on its bridge; refuses it used, by another subject or expired; a newcomer never takes a reserved bridge; an expired turn passes on", async () => {
    const visitors = await fill("s");
    const [w1, w2, w3] = await lineUp(["w1", "w2", "w3"]);
    await leave(visitors[0].session);
    const first = ticketOf(await w1.next(isTurn));

    // The bridge is reserved for w1: a newcomer hears busy, and no bridge is tried for it.
    const from = edge.logs.length;
    const newcomer = await refused("newcomer");
    expect(newcomer.code).toBe(1013);
    expect(newcomer.reason).toMatchObject({ error: "bridge_busy", line: true });
    await expect.poll(() => logLines(edge, from).length).toBe(1);
    expect(logLines(edge, from)[0].tries).toEqual([]);

    const byAnother = await refused("w2", first);
    expect([byAnother.code, byAnother.reason]).toEqual([
      4410,
      { error: "ticket_refused", ticket: "other_subject" },
    ]);

    const head = await served("w1", { ticket: first });
    expect(head.line).toMatchObject({ line: "ticket", bridge: visitors[0].line.bridge });
    expect(head.line.tries).toEqual([expect.objectContaining({ bridge: visitors[0].line.bridge })]);

    const twice = await refused("w1", first);
    expect([twice.code, twice.reason]).toEqual([4410, { error: "ticket_refused", ticket: "used" }]);
    const unknown = await refused("w2", "not-a-ticket");
    expect(unknown.reason).toEqual({ error: "ticket_refused", ticket: "unknown" });

    // w2's turn comes and goes unused: its line socket is closed, and w3 gets the bridge.
    await leave(visitors[1].session);
    const second = ticketOf(await w2.next(isTurn));
    const third = ticketOf(await w3.next(isTurn));
    expect(third).not.toBe(second);
    await expect.poll(() => w2.ws.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
    const expired = await refused("w2", second);
    expect([expired.code, expired.reason]).toEqual([
      4410,
      { error: "ticket_refused", ticket: "expired" },
    ]);
    const last = await served("w3", { ticket: third });
    expect(last.line.bridge).toBe(visitors[1].line.bridge);

    // No ticket is ever logged.
    expect(edge.logs.join("\n")).not.toMatch(new RegExp(`${first}|${second}|${third}`));
    await Promise.all([head, last, visitors[2]].map(({ session }) => leave(session)));
  });

  it("takes the ticket from the query parameter, stripped before the bridge", async () => {
    const visitors = await fill("s");
    const [w1] = await lineUp(["w1"]);
    await leave(visitors[0].session);
    const ticket = ticketOf(await w1.next(isTurn));
    const from = edge.logs.length;
    const session = await expectOpen(
      voiceUrl(edge, `?ticket=${ticket}&${PERSONAPLEX_QUERY}`),
      await voiceOptions("w1"),
    );
    expect([...(await session.next(10_000)).data]).toEqual([0x00]);
    await expect.poll(() => logLines(edge, from).length).toBe(1);
    expect(logLines(edge, from)[0]).toMatchObject({ line: "ticket", outcome: "connected" });
    expect(fleet.find((b) => b.name === visitors[0].line.bridge)!.guard.output()).not.toContain(
      ticket,
    );
    await Promise.all([session, ...visitors.slice(1).map((v) => v.session)].map(leave));
  });
});

describe("maxSessionsPerSubject", () => {
  it("refuses a subject holding a session a second one, or a place; one holding a place a session or a second place", async () => {
    const holder = await served("x1");
    const second = await refused("x1");
    expect([second.code, second.reason]).toEqual([4409, { error: "session_limit", limit: 1 }]);
    const holderInLine = lineClient(`${edge.wsOrigin}/voice/line`, await voiceOptions("x1"));
    expect(await holderInLine.closed).toMatchObject({ code: 4409 });

    const others = [await served("x2"), await served("x3")];
    const [y1] = await lineUp(["y1"]);
    expect((await refused("y1")).code).toBe(4409);
    const secondPlace = lineClient(`${edge.wsOrigin}/voice/line`, await voiceOptions("y1"));
    expect(await secondPlace.closed).toMatchObject({ code: 4409 });

    // The coordinator answers the page's close (no auto-reply at this compatibility date).
    y1.ws.close(1000);
    expect(await y1.closed).toEqual({ code: 1000, reason: "closed" });
    await Promise.all([holder, ...others].map(({ session }) => leave(session)));
  });
});

describe("the edge's word on an offer", () => {
  it("gives back, untried, a bridge offered when the upgrade's time has run out", async () => {
    // A coordinator that names a bridge after the upgrade's whole bound (but within its own).
    const lateLine = `
      import { DurableObject } from "cloudflare:workers";
      export class FleetLine extends DurableObject {
        async admit() {
          await new Promise((resolve) => setTimeout(resolve, 700));
          return { kind: "bridge", bridge: "gpu-1", offer: "offer-1" };
        }
        async report(report) { console.log(JSON.stringify({ event: "report_seen", ...report })); }
      }
      export default { fetch: () => new Response(null, { status: 404 }) };
    `;
    const hurried = await startLineEdge({
      edgeBindings: {
        BRIDGES: bridgesBinding,
        EDGE_CONFIG: jwtEdgeConfig({ bridgeConnectTimeoutMs: 500, admissionTimeoutMs: 600 }),
        JWT_SECRET: TEST_SECRET,
      },
      lineBindings: { BRIDGES: bridgesBinding, LINE_CONFIG: lineConfig },
      lineCode: lateLine,
    });
    try {
      const busy = await expectRefusedSession(voiceUrl(hurried), await voiceOptions("late"));
      expect(busy.code).toBe(1013);
      await expect.poll(() => logLines(hurried, 0, "report_seen").length).toBe(1);
      expect(logLines(hurried, 0, "report_seen")[0]).toMatchObject({
        bridge: "gpu-1",
        offer: "offer-1",
        outcome: "untried",
      });
    } finally {
      await hurried.dispose();
    }
  });
});

describe("when the coordinator fails", () => {
  const brokenLine = (method: string) => `
    import { DurableObject } from "cloudflare:workers";
    export class FleetLine extends DurableObject {
      async admit() { ${method} }
      async redeem() { ${method} }
      async report() {}
    }
    export default { fetch: () => new Response(null, { status: 404 }) };
  `;

  it.each([
    ["throws", 'throw new Error("coordinator down");', "exception:Error"],
    ["hangs", "await new Promise((resolve) => setTimeout(resolve, 60_000));", "timeout"],
  ])("admits through today's shuffled tries when it %s, logged", async (_, method, why) => {
    const broken = await startEdge({ lineCode: brokenLine(method) });
    try {
      const visitor = await served("f1", { on: broken });
      expect(visitor.line).toMatchObject({ line: "fallback", lineFallback: why });
      expect(visitor.line.tries).toEqual([expect.objectContaining({ outcome: "served" })]);
      await leave(visitor.session);
      // No place in line without the coordinator: the page is told to retry, with no line.
      const place = lineClient(`${broken.wsOrigin}/voice/line`, await voiceOptions("f2"));
      const closed = await place.closed;
      expect([closed.code, JSON.parse(closed.reason)]).toEqual([
        1013,
        { error: "bridge_busy", retryAfterS: 5, line: false },
      ]);
    } finally {
      await broken.dispose();
    }
  });
});

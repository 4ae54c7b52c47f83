/**
 * The coordinator: one SQLite-backed Durable Object per fleet (`idFromName(LINE_OBJECT_NAME)`) in
 * the line's own script. It holds the fleet's state in SQLite (fleetState.ts decides, this class
 * stores and talks), the line's sockets through the hibernation API (a socket's tag is its place),
 * and an alarm that reads every guard's `/health` (pollIntervalOf: every 750 ms while anyone waits,
 * every minute while only some bridge is not known free, none when idle): the guard's answer always
 * wins over what the coordinator believed.
 */
import { DurableObject } from "cloudflare:workers";
import { buildPoint, pointsOf, writePoint, type PointsDataset } from "../analytics/points";
import { probeEach, probeHealthUrl } from "../bridgeProbe";
import { logEvent } from "../log";
import { originCredentialHeaders } from "../passThrough";
import { parseLineBindings, type LineBindings } from "./bindings";
import { LEFT_FOR_GOOD_CLOSE_CODE, LINE_PATH, type LineMessage } from "./contract";
import {
  admit,
  applyTry,
  assignTurns,
  bridgesHeldBy,
  emptyState,
  join,
  leave,
  noEffects,
  observe,
  placeTag,
  positionIsNews,
  POLL_INTERVAL_MS,
  pollIntervalOf,
  positionsOf,
  redeem,
  syncBridges,
  tick,
  type BridgeState,
  type Effects,
  type FleetState,
  type Place,
  type Ticket,
} from "./fleetState";
import {
  LINE_SUBJECT_HEADER,
  type AdmitAnswer,
  type AdmitRequest,
  type LineCoordinator,
  type RedeemAnswer,
  type RedeemRequest,
  type TryReport,
} from "./rpc";

/** One guard's `/health` answer is awaited this long at most (the edge's `healthTimeoutMs` default). */
export const PROBE_TIMEOUT_MS = 2_000;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS bridges (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, admitted INTEGER NOT NULL DEFAULT 0, subject TEXT,
    since INTEGER, pending_until INTEGER, ticket TEXT, until INTEGER, changed_at INTEGER NOT NULL,
    offer TEXT, unreachable_since INTEGER)`,
  `CREATE TABLE IF NOT EXISTS line (
    id INTEGER PRIMARY KEY, subject TEXT, joined_at INTEGER NOT NULL, last_seen INTEGER NOT NULL,
    connected INTEGER NOT NULL, turn TEXT)`,
  `CREATE TABLE IF NOT EXISTS tickets (
    ticket TEXT PRIMARY KEY, subject TEXT, bridge TEXT NOT NULL, place_id INTEGER NOT NULL,
    joined_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, status TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS session_lengths (id INTEGER PRIMARY KEY, length_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`,
];

/** Columns added after a table's first version: added to a table created without them. */
const ADDED_COLUMNS = [
  { table: "bridges", column: "offer", type: "TEXT" },
  { table: "bridges", column: "unreachable_since", type: "INTEGER" },
];

type Row = Record<string, SqlStorageValue>;
const num = (value: SqlStorageValue): number => Number(value);
const text = (value: SqlStorageValue): string | null => (value === null ? null : String(value));

function bridgeStateOf(row: Row): BridgeState {
  switch (row.kind) {
    case "held":
      return {
        kind: "held",
        admitted: row.admitted === 1,
        subject: text(row.subject),
        since: num(row.since),
        pendingUntil: row.pending_until === null ? null : num(row.pending_until),
        offer: text(row.offer ?? null),
        unreachableSince:
          (row.unreachable_since ?? null) === null ? null : num(row.unreachable_since),
      };
    case "reserved":
      return {
        kind: "reserved",
        subject: text(row.subject),
        ticket: String(row.ticket),
        until: num(row.until),
      };
    case "down":
      return { kind: "down" };
    default:
      return { kind: "free" };
  }
}

/** A ticket: 24 random bytes, base64url (a subprotocol token and a query value as it is). */
function newTicket(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** What a line socket remembers across hibernation: its place, and what it was last told. */
interface SocketAttachment {
  placeId: number;
  told?: { position: number; etaS: number | null };
}

export class FleetLine extends DurableObject implements LineCoordinator {
  private readonly bindings: LineBindings;
  private readonly sql: SqlStorage;
  private state: FleetState = emptyState();
  /** When the alarm is set for, as read on wake and kept since; null when none is set. */
  private alarmAt: number | null = null;
  /** The stack's Analytics Engine dataset, when it set one: a point per turn and per place left. */
  private readonly points: PointsDataset | undefined;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Cloudflare.Env);
    const parsed = parseLineBindings(env);
    if (!parsed.ok) {
      logEvent("config_invalid", { script: "line", problems: parsed.problems });
      // Every call then fails, and the edge falls back to today's admission.
      throw new Error(
        `the line's bindings are invalid: ${parsed.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
      );
    }
    this.bindings = parsed.bindings;
    this.points = pointsOf(env as object);
    this.sql = ctx.storage.sql;
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    void ctx.blockConcurrencyWhile(async () => {
      this.load();
      this.alarmAt = await ctx.storage.getAlarm();
      await this.scheduleAlarm(Date.now());
    });
  }

  async admit(request: AdmitRequest): Promise<AdmitAnswer> {
    let answer = await this.run((now, effects) =>
      admit(this.state, this.bindings.settings, request, now, newTicket, effects),
    );
    // The bound counts sessions believed live since the last poll: a page reconnecting at once
    // after its bridge crashed must not be refused for the session that just died. Its bridges'
    // guards are read before a refusal stands (only on this path: it costs a probe each).
    const held = request.subject === null ? [] : bridgesHeldBy(this.state, request.subject);
    if (answer.kind === "session_limit" && held.length > 0) {
      await this.observeGuards(held);
      answer = await this.run((now, effects) =>
        admit(
          this.state,
          this.bindings.settings,
          { ...request, tried: [] },
          now,
          newTicket,
          effects,
        ),
      );
    }
    // Someone asked and heard busy: a session's end the slow pace has not seen yet matters now.
    if (answer.kind === "busy") await this.scheduleAlarm(Date.now(), POLL_INTERVAL_MS);
    return answer;
  }

  async redeem(request: RedeemRequest): Promise<RedeemAnswer> {
    return this.run((now, effects) => redeem(this.state, request, now, effects));
  }

  async report(report: TryReport): Promise<void> {
    await this.run((now) => applyTry(this.state, report, now));
  }

  /** A line socket: the edge checked Origin and token and forwards the upgrade with the subject. */
  async fetch(request: Request): Promise<Response> {
    if ((request.headers.get("Upgrade") ?? "").toLowerCase() !== "websocket")
      return new Response(null, { status: 426 });
    const subject = request.headers.get(LINE_SUBJECT_HEADER);
    let client: WebSocket | undefined;
    const answer = await this.run(
      (now, effects) => join(this.state, this.bindings.settings, subject, now, effects),
      (joined) => {
        if (joined.kind !== "place") return;
        const { 0: pageSide, 1: lineSide } = new WebSocketPair();
        this.ctx.acceptWebSocket(lineSide, [placeTag(joined.placeId)]);
        lineSide.serializeAttachment({ placeId: joined.placeId } satisfies SocketAttachment);
        client = pageSide;
      },
    );
    if (answer.kind === "session_limit")
      return Response.json({ error: "session_limit", limit: answer.limit }, { status: 409 });
    if (answer.kind === "full") return Response.json({ error: "line_full" }, { status: 503 });
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // The compatibility date predates web_socket_auto_reply_to_close: the close is answered here.
    closeQuietly(ws, 1000, "closed");
    // 1000 is the page leaving the line; a drop reaches here as 1006, a tab going away as 1001.
    await this.socketGone(ws, code === LEFT_FOR_GOOD_CLOSE_CODE);
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    closeQuietly(ws, 1011, "error");
    await this.socketGone(ws);
  }

  /** Reads every guard, then lets time pass: expired turns pass on, left places go. */
  async alarm(): Promise<void> {
    this.alarmAt = null;
    await this.observeGuards();
  }

  /** Reads the guards of `names` (every bridge by default) and corrects the belief about each. */
  private async observeGuards(names?: readonly string[]): Promise<void> {
    const sentAt = Date.now();
    const headers = originCredentialHeaders(this.bindings);
    const bridges = names
      ? this.bindings.bridges.filter((bridge) => names.includes(bridge.name))
      : this.bindings.bridges;
    const probes = await probeEach(bridges, (bridge) =>
      probeHealthUrl(bridge.healthUrl, headers, PROBE_TIMEOUT_MS),
    );
    await this.run((now) => {
      probes.forEach((probe, i) =>
        observe(
          this.state,
          {
            bridge: bridges[i].name,
            sentAt,
            up: probe.reachable,
            busy: probe.busy === true,
            serverDown: probe.serverDown === true,
          },
          now,
        ),
      );
    });
  }

  private async socketGone(ws: WebSocket, forGood = false): Promise<void> {
    const attachment = ws.deserializeAttachment() as SocketAttachment | null;
    if (!attachment) return;
    // A close and an error of one socket, or an old socket's after its page rejoined: the place
    // is left only when no other socket holds it.
    const held = (other: WebSocket) => other !== ws && other.readyState === WebSocket.OPEN;
    if (this.socketsOf(attachment.placeId).some(held)) return;
    await this.run((now) =>
      leave(this.state, this.bindings.settings, attachment.placeId, now, forGood),
    );
  }

  /**
   * One change: time passes first, then `change`, then free bridges go to the line's head. What
   * changed is written, `accepted` runs (a new socket joins before it is told anything), then the
   * sockets hear their turns, closes and new positions.
   */
  private async run<T>(
    change: (now: number, effects: Effects) => T,
    accepted?: (result: T) => void,
  ): Promise<T> {
    const now = Date.now();
    const effects = noEffects();
    const settings = this.bindings.settings;
    const placesBefore = this.points && new Map(this.state.places);
    tick(this.state, settings, now, effects);
    const result = change(now, effects);
    const turnsBefore = effects.turns.length;
    assignTurns(this.state, settings, now, newTicket, effects);
    if (this.points && placesBefore)
      this.recordLine(this.points, placesBefore, effects.turns.slice(turnsBefore), now);
    const changed = this.flush();
    accepted?.(result);
    this.carryOut(effects);
    if (changed) this.tellPositions(now);
    void this.scheduleAlarm(now);
    return result;
  }

  /**
   * A `line_turn` point per turn given now (a reconnecting page told its turn again is not a new
   * turn) and a `line_leave` point per place that went without one, each with how long it waited.
   */
  private recordLine(
    points: PointsDataset,
    placesBefore: ReadonlyMap<number, Place>,
    turns: Effects["turns"],
    now: number,
  ): void {
    for (const { placeId, message } of turns) {
      const place = this.state.places.get(placeId);
      writePoint(
        points,
        buildPoint("line_turn", {
          outcome: "turn",
          path: LINE_PATH,
          bridge: this.state.tickets.get(message.ticket)?.bridge,
          waitMs: place ? now - place.joinedAt : 0,
        }),
      );
    }
    for (const [id, place] of placesBefore)
      if (place.turn === null && !this.state.places.has(id))
        writePoint(
          points,
          buildPoint("line_leave", {
            outcome: "left",
            path: LINE_PATH,
            waitMs: now - place.joinedAt,
          }),
        );
  }

  /** Sets the alarm for `interval` (the state's poll interval), earlier than one already set if need be. */
  private async scheduleAlarm(
    now: number,
    interval: number | null = pollIntervalOf(this.state),
  ): Promise<void> {
    if (interval === null) return;
    const at = now + interval;
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private socketsOf(placeId: number): WebSocket[] {
    return this.ctx.getWebSockets(placeTag(placeId));
  }

  private carryOut(effects: Effects): void {
    for (const { placeId, message } of effects.turns)
      for (const ws of this.socketsOf(placeId))
        // Told a turn, the socket has no position: if the turn is withdrawn, its position is news.
        if (send(ws, message)) ws.serializeAttachment({ placeId } satisfies SocketAttachment);
    for (const { placeId, code, reason } of effects.closes)
      for (const ws of this.socketsOf(placeId)) closeQuietly(ws, code, reason);
  }

  /** Each waiting socket hears its position and estimate when either is news to it. */
  private tellPositions(now: number): void {
    const positions = positionsOf(this.state, this.bindings.settings, now);
    for (const ws of this.ctx.getWebSockets()) {
      const attachment = ws.deserializeAttachment() as SocketAttachment | null;
      const next = attachment && positions.get(attachment.placeId);
      if (!attachment || !next || !positionIsNews(attachment.told, next)) continue;
      if (send(ws, { type: "position", ...next }))
        ws.serializeAttachment({
          placeId: attachment.placeId,
          told: next,
        } satisfies SocketAttachment);
    }
  }

  private load(): void {
    for (const statement of SCHEMA) this.sql.exec(statement);
    for (const { table, column, type } of ADDED_COLUMNS) {
      const columns = this.sql.exec(`PRAGMA table_info(${table})`).toArray();
      if (!columns.some((row) => row.name === column))
        this.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
    const state = emptyState();
    for (const row of this.sql.exec("SELECT * FROM bridges")) {
      const name = String(row.name);
      state.bridges.set(name, { name, state: bridgeStateOf(row), changedAt: num(row.changed_at) });
    }
    for (const row of this.sql.exec("SELECT * FROM line"))
      state.places.set(num(row.id), {
        id: num(row.id),
        subject: text(row.subject),
        joinedAt: num(row.joined_at),
        lastSeen: num(row.last_seen),
        connected: row.connected === 1,
        turn: text(row.turn),
      });
    for (const row of this.sql.exec("SELECT * FROM tickets"))
      state.tickets.set(String(row.ticket), {
        ticket: String(row.ticket),
        subject: text(row.subject),
        bridge: String(row.bridge),
        placeId: num(row.place_id),
        joinedAt: num(row.joined_at),
        expiresAt: num(row.expires_at),
        status: String(row.status) as Ticket["status"],
      });
    state.lengths = this.sql
      .exec("SELECT length_ms FROM session_lengths ORDER BY id")
      .toArray()
      .map((row) => num(row.length_ms));
    const counter = this.sql.exec("SELECT value FROM counters WHERE name = 'next_place'").toArray();
    if (counter.length > 0) state.nextPlaceId = num(counter[0].value);
    // A place whose socket went while the object was away (a deploy, an eviction) is left now.
    const now = Date.now();
    for (const place of state.places.values())
      if (place.connected && this.socketsOf(place.id).length === 0) {
        place.connected = false;
        place.lastSeen = now;
        state.dirty.places.add(place.id);
      }
    syncBridges(
      state,
      this.bindings.bridges.map((bridge) => bridge.name),
      now,
    );
    this.state = state;
    this.flush();
  }

  /** Writes what the state machine marked dirty; says whether anything was. */
  private flush(): boolean {
    const { dirty } = this.state;
    const changed =
      dirty.bridges.size + dirty.places.size + dirty.tickets.size > 0 ||
      dirty.lengths ||
      dirty.nextPlaceId;
    for (const name of dirty.bridges) {
      const record = this.state.bridges.get(name);
      if (!record) {
        this.sql.exec("DELETE FROM bridges WHERE name = ?", name);
        continue;
      }
      const s = record.state;
      this.sql.exec(
        `INSERT OR REPLACE INTO bridges (name, kind, admitted, subject, since, pending_until, ticket, until, changed_at, offer, unreachable_since)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        name,
        s.kind,
        s.kind === "held" && s.admitted ? 1 : 0,
        s.kind === "held" || s.kind === "reserved" ? s.subject : null,
        s.kind === "held" ? s.since : null,
        s.kind === "held" ? s.pendingUntil : null,
        s.kind === "reserved" ? s.ticket : null,
        s.kind === "reserved" ? s.until : null,
        record.changedAt,
        s.kind === "held" ? s.offer : null,
        s.kind === "held" ? s.unreachableSince : null,
      );
    }
    for (const id of dirty.places) {
      const place: Place | undefined = this.state.places.get(id);
      if (!place) this.sql.exec("DELETE FROM line WHERE id = ?", id);
      else
        this.sql.exec(
          "INSERT OR REPLACE INTO line (id, subject, joined_at, last_seen, connected, turn) VALUES (?, ?, ?, ?, ?, ?)",
          id,
          place.subject,
          place.joinedAt,
          place.lastSeen,
          place.connected ? 1 : 0,
          place.turn,
        );
    }
    for (const id of dirty.tickets) {
      const ticket = this.state.tickets.get(id);
      if (!ticket) this.sql.exec("DELETE FROM tickets WHERE ticket = ?", id);
      else
        this.sql.exec(
          "INSERT OR REPLACE INTO tickets (ticket, subject, bridge, place_id, joined_at, expires_at, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
          id,
          ticket.subject,
          ticket.bridge,
          ticket.placeId,
          ticket.joinedAt,
          ticket.expiresAt,
          ticket.status,
        );
    }
    if (dirty.lengths) {
      this.sql.exec("DELETE FROM session_lengths");
      this.state.lengths.forEach((length, i) =>
        this.sql.exec("INSERT INTO session_lengths (id, length_ms) VALUES (?, ?)", i, length),
      );
    }
    if (dirty.nextPlaceId)
      this.sql.exec(
        "INSERT OR REPLACE INTO counters (name, value) VALUES ('next_place', ?)",
        this.state.nextPlaceId,
      );
    dirty.bridges.clear();
    dirty.places.clear();
    dirty.tickets.clear();
    dirty.lengths = false;
    dirty.nextPlaceId = false;
    return changed;
  }
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closing: nothing to tell it.
  }
}

function send(ws: WebSocket, message: LineMessage): boolean {
  try {
    ws.send(JSON.stringify(message));
    return true;
  } catch {
    return false;
  }
}

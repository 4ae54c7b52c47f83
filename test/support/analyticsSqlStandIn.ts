/**
 * A stand-in for Workers Analytics Engine's SQL API on loopback, for tests only. It keeps points in
 * memory, laid out as worker/src/analytics/schema.ts lays them out (blobN, doubleN, index1 = the
 * event, timestamp, _sample_interval), and evaluates the SQL it is sent against them: a small
 * parser and evaluator for the subset `npm run stats` and the alerts use (SELECT … FROM … WHERE …
 * GROUP BY … ORDER BY … LIMIT … FORMAT JSON; columns, literals, `*`, `/`, `-`, comparisons, `IN`,
 * `AND`, `NOW()`, `INTERVAL 'n' UNIT`, `toStartOfInterval`, `toStartOfHour`, `SUM`, `count`, `avg`,
 * `min`, `max`, `quantileExactWeighted(q)(x, w)`), never a canned answer. SQL outside that subset is
 * refused as the API refuses SQL it cannot run.
 *
 * Answers follow the SQL reference's JSON format (`{meta, data, rows, rows_before_limit_at_least}`),
 * with ClickHouse's conventions: 64-bit integers (sums of `_sample_interval`, `count()`) quoted,
 * DateTime as `YYYY-MM-DD hh:mm:ss` in UTC. Errors: a wrong token is 401 with Cloudflare's envelope
 * (code 10000); SQL the engine cannot run is 422 with the engine's text, `Input was invalid: …` (as
 * quoted in cloudflare/skills#87); an account without Analytics Engine is 403 with code 10089
 * (`no_access_to_analytics_engine`, the code deploys fail with).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  POINT_BLOBS,
  POINT_DOUBLES,
  columnOf,
  type PointBlob,
  type PointDouble,
  type PointEvent,
} from "../../worker/src/analytics/schema";

/** A point as a test writes it: the event, when, its fields by name, and how many it stands for. */
export type StandInPoint = {
  event: PointEvent;
  /** ISO time, or a Date. */
  at: string | Date;
  /** `_sample_interval`: how many written points this stored one stands for (default 1). */
  sampleInterval?: number;
} & Partial<Record<Exclude<PointBlob, "event">, string>> &
  Partial<Record<PointDouble, number>>;

export interface AnalyticsSqlScenario {
  accountId: string;
  token: string;
  /** Each dataset the account holds and its points. A dataset not named here does not exist. */
  datasets: Record<string, StandInPoint[]>;
  /** What `NOW()` is. */
  now: Date;
  /** The account has not enabled Analytics Engine: every query is 403, code 10089. */
  notEnabled?: boolean;
  /** Every query answers this instead. */
  failure?: { status: number; body: string };
}

export interface AnalyticsSqlStandIn {
  /** The API base URL (`…/client/v4`), for the client's `baseUrl`. */
  url: string;
  /** The SQL of every query, in order. */
  queries: string[];
  close(): Promise<void>;
}

type Row = Record<string, string | number | Date>;

/** A point as a stored row: the dataset's columns. */
function rowOf(point: StandInPoint): Row {
  const row: Row = {
    timestamp: new Date(point.at),
    _sample_interval: point.sampleInterval ?? 1,
    index1: point.event,
  };
  for (let i = 1; i <= 20; i++) {
    row[`blob${i}`] = "";
    row[`double${i}`] = 0;
  }
  const fields = point as unknown as Record<string, unknown>;
  for (const name of POINT_BLOBS) row[columnOf(name)] = String(fields[name] ?? "");
  for (const name of POINT_DOUBLES) row[columnOf(name)] = Number(fields[name] ?? 0);
  return row;
}

/** SQL the evaluator cannot run: the API's 422. */
class InvalidInput extends Error {}

// ---- tokens ----

type Token =
  | { t: "word"; v: string }
  | { t: "num"; v: number }
  | { t: "str"; v: string }
  | { t: "op"; v: string };

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s+|--[^\n]*|([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d+)?)|'((?:[^'\\]|\\.|'')*)'|(>=|<=|!=|<>|[(),*/+\-=<>])/y;
  let index = 0;
  while (index < sql.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(sql);
    if (!match) throw new InvalidInput(`unexpected character ${JSON.stringify(sql[index])}`);
    index = pattern.lastIndex;
    const [, word, number, string, op] = match;
    if (word !== undefined) tokens.push({ t: "word", v: word });
    else if (number !== undefined) tokens.push({ t: "num", v: Number(number) });
    else if (string !== undefined) tokens.push({ t: "str", v: string.replace(/''/g, "'") });
    else if (op !== undefined) tokens.push({ t: "op", v: op === "<>" ? "!=" : op });
  }
  return tokens;
}

// ---- syntax ----

type Node =
  | { k: "col"; name: string }
  | { k: "num"; v: number }
  | { k: "str"; v: string }
  | { k: "interval"; ms: number; unit: string }
  | { k: "call"; name: string; params: Node[]; args: Node[] }
  | { k: "bin"; op: string; l: Node; r: Node }
  | { k: "in"; l: Node; values: Node[] }
  | { k: "and"; parts: Node[] };

interface Select {
  items: { expr: Node; alias: string }[];
  table: string;
  where?: Node;
  groupBy: string[];
  orderBy: { name: string; descending: boolean }[];
  limit?: number;
}

const UNIT_MS: Record<string, number> = {
  SECOND: 1000,
  MINUTE: 60_000,
  HOUR: 3_600_000,
  DAY: 86_400_000,
};

const AGGREGATES = new Set(["sum", "count", "avg", "min", "max", "quantileexactweighted"]);

function parse(sql: string): Select {
  const tokens = tokenize(sql);
  let at = 0;
  const peek = () => tokens[at];
  const isWord = (word: string, token = peek()) =>
    token?.t === "word" && token.v.toUpperCase() === word;
  const isOp = (op: string) => peek()?.t === "op" && peek()!.v === op;
  const expectWord = (word: string) => {
    if (!isWord(word)) throw new InvalidInput(`expected ${word} near ${describe(peek())}`);
    at++;
  };
  const expectOp = (op: string) => {
    if (!isOp(op)) throw new InvalidInput(`expected "${op}" near ${describe(peek())}`);
    at++;
  };
  const name = (): string => {
    const token = peek();
    if (token?.t !== "word") throw new InvalidInput(`expected a name near ${describe(token)}`);
    at++;
    return token.v;
  };
  const list = <T>(item: () => T): T[] => {
    const items = [item()];
    while (isOp(",")) {
      at++;
      items.push(item());
    }
    return items;
  };

  const primary = (): Node => {
    const token = peek();
    if (!token) throw new InvalidInput("unexpected end of query");
    if (token.t === "num") {
      at++;
      return { k: "num", v: token.v };
    }
    if (token.t === "str") {
      at++;
      return { k: "str", v: token.v };
    }
    if (isOp("(")) {
      at++;
      const inner = expression();
      expectOp(")");
      return inner;
    }
    if (token.t === "word" && token.v.toUpperCase() === "INTERVAL") {
      at++;
      const amount = peek();
      if (amount?.t !== "str" && amount?.t !== "num")
        throw new InvalidInput("INTERVAL needs an amount");
      at++;
      const unit = name().toUpperCase();
      if (!(unit in UNIT_MS)) throw new InvalidInput(`unsupported interval unit ${unit}`);
      return { k: "interval", ms: Number(amount.v) * UNIT_MS[unit], unit };
    }
    if (token.t === "word") {
      at++;
      if (!isOp("(")) return { k: "col", name: token.v };
      at++;
      let args: Node[] = isOp(")") ? [] : list(expression);
      expectOp(")");
      let params: Node[] = [];
      if (isOp("(")) {
        at++;
        params = args;
        args = isOp(")") ? [] : list(expression);
        expectOp(")");
      }
      return { k: "call", name: token.v, params, args };
    }
    throw new InvalidInput(`unexpected ${describe(token)}`);
  };
  const product = (): Node => {
    let node = primary();
    while (isOp("*") || isOp("/")) {
      const op = tokens[at++].v as string;
      node = { k: "bin", op, l: node, r: primary() };
    }
    return node;
  };
  const sum = (): Node => {
    let node = product();
    while (isOp("+") || isOp("-")) {
      const op = tokens[at++].v as string;
      node = { k: "bin", op, l: node, r: product() };
    }
    return node;
  };
  const comparison = (): Node => {
    const left = sum();
    if (isWord("IN")) {
      at++;
      expectOp("(");
      const values = list(sum);
      expectOp(")");
      return { k: "in", l: left, values };
    }
    for (const op of ["=", "!=", ">", ">=", "<", "<="])
      if (isOp(op)) {
        at++;
        return { k: "bin", op, l: left, r: sum() };
      }
    return left;
  };
  function expression(): Node {
    const parts = [comparison()];
    while (isWord("AND")) {
      at++;
      parts.push(comparison());
    }
    return parts.length === 1 ? parts[0] : { k: "and", parts };
  }

  expectWord("SELECT");
  const items = list(() => {
    const start = at;
    const expr = expression();
    if (isWord("AS")) {
      at++;
      return { expr, alias: name() };
    }
    return { expr, alias: tokens.slice(start, at).map(textOfToken).join("") };
  });
  expectWord("FROM");
  const table = name();
  const select: Select = { items, table, groupBy: [], orderBy: [] };
  if (isWord("WHERE")) {
    at++;
    select.where = expression();
  }
  if (isWord("GROUP")) {
    at++;
    expectWord("BY");
    select.groupBy = list(name);
  }
  if (isWord("ORDER")) {
    at++;
    expectWord("BY");
    select.orderBy = list(() => {
      const column = name();
      const descending = isWord("DESC");
      if (descending || isWord("ASC")) at++;
      return { name: column, descending };
    });
  }
  if (isWord("LIMIT")) {
    at++;
    const token = peek();
    if (token?.t !== "num") throw new InvalidInput("LIMIT needs a number");
    at++;
    select.limit = token.v;
  }
  if (isWord("FORMAT")) {
    at++;
    if (name().toUpperCase() !== "JSON")
      throw new InvalidInput("this stand-in answers FORMAT JSON only");
  }
  if (at < tokens.length) throw new InvalidInput(`unexpected ${describe(peek())}`);
  return select;
}

function textOfToken(token: Token): string {
  return token.t === "str" ? `'${token.v}'` : String(token.v);
}

function describe(token: Token | undefined): string {
  return token ? `"${textOfToken(token)}"` : "the end of the query";
}

// ---- evaluation ----

type Value = string | number | Date;

const COLUMN = /^(blob([1-9]|1\d|20)|double([1-9]|1\d|20)|index1|timestamp|_sample_interval)$/;

function isAggregate(node: Node): boolean {
  switch (node.k) {
    case "call":
      return AGGREGATES.has(node.name.toLowerCase()) || node.args.some(isAggregate);
    case "bin":
      return isAggregate(node.l) || isAggregate(node.r);
    default:
      return false;
  }
}

function numeric(value: Value): number {
  return value instanceof Date ? value.getTime() : Number(value);
}

function evalRow(node: Node, row: Row, now: Date): Value {
  switch (node.k) {
    case "col":
      if (!COLUMN.test(node.name)) throw new InvalidInput(`unknown column '${node.name}'`);
      return row[node.name];
    case "num":
    case "str":
      return node.v;
    case "interval":
      return node.ms;
    case "in": {
      const left = evalRow(node.l, row, now);
      return node.values.some((value) => evalRow(value, row, now) === left) ? 1 : 0;
    }
    case "and":
      return node.parts.every((part) => numeric(evalRow(part, row, now)) !== 0) ? 1 : 0;
    case "bin": {
      const l = evalRow(node.l, row, now);
      const r = evalRow(node.r, row, now);
      return binary(node.op, l, r, node.r.k === "interval");
    }
    case "call": {
      const name = node.name.toLowerCase();
      if (name === "now") return now;
      if (name === "tostartofhour") return floorTo(evalRow(node.args[0], row, now), UNIT_MS.HOUR);
      if (name === "tostartofinterval") {
        const [time, interval] = node.args;
        if (interval?.k !== "interval")
          throw new InvalidInput("toStartOfInterval needs an INTERVAL");
        return floorTo(evalRow(time, row, now), interval.ms);
      }
      throw new InvalidInput(`unsupported function ${node.name}`);
    }
  }
}

function binary(op: string, l: Value, r: Value, rightIsInterval: boolean): Value {
  if (op === "-" && l instanceof Date && rightIsInterval) return new Date(l.getTime() - Number(r));
  if (op === "+" && l instanceof Date && rightIsInterval) return new Date(l.getTime() + Number(r));
  const a = comparable(l);
  const b = comparable(r);
  switch (op) {
    case "*":
      return Number(a) * Number(b);
    case "/":
      return Number(a) / Number(b);
    case "+":
      return Number(a) + Number(b);
    case "-":
      return Number(a) - Number(b);
    case "=":
      return a === b ? 1 : 0;
    case "!=":
      return a !== b ? 1 : 0;
    case ">":
      return a > b ? 1 : 0;
    case ">=":
      return a >= b ? 1 : 0;
    case "<":
      return a < b ? 1 : 0;
    case "<=":
      return a <= b ? 1 : 0;
  }
  throw new InvalidInput(`unsupported operator ${op}`);
}

function floorTo(value: Value, ms: number): Date {
  if (!(value instanceof Date)) throw new InvalidInput("expected a DateTime");
  return new Date(Math.floor(value.getTime() / ms) * ms);
}

/**
 * ClickHouse's quantileExactWeighted: the values sorted, each counted `weight` times; the first
 * whose running weight reaches ⌈level × total weight⌉.
 */
export function quantileExactWeighted(
  level: number,
  pairs: readonly { value: number; weight: number }[],
): number {
  const sorted = pairs.filter((pair) => pair.weight > 0).sort((a, b) => a.value - b.value);
  if (sorted.length === 0) return NaN;
  const total = sorted.reduce((sum, pair) => sum + pair.weight, 0);
  const threshold = Math.ceil(total * level);
  let accumulated = 0;
  for (const pair of sorted) {
    accumulated += pair.weight;
    if (accumulated >= threshold) return pair.value;
  }
  return sorted[sorted.length - 1].value;
}

function evalGroup(node: Node, rows: Row[], now: Date): Value {
  if (!isAggregate(node)) return evalRow(node, rows[0], now);
  if (node.k === "bin")
    return binary(node.op, evalGroup(node.l, rows, now), evalGroup(node.r, rows, now), false);
  if (node.k !== "call") throw new InvalidInput("unsupported aggregate expression");
  const name = node.name.toLowerCase();
  const values = (arg: Node) => rows.map((row) => numeric(evalRow(arg, row, now)));
  switch (name) {
    case "count":
      return rows.length;
    case "sum":
      return values(node.args[0]).reduce((a, b) => a + b, 0);
    case "avg":
      return values(node.args[0]).reduce((a, b) => a + b, 0) / rows.length;
    case "min":
      return Math.min(...values(node.args[0]));
    case "max":
      return Math.max(...values(node.args[0]));
    case "quantileexactweighted": {
      const level = node.params[0];
      if (level?.k !== "num" || node.args.length !== 2)
        throw new InvalidInput("quantileExactWeighted(q)(column, weight)");
      const xs = values(node.args[0]);
      const ws = values(node.args[1]);
      return quantileExactWeighted(
        level.v,
        xs.map((value, i) => ({ value, weight: ws[i] })),
      );
    }
  }
  throw new InvalidInput(`unsupported function ${node.name}`);
}

/** The ClickHouse type of an expression, as far as this subset needs. */
function typeOf(node: Node): string {
  switch (node.k) {
    case "col":
      if (node.name === "timestamp") return "DateTime";
      if (node.name === "_sample_interval") return "UInt32";
      return node.name.startsWith("double") ? "Float64" : "String";
    case "num":
      return Number.isInteger(node.v) ? "UInt8" : "Float64";
    case "str":
      return "String";
    case "interval":
      return "IntervalSecond";
    case "in":
    case "and":
      return "UInt8";
    case "bin":
      if (["=", "!=", ">", ">=", "<", "<="].includes(node.op)) return "UInt8";
      if (node.op === "/") return "Float64";
      if (typeOf(node.l) === "DateTime") return "DateTime";
      return isInteger(typeOf(node.l)) && isInteger(typeOf(node.r)) ? "UInt64" : "Float64";
    case "call": {
      const name = node.name.toLowerCase();
      if (["now", "tostartofhour", "tostartofinterval"].includes(name)) return "DateTime";
      if (name === "count") return "UInt64";
      if (name === "sum") return isInteger(typeOf(node.args[0])) ? "UInt64" : "Float64";
      if (name === "min" || name === "max") return typeOf(node.args[0]);
      return "Float64";
    }
  }
}

const isInteger = (type: string) => /^U?Int/.test(type);

/** A value as ClickHouse's JSON format writes it. */
function jsonValue(value: Value, type: string): string | number | null {
  if (type === "DateTime") {
    const date = value instanceof Date ? value : new Date(Number(value));
    return date.toISOString().slice(0, 19).replace("T", " ");
  }
  if (type === "UInt64" || type === "Int64") return String(Math.round(Number(value)));
  if (type === "String") return String(value);
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

/** Every column a query names must exist, whether or not a row reaches it. */
function checkColumns(select: Select): void {
  const visit = (node: Node): void => {
    if (node.k === "col" && !COLUMN.test(node.name))
      throw new InvalidInput(`unknown column '${node.name}'`);
    if (node.k === "call") [...node.params, ...node.args].forEach(visit);
    if (node.k === "bin") [node.l, node.r].forEach(visit);
    if (node.k === "in") [node.l, ...node.values].forEach(visit);
    if (node.k === "and") node.parts.forEach(visit);
  };
  for (const item of select.items) visit(item.expr);
  if (select.where) visit(select.where);
  const aliases = new Set(select.items.map((item) => item.alias));
  for (const name of [...select.groupBy, ...select.orderBy.map((o) => o.name)])
    if (!aliases.has(name) && !COLUMN.test(name))
      throw new InvalidInput(`unknown column '${name}'`);
}

function run(select: Select, rows: Row[], now: Date) {
  checkColumns(select);
  const matching = select.where
    ? rows.filter((row) => numeric(evalRow(select.where!, row, now)) !== 0)
    : rows;
  const byAlias = new Map(select.items.map((item) => [item.alias, item.expr]));
  const keyExpr = (name: string): Node => byAlias.get(name) ?? { k: "col", name };
  const aggregated = select.groupBy.length > 0 || select.items.some((i) => isAggregate(i.expr));
  let groups: Row[][];
  if (!aggregated) groups = matching.map((row) => [row]);
  else if (select.groupBy.length === 0) groups = matching.length > 0 ? [matching] : [];
  else {
    const map = new Map<string, Row[]>();
    for (const row of matching) {
      const key = JSON.stringify(
        select.groupBy.map((name) => comparable(evalRow(keyExpr(name), row, now))),
      );
      map.set(key, [...(map.get(key) ?? []), row]);
    }
    groups = [...map.values()];
  }
  // An aggregate without GROUP BY over no rows still answers one row, as SQL does.
  if (aggregated && select.groupBy.length === 0 && groups.length === 0) groups = [[]];
  const results = groups.map((group) =>
    Object.fromEntries(
      select.items.map((item) => [
        item.alias,
        group.length === 0 ? emptyAggregate(item.expr) : evalGroup(item.expr, group, now),
      ]),
    ),
  );
  for (const { name, descending } of [...select.orderBy].reverse()) {
    results.sort((a, b) => {
      const x = comparable(a[name]);
      const y = comparable(b[name]);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
  }
  const limited = select.limit === undefined ? results : results.slice(0, select.limit);
  const meta = select.items.map((item) => ({ name: item.alias, type: typeOf(item.expr) }));
  return {
    meta,
    data: limited.map((result) =>
      Object.fromEntries(meta.map(({ name, type }) => [name, jsonValue(result[name], type)])),
    ),
    rows: limited.length,
    rows_before_limit_at_least: results.length,
  };
}

function comparable(value: Value): string | number {
  return value instanceof Date ? value.getTime() : value;
}

function emptyAggregate(node: Node): Value {
  return node.k === "call" && ["sum", "count"].includes(node.name.toLowerCase()) ? 0 : NaN;
}

// ---- HTTP ----

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  response.writeHead(status, {
    "content-type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json",
  });
  response.end(text);
}

const envelope = (code: number, message: string) => ({
  success: false,
  errors: [{ code, message }],
  messages: [],
  result: null,
});

async function handle(
  scenario: AnalyticsSqlScenario,
  queries: string[],
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const sql = Buffer.concat(chunks).toString("utf8");
  const path = new URL(request.url ?? "/", "http://stand-in").pathname;
  if (
    request.method !== "POST" ||
    path !== `/client/v4/accounts/${scenario.accountId}/analytics_engine/sql`
  ) {
    send(response, 404, envelope(7003, `Could not route to ${path}`));
    return;
  }
  queries.push(sql);
  if (request.headers.authorization !== `Bearer ${scenario.token}`) {
    send(response, 401, envelope(10000, "Authentication error"));
    return;
  }
  if (scenario.notEnabled) {
    send(response, 403, envelope(10089, "no_access_to_analytics_engine"));
    return;
  }
  if (scenario.failure) {
    send(response, scenario.failure.status, scenario.failure.body);
    return;
  }
  try {
    const select = parse(sql);
    const points = scenario.datasets[select.table];
    if (!points) throw new InvalidInput(`unknown table '${select.table}'`);
    send(response, 200, run(select, points.map(rowOf), scenario.now));
  } catch (error) {
    if (!(error instanceof InvalidInput)) throw error;
    send(response, 422, `Input was invalid: ${error.message}`);
  }
}

/** Starts the stand-in on 127.0.0.1 (a free port). `scenario` may be changed between queries. */
export async function startAnalyticsSqlStandIn(
  scenario: AnalyticsSqlScenario,
): Promise<AnalyticsSqlStandIn> {
  const queries: string[] = [];
  const server = createServer((request, response) => {
    handle(scenario, queries, request, response).catch((error: Error) =>
      send(response, 500, `stand-in failed: ${error.message}`),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    queries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

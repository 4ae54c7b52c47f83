/**
 * A client of Workers Analytics Engine's SQL API, on `fetch` alone: it runs in Node (`npm run stats`,
 * the bridge watch's alerts) and in a Worker. One POST per query to
 * `<base>/accounts/<account>/analytics_engine/sql` with the SQL as the body and a Bearer token
 * ("Account Analytics: Read"); the answer is the JSON format of the SQL reference,
 * `{meta: [{name, type}], data: [{column: value}], rows}`. A failure is a value, never a throw:
 * the HTTP status and the API's own message, so a command can say it in one line.
 */

/** Cloudflare's API; a test points `baseUrl` at a stand-in on loopback. */
export const CLOUDFLARE_API_BASE_URL = "https://api.cloudflare.com/client/v4";

/** The permission the token needs, as the dashboard names it (Account → Account Analytics → Read). */
export const SQL_API_PERMISSION = "Account Analytics: Read";

/** Cloudflare's error code for an account that has not enabled Analytics Engine (deploys fail with it too). */
export const ANALYTICS_ENGINE_NOT_ENABLED_CODE = 10089;

/** How long one query may take before it counts as failed. */
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

export interface SqlApiTarget {
  accountId: string;
  token: string;
  baseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** One column of an answer: its name and its ClickHouse type (`String`, `UInt64`, `Float64`, `DateTime`, …). */
export interface SqlColumn {
  name: string;
  type: string;
}

/** A value as the JSON format writes it: 64-bit integers may come quoted, as ClickHouse writes them. */
export type SqlValue = string | number | boolean | null;

export interface SqlAnswer {
  meta: SqlColumn[];
  data: Record<string, SqlValue>[];
  rows: number;
}

export type SqlFailure =
  /** The API answered with an error status: its message (and Cloudflare's error code, when the body has one). */
  | { kind: "status"; status: number; code?: number; message: string }
  /** No answer: the network, DNS, TLS, or the timeout. */
  | { kind: "unreachable"; message: string }
  /** A 200 whose body is not the documented JSON answer. */
  | { kind: "malformed"; message: string };

export type SqlResult = { ok: true; answer: SqlAnswer } | { ok: false; failure: SqlFailure };

/** Runs one SQL statement. Never throws for what the API or the network does. */
export async function querySql(target: SqlApiTarget, sql: string): Promise<SqlResult> {
  const base = (target.baseUrl ?? CLOUDFLARE_API_BASE_URL).replace(/\/+$/, "");
  const url = `${base}/accounts/${encodeURIComponent(target.accountId)}/analytics_engine/sql`;
  const timeoutMs = target.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  let response: Response;
  let text: string;
  try {
    response = await (target.fetch ?? fetch)(url, {
      method: "POST",
      headers: { authorization: `Bearer ${target.token}`, "content-type": "text/plain" },
      body: sql,
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const name = (error as Error).name;
    return failed({
      kind: "unreachable",
      message:
        name === "TimeoutError" || name === "AbortError"
          ? `no answer within ${timeoutMs / 1000} s`
          : causeOf(error),
    });
  }
  if (!response.ok) return failed({ kind: "status", status: response.status, ...errorOf(text) });
  return parseAnswer(text);
}

/** One line for a failure, e.g. `the SQL API answered 401: Authentication error (code 10000)`. */
export function describeSqlFailure(failure: SqlFailure): string {
  switch (failure.kind) {
    case "status": {
      const code = failure.code === undefined ? "" : ` (code ${failure.code})`;
      const hint =
        failure.code === ANALYTICS_ENGINE_NOT_ENABLED_CODE
          ? ": Workers Analytics Engine is not enabled on this account (enable it once, in the Cloudflare dashboard)"
          : failure.status === 401 || failure.status === 403
            ? `: the token needs "${SQL_API_PERMISSION}" on this account`
            : "";
      return `the SQL API answered ${failure.status}: ${failure.message}${code}${hint}`;
    }
    case "unreachable":
      return `the SQL API could not be reached: ${failure.message}`;
    case "malformed":
      return `the SQL API's answer is not the documented JSON: ${failure.message}`;
  }
}

/** A numeric value of an answer (quoted 64-bit integers included); null for a missing or non-numeric one. */
export function numberOf(value: SqlValue | undefined): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value.trim() !== "") {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : null;
  }
  return null;
}

/** A text value of an answer ("" for a missing one). */
export function textOf(value: SqlValue | undefined): string {
  return value === null || value === undefined ? "" : String(value);
}

function failed(failure: SqlFailure): SqlResult {
  return { ok: false, failure };
}

/** The longest API message a one-line report carries. */
const MESSAGE_LIMIT = 300;

/**
 * The API's message from an error body: Cloudflare's envelope (`{errors: [{code, message}]}`) or
 * the SQL engine's text (e.g. `Input was invalid: …`), as one line.
 */
function errorOf(text: string): { code?: number; message: string } {
  try {
    const body = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = Array.isArray(body.errors) ? body.errors[0] : undefined;
    if (first && typeof first.message === "string")
      return {
        ...(typeof first.code === "number" ? { code: first.code } : {}),
        message: oneLine(first.message),
      };
  } catch {
    // Not JSON: the engine's own words.
  }
  return { message: oneLine(text) || "(empty body)" };
}

function parseAnswer(text: string): SqlResult {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return failed({ kind: "malformed", message: `not JSON: ${oneLine(text).slice(0, 80)}` });
  }
  const { meta, data, rows } = (body ?? {}) as Partial<Record<keyof SqlAnswer, unknown>>;
  if (!Array.isArray(meta) || !Array.isArray(data))
    return failed({ kind: "malformed", message: "no meta and data arrays" });
  const columns = meta.filter(
    (column): column is SqlColumn =>
      typeof column?.name === "string" && typeof column?.type === "string",
  );
  if (columns.length !== meta.length)
    return failed({ kind: "malformed", message: "a meta entry without name and type" });
  if (!data.every((row) => typeof row === "object" && row !== null && !Array.isArray(row)))
    return failed({ kind: "malformed", message: "a data row that is not an object" });
  return {
    ok: true,
    answer: {
      meta: columns,
      data: data as Record<string, SqlValue>[],
      rows: typeof rows === "number" ? rows : data.length,
    },
  };
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > MESSAGE_LIMIT ? `${line.slice(0, MESSAGE_LIMIT)}…` : line;
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}

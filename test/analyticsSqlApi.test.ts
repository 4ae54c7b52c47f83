import { afterEach, describe, expect, it } from "vitest";
import {
  describeSqlFailure,
  numberOf,
  querySql,
  type SqlResult,
} from "../worker/src/analytics/sqlApi";
import {
  quantileExactWeighted,
  startAnalyticsSqlStandIn,
  type AnalyticsSqlScenario,
  type AnalyticsSqlStandIn,
} from "./support/analyticsSqlStandIn";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const TOKEN = "analytics-read-token";
const NOW = new Date("2026-05-02T10:00:00Z");

let standIn: AnalyticsSqlStandIn | undefined;
afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
});

async function start(overrides: Partial<AnalyticsSqlScenario> = {}) {
  standIn = await startAnalyticsSqlStandIn({
    accountId: ACCOUNT,
    token: TOKEN,
    now: NOW,
    datasets: { voice_edge: [] },
    ...overrides,
  });
  return { accountId: ACCOUNT, token: TOKEN, baseUrl: standIn.url };
}

function failureOf(result: SqlResult) {
  if (result.ok) throw new Error("expected a failure");
  return result.failure;
}

describe("the SQL API client against the stand-in", () => {
  it("posts the SQL with the token and reads the JSON format: weighted counts and quantiles", async () => {
    const target = await start({
      datasets: {
        voice_edge: [
          { event: "upgrade", at: "2026-05-02T09:10:00Z", outcome: "connected", msTo101: 100 },
          { event: "upgrade", at: "2026-05-02T09:20:00Z", outcome: "connected", msTo101: 300 },
          {
            event: "upgrade",
            at: "2026-05-02T09:30:00Z",
            outcome: "connected",
            msTo101: 200,
            sampleInterval: 3,
          },
          { event: "upgrade", at: "2026-05-01T08:00:00Z", outcome: "connected", msTo101: 900 },
          {
            event: "upgrade",
            at: "2026-05-02T09:40:00Z",
            outcome: "refused",
            reason: "bridge_busy",
          },
        ],
      },
    });
    const result = await querySql(
      target,
      `SELECT toStartOfInterval(timestamp, INTERVAL '1' HOUR) AS hour, SUM(_sample_interval) AS sessions,
        quantileExactWeighted(0.5)(double3, _sample_interval) AS p50
       FROM voice_edge WHERE blob1 = 'upgrade' AND blob2 = 'connected' AND timestamp > NOW() - INTERVAL '12' HOUR
       GROUP BY hour ORDER BY hour FORMAT JSON`,
    );
    if (!result.ok) throw new Error(describeSqlFailure(result.failure));
    expect(result.answer.meta).toEqual([
      { name: "hour", type: "DateTime" },
      { name: "sessions", type: "UInt64" },
      { name: "p50", type: "Float64" },
    ]);
    // 64-bit integers come quoted, as ClickHouse writes them; numberOf reads both.
    expect(result.answer.data).toEqual([{ hour: "2026-05-02 09:00:00", sessions: "5", p50: 200 }]);
    expect(numberOf(result.answer.data[0].sessions)).toBe(5);
    expect(result.answer.rows).toBe(1);
    expect(standIn!.queries).toHaveLength(1);
  });

  it("computes quantileExactWeighted as ClickHouse documents it", () => {
    const numbers = Array.from({ length: 10 }, (_, value) => ({ value, weight: 1 }));
    // SELECT quantilesExactWeighted(0.25, 0.5, 0.75)(number, 1) FROM numbers(10) → [2,4,7]
    expect([0.25, 0.5, 0.75].map((q) => quantileExactWeighted(q, numbers))).toEqual([2, 4, 7]);
  });

  it("names a wrong token's 401 with the API's message and the permission", async () => {
    const target = await start();
    const failure = failureOf(
      await querySql({ ...target, token: "wrong" }, "SELECT 1 FROM voice_edge"),
    );
    expect(failure).toEqual({
      kind: "status",
      status: 401,
      code: 10000,
      message: "Authentication error",
    });
    expect(describeSqlFailure(failure)).toBe(
      'the SQL API answered 401: Authentication error (code 10000): the token needs "Account Analytics: Read" on this account',
    );
  });

  it("carries the engine's words for SQL it cannot run", async () => {
    const target = await start();
    const failure = failureOf(await querySql(target, "SELECT blob99 FROM voice_edge"));
    expect(failure).toEqual({
      kind: "status",
      status: 422,
      message: "Input was invalid: unknown column 'blob99'",
    });
  });

  it("says when the account has not enabled Analytics Engine", async () => {
    const target = await start({ notEnabled: true });
    const failure = failureOf(await querySql(target, "SELECT 1 FROM voice_edge"));
    expect(failure).toMatchObject({ status: 403, code: 10089 });
    expect(describeSqlFailure(failure)).toContain("not enabled on this account");
  });

  it("tells an answer that is not the documented JSON, and no answer at all", async () => {
    const target = await start({ failure: undefined });
    standIn!.queries.length = 0;
    const malformed = failureOf(
      await querySql(
        { ...target, fetch: async () => new Response("<html>", { status: 200 }) },
        "SELECT 1",
      ),
    );
    expect(malformed.kind).toBe("malformed");
    await standIn!.close();
    const unreachable = failureOf(await querySql(target, "SELECT 1 FROM voice_edge"));
    expect(unreachable.kind).toBe("unreachable");
    expect(describeSqlFailure(unreachable)).toMatch(/^the SQL API could not be reached: /);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SESSIONS_PATH, type SessionRecordsAnswer } from "../worker/src/bridgeWatch/sessionRecords";
import { PERSONAPLEX_QUERY } from "../test/support/bridge";
import { countedSession } from "../test/support/countedSession";
import { startGuardedFleet, type GuardedFleet } from "../test/support/guardedFleet";
import { STOCK_VOICES } from "../worker/src/voices";

/** A value no record may carry: the session's own text prompt. */
const MARKER = "persona-marker-7f3e";
const QUERY = new URLSearchParams({
  ...Object.fromEntries(new URLSearchParams(PERSONAPLEX_QUERY)),
  text_prompt: MARKER,
}).toString();
const HOLD_MS = 300;
/** How far HAProxy's count of a session's upgrade heads may be from the wire's (it counts them as it re-encodes them). */
const HEAD_REENCODING_BYTES = 16;

let fleet: GuardedFleet;
let port: number;

beforeAll(async () => {
  fleet = await startGuardedFleet({ names: ["gpu-1"], voices: STOCK_VOICES });
  port = fleet.bridges[0].guard.port;
});
afterAll(() => fleet?.stop());

async function sessions(query = ""): Promise<{ text: string; answer: SessionRecordsAnswer }> {
  const response = await fetch(`http://127.0.0.1:${port}${SESSIONS_PATH}${query}`);
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  const text = await response.text();
  return { text, answer: JSON.parse(text) };
}

/** Polls /sessions until it has `last` records (a line reaches the records shortly after the session ends). */
async function recordsUpTo(last: number) {
  for (let i = 0; i < 100; i++) {
    const found = await sessions();
    if (found.answer.last >= last) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no record ${last} within 5 s`);
}

/** The guard's stdout line of the n-th upgraded session. */
function logLineOf(n: number): Record<string, string> {
  const lines = fleet.bridges[0].guard
    .output()
    .split("\n")
    .filter((line) => line.includes(" status=101 "));
  return Object.fromEntries(
    lines[n - 1].split(" ").flatMap((part) => {
      const at = part.indexOf("=");
      return at > 0 ? [[part.slice(0, at), part.slice(at + 1)]] : [];
    }),
  );
}

describe("the guard's session records (GET /sessions)", () => {
  it("before any session: none, numbered from 1", async () => {
    const { answer } = await sessions();
    expect(answer).toEqual({ boot: expect.any(String), last: 0, first: 1, records: [] });
  });

  it("answers GET and HEAD only (/sessions and /health): another method gets the 404 of a path that is not the chat's", async () => {
    for (const path of [SESSIONS_PATH, "/health"]) {
      expect((await fetch(`http://127.0.0.1:${port}${path}`, { method: "HEAD" })).status).toBe(200);
      for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
        const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
        expect([method, path, response.status]).toEqual([method, path, 404]);
        expect(await response.json()).toEqual({ error: "not_found" });
      }
    }
  });

  it("records each ended session once: its length, its frames' bytes exactly, its termination; never the query, never a refusal", async () => {
    const shapes = [
      { frames: 3, frameBytes: 640, holdMs: HOLD_MS },
      { frames: 20, frameBytes: 4_000, holdMs: HOLD_MS },
    ];
    const counted = [];
    for (const shape of shapes) {
      counted.push(await countedSession(port, `/api/chat?${QUERY}`, shape));
      // A refusal while none is live, and a /health: neither is a record.
      await fetch(`http://127.0.0.1:${port}/health`);
    }
    const refused = await countedSession(port, `/api/chat?text_prompt=x`, shapes[0]);
    expect(refused.status).toBe(400);
    const { text, answer } = await recordsUpTo(2);
    expect(counted.map((session) => session.status)).toEqual([101, 101]);
    expect(answer.last).toBe(2);
    expect(answer.records.map((record) => record.seq)).toEqual([1, 2]);
    // Frames count byte for byte: the two sessions differ on the wire exactly as in their records.
    const [one, two] = answer.records;
    expect(two.bytesUp - one.bytesUp).toBe(counted[1].bytesUp - counted[0].bytesUp);
    expect(two.bytesUp - one.bytesUp).toBe(20 * (4_000 + 8) - 3 * (640 + 8));
    for (const [i, record] of answer.records.entries()) {
      // The heads as HAProxy re-encodes them (measured: request 5 bytes fewer, 101 3 more than the wire).
      expect(Math.abs(record.bytesUp - counted[i].bytesUp)).toBeLessThanOrEqual(
        HEAD_REENCODING_BYTES,
      );
      expect(Math.abs(record.bytesDown - counted[i].bytesDown)).toBeLessThanOrEqual(
        HEAD_REENCODING_BYTES,
      );
      // HAProxy's own count of the session's time: at least the hold, at most the client's view.
      expect(record.durationMs).toBeGreaterThanOrEqual(HOLD_MS);
      expect(record.durationMs).toBeLessThanOrEqual(Math.ceil(counted[i].elapsedMs) + 1);
      const line = logLineOf(i + 1);
      expect(record).toMatchObject({
        durationMs: Number(line.duration_ms),
        bytesUp: Number(line.bytes_up),
        bytesDown: Number(line.bytes_down),
        termination: line.termination,
      });
    }
    expect(text).not.toContain(MARKER);
    expect(text).not.toContain("voice_prompt");
    // The refusal is in the log, not in the records.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await sessions()).answer.last).toBe(2);
  });

  it("answers after a cursor of its own process; another process's cursor gets every record kept", async () => {
    const { answer } = await recordsUpTo(2);
    const after1 = await sessions(`?boot=${answer.boot}&after=1`);
    expect(after1.answer.records.map((record) => record.seq)).toEqual([2]);
    const upToDate = await sessions(`?boot=${answer.boot}&after=2`);
    expect(upToDate.answer.records).toEqual([]);
    const otherBoot = await sessions(`?boot=0-0&after=2`);
    expect(otherBoot.answer.records.map((record) => record.seq)).toEqual([1, 2]);
  });
});

import { describe, expect, it } from "vitest";
import {
  guardHealthOf,
  readBodyPrefix,
  refusalOfAnswer,
  retryAfterSeconds,
} from "../src/guardAnswers";

const NOW = Date.UTC(2026, 0, 1);

describe("Retry-After as retryAfterS", () => {
  it.each<[string | null, number]>([
    ["7", 7],
    [" 30 ", 30],
    ["0", 1],
    ["86400", 300],
    [null, 5],
    ["", 5],
    ["soon", 5],
    ["-3", 5],
    ["2.5", 5],
    [new Date(NOW + 42_000).toUTCString(), 42],
    [new Date(NOW - 60_000).toUTCString(), 1],
  ])("reads %j as %i seconds", (header, seconds) => {
    expect(retryAfterSeconds(header, NOW)).toBe(seconds);
  });
});

describe("a non-101 answer as the page's reason", () => {
  it.each<[string, number, string | null, string, unknown, string]>([
    [
      "busy",
      503,
      "7",
      '{"error":"bridge_busy","retryAfterS":7}',
      { error: "bridge_busy", retryAfterS: 7 },
      "bridge_busy",
    ],
    ["rate limited", 429, "2", "", { error: "bridge_busy", retryAfterS: 2 }, "bridge_busy"],
    [
      "busy, seconds in the body only",
      503,
      null,
      '{"retryAfterS":11}',
      { error: "bridge_busy", retryAfterS: 11 },
      "bridge_busy",
    ],
    [
      "busy, no seconds given",
      503,
      null,
      '{"error":"bridge_busy"}',
      { error: "bridge_busy", retryAfterS: 5 },
      "bridge_busy",
    ],
    [
      "the guard's server down",
      503,
      null,
      '{"error":"bridge_unavailable"}',
      { error: "bridge_unavailable" },
      "bridge_rejected",
    ],
    [
      "a bare 503 in HTML",
      503,
      null,
      "<html>503</html>",
      { error: "bridge_unavailable" },
      "bridge_rejected",
    ],
    [
      "options refused",
      400,
      null,
      '{"error":"session_options_invalid","parameter":"seed"}',
      { error: "session_options_invalid", parameter: "seed" },
      "session_options_invalid",
    ],
    [
      "options refused, unknown parameter",
      400,
      null,
      '{"error":"session_options_invalid","parameter":"x"}',
      { error: "session_options_invalid" },
      "session_options_invalid",
    ],
    [
      "a 400 in free text",
      400,
      null,
      "bad text_prompt",
      { error: "session_options_invalid" },
      "session_options_invalid",
    ],
    [
      "a JSON array",
      400,
      null,
      '["text_prompt"]',
      { error: "session_options_invalid" },
      "session_options_invalid",
    ],
    ["the tunnel's 502", 502, null, "", { error: "bridge_unavailable" }, "bridge_rejected"],
    ["no connector (530)", 530, null, "", { error: "bridge_unavailable" }, "bridge_rejected"],
    ["a redirect", 302, null, "", { error: "bridge_unavailable" }, "bridge_rejected"],
  ])("%s", (_case, status, retryAfter, body, reason, failure) => {
    expect(refusalOfAnswer(status, retryAfter, body, NOW)).toEqual({ reason, failure });
  });
});

describe("the guard's /health", () => {
  it.each<[string, number, string, object]>([
    [
      "a free slot",
      200,
      '{"up":true,"sessions":0,"capacity":1}',
      { up: true, busy: false, sessions: 0, capacity: 1 },
    ],
    [
      "full",
      200,
      '{"up":true,"sessions":1,"capacity":1}',
      { up: true, busy: true, sessions: 1, capacity: 1 },
    ],
    [
      "draining",
      200,
      '{"up":true,"sessions":0,"capacity":1,"draining":true}',
      { up: true, busy: true, sessions: 0, capacity: 1, draining: true },
    ],
    [
      "its server down, as the guard answers it",
      503,
      '{"up":false,"sessions":0,"capacity":1,"draining":false}',
      { up: false, serverDown: true, busy: false },
    ],
    [
      "its server down while drained: maintenance",
      503,
      '{"up":false,"sessions":0,"capacity":1,"draining":true}',
      { up: false, serverDown: true, draining: true, busy: false },
    ],
    [
      "its server down, in a 200",
      200,
      '{"up":false,"sessions":0,"capacity":1}',
      { up: false, serverDown: true, busy: false },
    ],
    ["a 503 without the guard's JSON", 503, "<html>503</html>", { up: false, busy: false }],
    ["2xx without its JSON", 204, "", { up: true, busy: false }],
    ["odd counts", 200, '{"up":true,"sessions":-1,"capacity":"1"}', { up: true, busy: false }],
  ])("reads %s", (_case, status, body, health) => {
    expect(guardHealthOf(status, body)).toEqual(health);
  });
});

describe("reading a bridge's body", () => {
  it("reads no more than the bound, and nothing from no body", async () => {
    const big = new Response("x".repeat(100_000)).body;
    expect((await readBodyPrefix(big, 64)).length).toBe(64);
    expect(await readBodyPrefix(null)).toBe("");
  });
});

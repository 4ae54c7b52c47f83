import { describe, expect, it } from "vitest";
import {
  guardOfBridge,
  guardSchema,
  guardSessionCap,
  validateGuardSessionCap,
  type SessionCapInput,
} from "./guard";

describe("one session cap for the guards and the line", () => {
  it.each<[string, SessionCapInput, number | undefined]>([
    ["neither", { guard: {} }, undefined],
    ["the guard's alone (no line)", { guard: { maxSessionMinutes: 10 } }, 10],
    ["the line's alone", { guard: {}, line: { enabled: true, maxSessionMinutes: 5 } }, 5],
    [
      "both, equal",
      { guard: { maxSessionMinutes: 5 }, line: { enabled: true, maxSessionMinutes: 5 } },
      5,
    ],
    [
      "the line's, while the line is off",
      { guard: {}, line: { enabled: false, maxSessionMinutes: 5 } },
      5,
    ],
    [
      "the guard's, the line off without one",
      { guard: { maxSessionMinutes: 10 }, line: { enabled: false } },
      10,
    ],
  ])("guardSessionCap: %s", (_, settings, minutes) => {
    expect(guardSessionCap(settings)).toBe(minutes);
    expect(validateGuardSessionCap(settings)).toEqual([]);
  });

  it.each<[string, SessionCapInput, string]>([
    [
      "two different caps",
      { guard: { maxSessionMinutes: 10 }, line: { enabled: true, maxSessionMinutes: 5 } },
      "is 10 but voice-edge:line.maxSessionMinutes is 5: the guards enforce the line's; remove guard.maxSessionMinutes",
    ],
    [
      "two different caps, the line off",
      { guard: { maxSessionMinutes: 10 }, line: { enabled: false, maxSessionMinutes: 5 } },
      "is 10 but voice-edge:line.maxSessionMinutes is 5",
    ],
    [
      "the guard's cap with the line on and none of its own (its pages would be told none)",
      { guard: { maxSessionMinutes: 10 }, line: { enabled: true } },
      "is 10 but the line is on and voice-edge:line.maxSessionMinutes is not set: set line.maxSessionMinutes: 10",
    ],
  ])("validateGuardSessionCap refuses %s at guard.maxSessionMinutes", (_, settings, message) => {
    const problems = validateGuardSessionCap(settings);
    expect(problems).toHaveLength(1);
    expect(problems[0].path).toEqual(["guard", "maxSessionMinutes"]);
    expect(problems[0].message).toContain(message);
  });

  it("guardOfBridge gives each VM the stack's cap (the line's when set)", () => {
    const guard = guardSchema.parse({});
    const bridge = {
      name: "gpu-1",
      originHostname: "voice-gpu-1.mycosoft.com",
      service: "http://localhost:8999",
      path: "/api/chat",
      capacity: 1,
    };
    const chosen = guardOfBridge(
      "prod",
      { guard, bridges: [bridge], line: { enabled: true, maxSessionMinutes: 7 } },
      "gpu-1",
    );
    expect(chosen).toEqual({ guard: { ...guard, capacity: 1, maxSessionMinutes: 7 } });
  });
});

import { describe, expect, it } from "vitest";
import { isVoiceFileName, STOCK_VOICES } from "../src/voices";

describe("a voice is a file name, never a path", () => {
  it.each(["NATF0.pt", "VARM4.pt", "my-voice_2.pt", "custom.v2.pt"])("accepts %s", (name) =>
    expect(isVoiceFileName(name)).toBe(true),
  );

  it.each([
    "../../../etc/passwd",
    "../x.pt",
    "/root/.cache/x.pt",
    "voices/NATF0.pt",
    "..\\x.pt",
    "a\\b.pt",
    "..pt",
    ".hidden.pt",
    "a..b.pt",
    "NATF0",
    "NATF0.pt.txt",
    "NATF0.PT",
    "NATF0.pt ",
    "",
    `${"a".repeat(126)}.pt`,
  ])("refuses %j", (name) => expect(isVoiceFileName(name)).toBe(false));

  it("lists the stock client's 18 voices, each a file name", () => {
    expect(STOCK_VOICES).toHaveLength(18);
    expect(new Set(STOCK_VOICES).size).toBe(18);
    expect(STOCK_VOICES.every(isVoiceFileName)).toBe(true);
    expect(STOCK_VOICES).toEqual(
      expect.arrayContaining(["NATF3.pt", "NATM0.pt", "VARF4.pt", "VARM0.pt"]),
    );
  });
});

import { describe, expect, it } from "vitest";
import { knownStacks, loadStackSettings } from "../config/stackFiles";
import { zoneOwnershipProblems, type NamedStack } from "../zoneOwnership";

const realStacks = (): NamedStack[] =>
  knownStacks().map((stack) => ({ stack, settings: loadStackSettings(stack) }));

describe("zone-wide resources across the fixture stack files", () => {
  it("finds staging and prod among the fixtures", () => {
    expect(knownStacks().sort()).toEqual(["prod", "staging"]);
  });

  it("has at most one owner per zone, whose rate limit covers every environment's WebSocket path", () => {
    expect(zoneOwnershipProblems(realStacks())).toEqual([]);
  });

  it("reports two stacks that both own a zone", () => {
    const stacks = realStacks().map((s) => ({
      ...s,
      settings: { ...s.settings, zone: { ...s.settings.zone, owner: true } },
    }));
    expect(zoneOwnershipProblems(stacks)).toContain(
      "zone mycosoft.com is owned by prod and staging: set zone.owner: true in exactly one of them",
    );
  });

  it("reports an owner whose host-restricted rule leaves another environment uncovered", () => {
    const stacks = realStacks().map((s) =>
      s.settings.zone.owner
        ? {
            ...s,
            settings: {
              ...s.settings,
              rateLimit: {
                ...s.settings.rateLimit!,
                rules: s.settings.rateLimit!.rules.map((r) => ({ ...r, hosts: ["mycosoft.com"] })),
              },
            },
          }
        : s,
    );
    expect(zoneOwnershipProblems(stacks)).toEqual([
      "prod's rate limit does not cover voice-staging.mycosoft.com/voice/ws (stack staging)",
    ]);
  });
});

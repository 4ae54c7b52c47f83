import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stackGaps } from "./gaps";
import { loadStackSettings, stackDirectory } from "./stackFiles";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A stack directory holding `files` (name → YAML text, or a stack of the tests' own to copy). */
function stackDir(files: Record<string, string | { copyOf: string }>): string {
  const dir = mkdtempSync(join(tmpdir(), "voice-edge-gaps-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files))
    if (typeof content === "string") writeFileSync(join(dir, `Pulumi.${name}.yaml`), content);
    else
      copyFileSync(
        join(stackDirectory(), `Pulumi.${content.copyOf}.yaml`),
        join(dir, `Pulumi.${name}.yaml`),
      );
  return dir;
}

const owner = loadStackSettings("prod");
const nonOwner = loadStackSettings("staging");
const ownerOf = (zone: { id: string; name: string }) =>
  `config:\n  voice-edge:zone:\n    id: "${zone.id}"\n    name: ${zone.name}\n    plan: free\n    owner: true\n`;

describe("stackGaps: what a valid stack leaves undeclared without a word", () => {
  it("says nothing for a zone owner with a rate limit", () => {
    expect(owner.rateLimit).toBeDefined();
    expect(stackGaps(owner, "prod", stackDir({ prod: { copyOf: "prod" } }))).toEqual([]);
  });

  it("names the missing rate limit of a zone owner, and its stack file", () => {
    const [gap, ...rest] = stackGaps({ ...owner, rateLimit: undefined }, "prod", stackDir({}));
    expect(rest).toEqual([]);
    expect(gap.key).toBe("voice-edge:rateLimit");
    expect(gap.message).toBe(
      `Pulumi.prod.yaml owns zone ${owner.zone.name} but sets no voice-edge:rateLimit: nothing limits how often one client may open /voice/ws, /voice/line or /voice/api/chat`,
    );
    expect(gap.action).toContain("add voice-edge:rateLimit with rules");
  });

  it("says nothing for a stack whose zone another stack file owns", () => {
    const dir = stackDir({ staging: { copyOf: "staging" }, other: ownerOf(nonOwner.zone) });
    expect(stackGaps(nonOwner, "staging", dir)).toEqual([]);
  });

  it.each([
    ["it is the only stack file", {}],
    [
      "the other stack owns another zone",
      { other: ownerOf({ id: "1".repeat(32), name: "example.org" }) },
    ],
    [
      "the other stack of the zone does not own it either",
      { other: ownerOf(nonOwner.zone).replace("owner: true", "owner: false") },
    ],
  ])("names a zone no stack file owns when %s", (_, others) => {
    const dir = stackDir({ staging: { copyOf: "staging" }, ...others });
    const gaps = stackGaps(nonOwner, "staging", dir);
    expect(gaps.map((gap) => gap.key)).toEqual(["voice-edge:zone.owner"]);
    expect(gaps[0].message).toBe(
      `no stack file here owns zone ${nonOwner.zone.name} (voice-edge:zone.owner: true): this stack declares neither its zone settings (WebSockets, SSL/TLS Full (strict), Always Use HTTPS) nor its rate limit`,
    );
    expect(gaps[0].action).toContain("set voice-edge:zone.owner: true in Pulumi.staging.yaml");
  });
});

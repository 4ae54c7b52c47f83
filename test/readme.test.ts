import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../infra/config/stackFiles";

const readme = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
const scripts = Object.keys((JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);

describe("README", () => {
  it("names only npm scripts that exist", () => {
    const named = [...readme.matchAll(/npm run (?:--silent )?([a-z][\w:-]*)/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(5);
    expect([...new Set(named)].filter((name) => !scripts.includes(name))).toEqual([]);
  });

  it("names only commands that answer --help with their usage", () => {
    const named = [...new Set([...readme.matchAll(/npm run (?:--silent )?([a-z][\w:-]*)/g)].map((m) => m[1]))];
    const silent = named.filter((name) => {
      const run = spawnSync("npm", ["run", "--silent", name, "--", "--help"], { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 60_000 });
      return run.status !== 0 || !/usage: /.test(run.stdout);
    });
    expect(silent).toEqual([]);
  }, 120_000);

  it("gives the exact test line that .ci/run runs", () => {
    const ciLine = readFileSync(join(PROJECT_ROOT, ".ci", "run"), "utf8").trim().split("\n").at(-1)!;
    expect(readme).toContain(`\n${ciLine}\n`);
  });

  it("gives the two set-up lines", () => {
    expect(readme).toContain("\nnpm ci && npm run dev\n");
    expect(readme).toContain("\nnpm ci && npm run setup:test && npm test\n");
  });
});

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  PROJECT_ROOT,
  STACK_DIR_ENV,
  knownStacks,
  stackDirectory,
} from "../infra/config/stackFiles";
import { FIXTURE_STACK_DIR } from "./support/fixtureStacks";

/** Who a file is for: what it may import follows from that (README.md, "Project structure"). */
type Audience = "product" | "command" | "test support" | "test" | "bench";

function audienceOf(path: string): Audience {
  if (path === "vitest.config.ts") return "test";
  if (path.startsWith("bench/")) return "bench";
  if (path.startsWith("test/support/")) return "test support";
  if (
    /\.test\.ts$/.test(path) ||
    /^(infra|worker)\/test\//.test(path) ||
    /^(soak|test)\//.test(path)
  )
    return "test";
  if (path.startsWith("tools/")) return "command";
  return "product";
}

/** What each audience must not import. */
const FORBIDDEN: Record<Audience, Audience[]> = {
  product: ["command", "test support", "test", "bench"],
  command: ["test support", "test", "bench"],
  "test support": ["test", "bench"],
  test: ["bench"],
  bench: ["test"],
};

const SPECIFIER = /(?:from\s+|import\s*\(\s*|import\s+|new URL\(\s*)["'](\.{1,2}\/[^"']+)["']/g;

function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(PROJECT_ROOT, dirname(from), specifier);
  const found = ["", ".ts", "/index.ts"]
    .map((ending) => base + ending)
    .find((path) => existsSync(path));
  return found && relative(PROJECT_ROOT, found);
}

/** The repository's TypeScript files (tracked, or new and not ignored). */
function typeScriptFiles(): string[] {
  return execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  })
    .split("\n")
    .filter((file) => file && existsSync(join(PROJECT_ROOT, file)));
}

/** Every relative import in the repository's TypeScript, as [importer, imported]. */
function imports(): [string, string][] {
  return typeScriptFiles().flatMap((file) =>
    [...readFileSync(join(PROJECT_ROOT, file), "utf8").matchAll(SPECIFIER)].flatMap(
      ([, specifier]) => {
        const target = resolveImport(file, specifier);
        return target ? [[file, target] as [string, string]] : [];
      },
    ),
  );
}

describe("one home per audience", () => {
  it("sorts files into their audience by folder", () => {
    expect(
      [
        "worker/src/index.ts",
        "infra/preflight/run.ts",
        "infra/offlineRun.ts",
        "policy/rules.ts",
        "tools/dev.ts",
        "tools/lib/cli.ts",
        "tools/dev.e2e.test.ts",
        "test/support/edge.ts",
        "soak/load.ts",
        "infra/test/fixtures/ownProgram.ts",
        "bench/run.ts",
        "vitest.config.ts",
      ].map(audienceOf),
    ).toEqual([
      "product",
      "product",
      "product",
      "product",
      "command",
      "command",
      "test",
      "test support",
      "test",
      "test",
      "bench",
      "test",
    ]);
  });

  it("finds the imports it checks", () => {
    const found = imports();
    expect(found.length).toBeGreaterThan(200);
    expect(found).toContainEqual(["tools/dev.ts", "tools/lib/cli.ts"]);
  });

  it("keeps the product free of commands, test support, tests and the bench; the bench and the tests apart", () => {
    const crossings = imports()
      .filter(([from, to]) => FORBIDDEN[audienceOf(from)].includes(audienceOf(to)))
      .map(([from, to]) => `${from} (${audienceOf(from)}) imports ${to} (${audienceOf(to)})`);
    expect(crossings).toEqual([]);
  });
});

/**
 * Ways a test reads the project's own Pulumi.<stack>.yaml instead of its fixtures: the project's
 * directory given to a stack reader, joined to a stack file's name, put in VOICE_EDGE_STACK_DIR, or
 * copied out of (a copy of the project runs its commands beside the copy's stack files: give such a
 * test a stack directory of its own instead, `copyOfFixtureStacks`).
 */
const PROJECT_STACK_READS = [
  /\b(?:knownStacks|loadStackSettings|readStackFile|otherZoneOwner)\([^)]*\bPROJECT_ROOT\b/,
  /\bPROJECT_ROOT\s*,\s*(?:stackFileName\(|["'`]Pulumi\.)/,
  /\b(?:STACK_DIR_ENV|VOICE_EDGE_STACK_DIR)\]?\s*[:,]\s*PROJECT_ROOT\b/,
  /\b(?:cpSync|copyFileSync)\(\s*join\(\s*PROJECT_ROOT\b/,
];

describe("the tests' own stack files", () => {
  it("are the ones every test reads: vitest points VOICE_EDGE_STACK_DIR at test/fixtures/stacks", () => {
    expect(process.env[STACK_DIR_ENV]).toBe(FIXTURE_STACK_DIR);
    expect(stackDirectory()).toBe(FIXTURE_STACK_DIR);
    expect(knownStacks().sort()).toEqual(["prod", "staging"]);
  });

  it("recognises a test that reads the project's stack files", () => {
    const reads = [
      "loadStackSettings(stack, PROJECT_ROOT)",
      "knownStacks(PROJECT_ROOT)",
      "readFileSync(join(PROJECT_ROOT, stackFileName(stack)))",
      'join(PROJECT_ROOT, "Pulumi.prod.yaml")',
      "vi.stubEnv(STACK_DIR_ENV, PROJECT_ROOT)",
      "{ [STACK_DIR_ENV]: PROJECT_ROOT }",
      "cpSync(join(PROJECT_ROOT, entry), join(root, entry), { recursive: true })",
    ];
    const missed = reads.filter((text) => !PROJECT_STACK_READS.some((read) => read.test(text)));
    expect(missed).toEqual([]);
    expect(
      PROJECT_STACK_READS.some((read) =>
        read.test('loadStackSettings("prod"); join(PROJECT_ROOT, "README.md")'),
      ),
    ).toBe(false);
  });

  it("leave the project's own stack files, a user's to change, to the tests of the shipped examples and of a user's own", () => {
    // This file's own samples above are left out.
    const readers = typeScriptFiles()
      .filter((file) => file.endsWith(".test.ts") || audienceOf(file).startsWith("test"))
      .filter((file) => file !== "test/layout.test.ts")
      .filter((file) => {
        const text = readFileSync(join(PROJECT_ROOT, file), "utf8");
        return PROJECT_STACK_READS.some((read) => read.test(text));
      });
    expect(readers.sort()).toEqual(["test/shippedStacks.test.ts", "test/userStacks.test.ts"]);
  });
});

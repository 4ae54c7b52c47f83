import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../infra/config/stackFiles";

/** Who a file is for: what it may import follows from that (README.md, "Project structure"). */
type Audience = "product" | "command" | "test support" | "test" | "bench";

function audienceOf(path: string): Audience {
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

/** Every relative import in the repository's TypeScript, as [importer, imported]. */
function imports(): [string, string][] {
  const files = execFileSync(
    "git",
    ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"],
    { cwd: PROJECT_ROOT, encoding: "utf8" },
  )
    .split("\n")
    .filter((file) => file && existsSync(join(PROJECT_ROOT, file)));
  return files.flatMap((file) =>
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

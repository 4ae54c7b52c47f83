import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../infra/config/stackFiles";

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), "utf8");
const readme = read("README.md");
const scripts = Object.keys(
  (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts,
);

/** The README and the reference it links to in docs/: every command a reader is told to run. */
const docsPages = readdirSync(join(PROJECT_ROOT, "docs"), { recursive: true, encoding: "utf8" })
  .filter((path) => path.endsWith(".md"))
  .map((path) => join("docs", path))
  .sort();
const commandPages = ["README.md", ...docsPages];
/** Pages whose links are checked: those, and the bench's and the soak suite's READMEs that link into them. */
const linkPages = [...commandPages, "bench/README.md", "soak/README.md"];

function namedScripts(): { page: string; name: string }[] {
  return commandPages.flatMap((page) =>
    [...read(page).matchAll(/npm run (?:--silent )?([a-z][\w:-]*)/g)].map((m) => ({
      page,
      name: m[1],
    })),
  );
}

/** The part of a page outside fenced code blocks, where headings and links are. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, "");
}

/** GitHub's anchor for each heading of a page (a repeated heading gets -1, -2, …). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    found.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return found;
}

/** Every file git would ship (tracked, or new and not ignored), as repository paths. */
function repositoryFiles(): string[] {
  const run = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`git ls-files failed: ${run.stderr}`);
  return run.stdout.split("\n").filter(Boolean);
}

function structureTableFolders(): string[] {
  const start = readme.indexOf("\n## Project structure\n");
  expect(start).toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  return [...section.matchAll(/^\| *`([^`]+\/)` *\|/gm)].map((m) => m[1]);
}

describe("README and docs/", () => {
  it("reads the reference from docs/", () => {
    expect(docsPages).toEqual(
      expect.arrayContaining(["docs/configuration.md", "docs/edge-contract.md", "docs/testing.md"]),
    );
  });

  it("names only npm scripts that exist", () => {
    const named = namedScripts();
    expect(named.length).toBeGreaterThan(5);
    expect(
      named
        .filter(({ name }) => !scripts.includes(name))
        .map(({ page, name }) => `${page}: npm run ${name}`),
    ).toEqual([]);
  });

  it("names only commands that answer --help with their usage", () => {
    const named = [...new Set(namedScripts().map(({ name }) => name))];
    const silent = named.filter((name) => {
      const run = spawnSync("npm", ["run", "--silent", name, "--", "--help"], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        timeout: 60_000,
      });
      return run.status !== 0 || !/usage: /.test(run.stdout);
    });
    expect(silent).toEqual([]);
  }, 300_000);

  it("links only to files and headings that exist", () => {
    const broken: string[] = [];
    for (const page of linkPages) {
      for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split("#") as [string, string | undefined];
        const file =
          path === "" ? page : relative(PROJECT_ROOT, join(PROJECT_ROOT, dirname(page), path));
        if (!existsSync(join(PROJECT_ROOT, file))) broken.push(`${page}: ${target} (no ${file})`);
        else if (anchor !== undefined && file.endsWith(".md") && !anchors(read(file)).has(anchor))
          broken.push(`${page}: ${target} (no heading #${anchor} in ${file})`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("README", () => {
  it("gives the exact test line that .ci/run runs", () => {
    const ciLine = read(".ci/run").trim().split("\n").at(-1)!;
    expect(readme).toContain(`\n${ciLine}\n`);
  });

  it("stays a newcomer's path: under 450 lines, the reference in docs/", () => {
    expect(readme.trimEnd().split("\n").length).toBeLessThan(450);
  });

  it("gives the two set-up lines", () => {
    expect(readme).toContain("\nnpm ci && npm run dev\n");
    expect(readme).toContain("\nnpm ci && npm run setup:test && npm test\n");
  });

  it("has a Project structure table naming every top-level folder, and only folders that exist", () => {
    const files = repositoryFiles();
    const topLevel = [
      ...new Set(
        files.filter((path) => path.includes("/")).map((path) => `${path.split("/")[0]}/`),
      ),
    ]
      .filter((folder) => !folder.startsWith(".") || folder === ".ci/" || folder === ".github/")
      .sort();
    const named = structureTableFolders();
    expect(topLevel.length).toBeGreaterThan(5);
    expect(topLevel.filter((folder) => !named.includes(folder))).toEqual([]);
    expect(named.filter((folder) => !files.some((path) => path.startsWith(folder)))).toEqual([]);
  });
});

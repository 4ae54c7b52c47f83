import { execFile, execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT, STACK_DIR_ENV, stackFileName } from "../infra/config/stackFiles";

/**
 * Tests that read the stack files the project ships; with a user's own (issue 20) they failed.
 * zoneOwnership and ids assert on the example's values and set, plan runs a command, and the
 * shipped-examples test must accept the user's files.
 */
const SLICE = [
  "infra/test/zoneOwnership.test.ts",
  "infra/preflight/ids.test.ts",
  "tools/plan.test.ts",
  "test/shippedStacks.test.ts",
  "test/layout.test.ts",
];

/** A stack file of the example, rewritten as a user makes it theirs: another domain, real IDs, other names. */
function madeYours(text: string): string {
  return text
    .replaceAll("mycosoft.com", "example.org")
    .replace(
      /voice-edge:accountId: "0{32}"/,
      'voice-edge:accountId: "9a7806061c88ada191ed06f989cc3dac"',
    )
    .replace(/id: "0{32}"/, 'id: "023e105f4ecef8ad9ca31a8372d0c353"')
    .replaceAll("voice-edge-prod", "example-voice")
    .replaceAll("voice-edge-staging", "example-voice-test")
    .replaceAll("voice-bridge-", "example-bridge-")
    .replaceAll("ops@", "oncall@");
}

/** A third stack of the user's own, sharing the zone with the other two. */
function exampleStack(staging: string): string {
  return staging
    .replaceAll("voice-staging.example.org", "voice-example.example.org")
    .replaceAll("voice-origin-staging.example.org", "voice-origin-example.example.org")
    .replaceAll("example-voice-test", "example-voice-example")
    .replaceAll("example-bridge-staging", "example-bridge-example");
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    execFile(
      command,
      args,
      { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? ((error as { code?: number }).code ?? null) : 0,
          output: `${stdout}${stderr}`,
        }),
    );
  });
}

describe("a clone whose stack files a user made their own", () => {
  let clone: string;

  beforeAll(() => {
    clone = mkdtempSync(join(tmpdir(), "voice-edge-user-stacks-"));
    const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    })
      .split("\n")
      // node_modules: a worktree may hold it as a symlink, which ignore rules for a folder miss.
      .filter((file) => file && file !== "node_modules" && existsSync(join(PROJECT_ROOT, file)));
    for (const file of files) {
      mkdirSync(dirname(join(clone, file)), { recursive: true });
      cpSync(join(PROJECT_ROOT, file), join(clone, file));
    }
    symlinkSync(join(PROJECT_ROOT, "node_modules"), join(clone, "node_modules"));
    // A repository, as a clone is: the layout test lists its files with git.
    execFileSync("git", ["init", "--quiet"], { cwd: clone });
    execFileSync("git", ["add", "--all"], { cwd: clone });
    for (const stack of ["prod", "staging"]) {
      const text = readFileSync(join(clone, stackFileName(stack)), "utf8");
      const yours = madeYours(text);
      expect(yours).not.toMatch(/mycosoft|0{32}/);
      writeFileSync(join(clone, stackFileName(stack)), yours);
    }
    writeFileSync(
      join(clone, stackFileName("example")),
      exampleStack(readFileSync(join(clone, stackFileName("staging")), "utf8")),
    );
  });

  afterAll(() => rmSync(clone, { recursive: true, force: true }));

  it("keeps the tests green: they read their own fixtures, and the shipped-examples test takes the user's files", async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => key !== STACK_DIR_ENV && !key.startsWith("VITEST"),
      ),
    );
    const tests = await run(
      process.execPath,
      [
        join(clone, "node_modules", "vitest", "vitest.mjs"),
        "run",
        // Every test's name, not only the slow ones': the one asserted below may be quick.
        "--reporter=verbose",
        "--reporter=./test/support/summaryReporter.ts",
        ...SLICE,
      ],
      clone,
      env,
    );
    expect(tests.output).toMatch(/tests: \d+ passed, 0 failed/);
    expect(tests.output).toContain("Pulumi.example.yaml: the program declares");
    expect(tests.code, tests.output).toBe(0);
  }, 300_000);
});

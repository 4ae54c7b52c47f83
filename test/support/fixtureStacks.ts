import { copyFileSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT, STACK_DIR_ENV } from "../../infra/config/stackFiles";

/**
 * The tests' own stack files, copies of the examples the project first shipped. vitest.config.ts
 * points VOICE_EDGE_STACK_DIR here for every test; the project's own Pulumi.<stack>.yaml files are
 * a user's to change, and only the test of the shipped examples reads them.
 */
export const FIXTURE_STACK_DIR = join(PROJECT_ROOT, "test", "fixtures", "stacks");

/** The environment a command started with a clean environment needs to read `stackDir`. */
export const stackDirEnv = (stackDir = FIXTURE_STACK_DIR): Record<string, string> => ({
  [STACK_DIR_ENV]: stackDir,
});

/** A fresh temporary stack directory holding copies of the fixture stack files, for a test to change. */
export function copyOfFixtureStacks(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const name of readdirSync(FIXTURE_STACK_DIR))
    copyFileSync(join(FIXTURE_STACK_DIR, name), join(dir, name));
  return dir;
}

import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * The tests' own stack files (test/support/fixtureStacks.ts names the same folder). Through
 * VOICE_EDGE_STACK_DIR every test, and every command a test starts, reads them instead of the
 * project's Pulumi.<stack>.yaml: those are examples for a user to change.
 */
const FIXTURE_STACK_DIR = fileURLToPath(new URL("./test/fixtures/stacks", import.meta.url));

export default defineConfig({
  test: {
    include: [
      "worker/test/**/*.test.ts",
      "kit/**/*.test.ts",
      "tools/**/*.test.ts",
      "bench/**/*.test.ts",
      "soak/**/*.test.ts",
      "infra/**/*.test.ts",
      "policy/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    env: { VOICE_EDGE_STACK_DIR: FIXTURE_STACK_DIR },
    globalSetup: ["test/support/buildOnce.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    reporters: ["default", "./test/support/summaryReporter.ts"],
  },
});

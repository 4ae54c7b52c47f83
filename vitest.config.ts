import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "worker/test/**/*.test.ts",
      "tools/**/*.test.ts",
      "bench/**/*.test.ts",
      "soak/**/*.test.ts",
      "infra/**/*.test.ts",
      "policy/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    globalSetup: ["test/support/buildOnce.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    reporters: ["default", "./test/support/summaryReporter.ts"],
  },
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { STACK_DIR_ENV, stackDirectory } from "../infra/config/stackFiles";
import { decodeJwt } from "jose";
import { UsageError } from "./lib/cli";
import { run } from "./token";

const VAR = "VOICE_EDGE_TOKEN_TEST_SECRET";

afterEach(() => {
  delete process.env[VAR];
  vi.restoreAllMocks();
});

describe("npm run token -- --secret-env", () => {
  it("refuses a secret the edge would refuse (under 32 characters), without echoing it", async () => {
    process.env[VAR] = "abc";
    const refusal = run(["--secret-env", VAR]);
    await expect(refusal).rejects.toBeInstanceOf(UsageError);
    await expect(run(["--secret-env", VAR])).rejects.toThrow(
      `--secret-env ${VAR}: the secret there must be at least 32 characters, as the edge's JWT_SECRET must be`,
    );
    await expect(run(["--secret-env", VAR])).rejects.not.toThrow(/abc/);
  });

  it("signs with a secret the edge accepts", async () => {
    process.env[VAR] = "smoke-secret-0123456789-abcdefghij";
    const printed: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
    expect(await run(["--secret-env", VAR, "--sub", "ci-smoke"])).toBe(0);
    expect(printed).toHaveLength(1);
    expect(decodeJwt(printed[0]).sub).toBe("ci-smoke");
  });
});

describe("npm run token -- --ttl", () => {
  it("refuses a lifetime beyond the stack's maxTokenLifetimeSeconds, which the edge would refuse", async () => {
    const dir = mkdtempSync(join(tmpdir(), "voice-edge-token-cap-"));
    const before = process.env[STACK_DIR_ENV];
    try {
      const staging = readFileSync(join(stackDirectory(), "Pulumi.staging.yaml"), "utf8");
      const capped = staging.replace(
        /^( *)(algorithms:.*\n)/m,
        "$1$2$1maxTokenLifetimeSeconds: 600\n",
      );
      expect(capped).toContain("maxTokenLifetimeSeconds: 600");
      writeFileSync(join(dir, "Pulumi.staging.yaml"), capped);
      process.env[STACK_DIR_ENV] = dir;
      await expect(run(["--ttl", "1h"])).rejects.toThrow(
        `--ttl 1h is longer than stack "staging"'s edge.auth.maxTokenLifetimeSeconds (600 s): the edge would refuse the token`,
      );
      const printed: string[] = [];
      vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
      expect(await run(["--ttl", "10m"])).toBe(0);
      const claims = decodeJwt(printed[0]);
      expect(claims.exp! - claims.iat!).toBe(600);
    } finally {
      if (before === undefined) delete process.env[STACK_DIR_ENV];
      else process.env[STACK_DIR_ENV] = before;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { afterEach, describe, expect, it, vi } from "vitest";
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

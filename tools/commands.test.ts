import { rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { copyOfFixtureStacks, stackDirEnv } from "../test/support/fixtureStacks";
import { freePort } from "../test/support/freePort";
import { npmRun, type CommandRun } from "../test/support/runCommand";
import { UsageError } from "./lib/cli";
import { run as policyConfig } from "./policyConfig";
import { run as token } from "./token";

/** Every command and every option its --help must list. */
const COMMANDS: [string, string[]][] = [
  ["plan", ["--stack", "--json"]],
  ["dev", ["--stack", "--port", "--allow-origin"]],
  [
    "smoke",
    ["--url", "--token", "--no-token", "--origin", "--protocol", "--no-handshake", "--timeout-ms"],
  ],
  ["token", ["--stack", "--sub", "--ttl", "--aud", "--iss", "--secret-env"]],
  [
    "bridge",
    [
      "--mode",
      "--port",
      "--host",
      "--voices",
      "--prompt-delay-ms",
      "--static",
      "--protocols",
      "--tls",
      "--cert",
      "--key",
    ],
  ],
  [
    "guard",
    [
      "--upstream",
      "--port",
      "--capacity",
      "--retry-after",
      "--upstream-ca",
      "--upstream-insecure",
      "--voices",
      "--drain",
      "--ready",
      "--socket",
      "--print-config",
      "--stack",
      "--bridge",
    ],
  ],
  ["policy-config", ["--stack"]],
  ["preflight", ["--stack", "--json", "--tunnel-id", "--carry-rules", "--timeout-ms"]],
  ["bench", ["--quick"]],
  ["format", ["--check"]],
  [
    "soak",
    [
      "--sessions",
      "--seconds",
      "--reference-seconds",
      "--cycles",
      "--bad-tokens",
      "--out",
      "--no-write",
      "--max-minutes",
    ],
  ],
];

const NOT_A_JWT =
  "is not a JWT (it contains spaces or line breaks): use npm run --silent token (without --silent, npm prints its own lines into the token)";

function expectNoStackTrace(run: CommandRun): void {
  expect(`${run.stdout}${run.stderr}`).not.toMatch(/^ {4}at /m);
}

function firstLine(run: CommandRun): string {
  return run.stderr.split("\n")[0];
}

/** Holds a loopback port, as another program would. */
async function holdPort(): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { port, server };
}

describe.concurrent("every command's usage", () => {
  it.each(COMMANDS)(
    "%s: an unknown flag is one line naming it, then the usage (exit 2)",
    async (command) => {
      const run = await npmRun(command, ["--bogus"]);
      expect(firstLine(run)).toBe(`${command}: Unknown option '--bogus'`);
      expect(run.stderr.split("\n")[1]).toMatch(
        new RegExp(`^usage: npm run (--silent )?${command} --`),
      );
      expect(run.stdout).toBe("");
      expectNoStackTrace(run);
      expect(run.code).toBe(2);
    },
  );

  it.each(COMMANDS)(
    "%s: --help prints every option on stdout (exit 0)",
    async (command, options) => {
      const run = await npmRun(command, ["--help"]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^usage: /);
      for (const option of [...options, "-h, --help"])
        expect(run.stdout).toMatch(new RegExp(`^ {2}${option}\\b`, "m"));
      expect(run.stderr).toBe("");
    },
  );

  it("names an option npm kept for itself when the -- was forgotten", async () => {
    const run = await npmRun("plan", ["--stack", "prod"], { separator: false });
    expect(firstLine(run)).toBe(
      "plan: --stack went to npm, not to plan: put the options after --, as in npm run plan -- --stack <name>",
    );
    expect(run.code).toBe(2);
  });
});

describe.concurrent("npm run token --ttl", () => {
  it("accepts days, up to 7", async () => {
    const run = await npmRun("token", ["--ttl", "7d"]);
    expect(run.code, run.stderr).toBe(0);
    const claims = JSON.parse(Buffer.from(run.stdout.trim().split(".")[1], "base64url").toString());
    expect(claims.exp - claims.iat).toBe(7 * 24 * 3600);
  });

  it("refuses 8d in one line with the usage (exit 2)", async () => {
    const run = await npmRun("token", ["--ttl", "8d"]);
    expect(firstLine(run)).toBe(
      'token: --ttl "8d" is not a lifetime from 1 s to 7 days: use seconds or a number with s, m, h or d (e.g. 90, 10m, 1h, 7d)',
    );
    expect(run.stdout).toBe("");
    expect(run.code).toBe(2);
  });
});

describe.concurrent("npm run smoke with a token that is not a JWT", () => {
  const url = "ws://127.0.0.1:9/voice/ws";

  it("names --token holding npm's banner lines, with the fix (exit 2)", async () => {
    const run = await npmRun("smoke", [
      "--url",
      url,
      "--token",
      "\n> voice-edge@0.1.0 token\n> tsx tools/token.ts\n\neyJhbGciOiJIUzI1NiJ9.e30.c2ln",
    ]);
    expect(firstLine(run)).toBe(`smoke: --token ${NOT_A_JWT}`);
    expectNoStackTrace(run);
    expect(run.code).toBe(2);
  });

  it("names VOICE_EDGE_TOKEN with spaces in it (exit 2)", async () => {
    const run = await npmRun("smoke", ["--url", url], {
      env: { VOICE_EDGE_TOKEN: "eyJhbGciOiJIUzI1NiJ9.e30.c2ln trailing" },
    });
    expect(firstLine(run)).toBe(`smoke: VOICE_EDGE_TOKEN ${NOT_A_JWT}`);
    expect(run.code).toBe(2);
  });
});

describe.concurrent("a busy port", () => {
  it("is one line from npm run bridge (exit 1)", async () => {
    const { port, server } = await holdPort();
    try {
      const run = await npmRun("bridge", ["--port", String(port)]);
      expect(run.stderr).toBe(
        `bridge: port ${port} is in use: stop what holds it or pass --port\n`,
      );
      expect(run.code).toBe(1);
    } finally {
      server.close();
    }
  });

  it("is the only line from npm run dev: no workerd dump (exit 1)", async () => {
    const { port, server } = await holdPort();
    try {
      const run = await npmRun("dev", ["--port", String(port)]);
      expect(run.stderr).toBe(`dev: port ${port} is in use: stop what holds it or pass --port\n`);
      expect(run.stdout).toBe("");
      expect(run.code).toBe(1);
    } finally {
      server.close();
    }
  });
});

describe("npm run policy-config beside stack files that are invalid", () => {
  // The fixture stack files with two broken ones added, in a stack directory of their own.
  let stackDir: string;

  beforeAll(() => {
    stackDir = copyOfFixtureStacks("voice-edge-policy-config-");
    writeFileSync(join(stackDir, "Pulumi.qa.yaml"), "config:\n  voice-edge:zone: 12\n");
    writeFileSync(join(stackDir, "Pulumi.broken.yaml"), "config: [\n");
  });

  afterAll(() => rmSync(stackDir, { recursive: true, force: true }));

  it("prints a valid stack's config as it does without them", async () => {
    const [beside, alone] = await Promise.all([
      npmRun("policy-config", ["--stack", "staging"], { env: stackDirEnv(stackDir) }),
      npmRun("policy-config", ["--stack", "staging"]),
    ]);
    expect(beside.code, beside.stderr).toBe(0);
    expect(beside.stdout).toBe(alone.stdout);
    expect(JSON.parse(beside.stdout)["worker-routes-rate-limited"].coveredElsewhere).toEqual([
      "voice-staging.mycosoft.com/voice/*",
    ]);
  });

  it("names what is wrong with its own invalid stack file in one line (exit 2, as every command)", async () => {
    const run = await npmRun("policy-config", ["--stack", "qa"], { env: stackDirEnv(stackDir) });
    expect(run.stderr).toMatch(
      /^policy-config: Invalid configuration for stack "qa" \(Pulumi\.qa\.yaml\): voice-edge:accountId: [^\n]*; voice-edge:zone: [^\n]*\n$/,
    );
    expect(run.stdout).toBe("");
    expect(run.code).toBe(2);
  });
});

describe("a command imported as a module", () => {
  it("runs with the arguments it is given and returns its exit code", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      expect(policyConfig(["--stack", "staging"])).toBe(0);
      expect(
        JSON.parse(String(log.mock.calls[0][0]))["worker-routes-rate-limited"].coveredElsewhere,
      ).toEqual(["voice-staging.mycosoft.com/voice/*"]);
    } finally {
      log.mockRestore();
    }
  });

  it("throws a UsageError for a mistake instead of exiting the process", async () => {
    expect(() => policyConfig(["--bogus"])).toThrow(UsageError);
    await expect(token(["--ttl", "8d"])).rejects.toThrow(
      new UsageError(
        '--ttl "8d" is not a lifetime from 1 s to 7 days: use seconds or a number with s, m, h or d (e.g. 90, 10m, 1h, 7d)',
      ),
    );
  });
});

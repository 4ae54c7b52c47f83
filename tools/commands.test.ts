import { rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { copyOfFixtureStacks, stackDirEnv } from "../test/support/fixtureStacks";
import { freePort } from "../test/support/freePort";
import { npmRun, type CommandRun } from "../test/support/runCommand";
import { runInProcess } from "../test/support/runInProcess";
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
  ["stats", ["--stack", "--since", "--json", "--svg", "--target-wait", "--target-turned-away"]],
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

function expectUnknownFlagRefused(command: string, run: CommandRun): void {
  expect(firstLine(run)).toBe(`${command}: Unknown option '--bogus'`);
  expect(run.stderr.split("\n")[1]).toMatch(
    new RegExp(`^usage: npm run (--silent )?${command} --`),
  );
  expect(run.stdout).toBe("");
  expectNoStackTrace(run);
  expect(run.code).toBe(2);
}

function expectHelpPrinted(options: string[], run: CommandRun): void {
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/^usage: /);
  for (const option of [...options, "-h, --help"])
    expect(run.stdout).toMatch(new RegExp(`^ {2}${option}\\b`, "m"));
  expect(run.stderr).toBe("");
}

/**
 * bench/run.ts and soak/soak.ts parse their arguments as soon as they are imported and exit the
 * process themselves (they have no `run(args)`): they run as processes, every other command in
 * this one.
 */
const SELF_EXITING = new Set(["bench", "soak"]);

describe("every command's usage", () => {
  const inProcess = COMMANDS.filter(([command]) => !SELF_EXITING.has(command));

  it.each(inProcess)(
    "%s: an unknown flag is one line naming it, then the usage (exit 2)",
    async (command) => expectUnknownFlagRefused(command, await runInProcess(command, ["--bogus"])),
  );

  it.each(inProcess)(
    "%s: --help prints every option on stdout (exit 0)",
    async (command, options) => expectHelpPrinted(options, await runInProcess(command, ["--help"])),
  );
});

/**
 * What only a process shows: a command that exits itself, main() (tools/lib/cli.ts) printing and
 * exiting for a command npm runs, and npm's own handling of the arguments. One case for each way
 * such a process ends.
 */
describe.concurrent("a command as a process", () => {
  const selfExiting = COMMANDS.filter(([command]) => SELF_EXITING.has(command));

  it.each(selfExiting)(
    "%s: an unknown flag is one line naming it, then the usage (exit 2)",
    async (command) => expectUnknownFlagRefused(command, await npmRun(command, ["--bogus"])),
  );

  it.each(selfExiting)(
    "%s: --help prints every option on stdout (exit 0)",
    async (command, options) => expectHelpPrinted(options, await npmRun(command, ["--help"])),
  );

  it("names an option npm kept for itself when the -- was forgotten: one line and the usage (exit 2)", async () => {
    const run = await npmRun("plan", ["--stack", "prod"], { separator: false });
    expect(firstLine(run)).toBe(
      "plan: --stack went to npm, not to plan: put the options after --, as in npm run plan -- --stack <name>",
    );
    expect(run.stderr.split("\n")[1]).toMatch(/^usage: npm run plan --/);
    expect(run.stdout).toBe("");
    expectNoStackTrace(run);
    expect(run.code).toBe(2);
  });

  it("prints the usage on stdout for --help (exit 0), as the run in this process does", async () => {
    const run = await npmRun("token", ["--help"]);
    expect(run.stdout).toMatch(/^usage: npm run --silent token --/);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(await runInProcess("token", ["--help"])).toEqual(run);
  });

  it("exits with the code run() returns, after what it printed, as the run in this process does", async () => {
    const env = { CLOUDFLARE_API_TOKEN: "" };
    const run = await npmRun("preflight", ["--stack", "prod"], { env });
    expect(run.stdout).toMatch(/^problem {2}ids: /m);
    expect(run.stdout).toMatch(/^problem {2}token: CLOUDFLARE_API_TOKEN is not set/m);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    expect(await runInProcess("preflight", ["--stack", "prod"], { env })).toEqual(run);
  });

  it("is the only line from npm run dev on a busy port: no workerd dump (exit 1)", async () => {
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

  it("is the only line from npm run dev when the demo page's port is busy (exit 1)", async () => {
    const { port, server } = await holdPort();
    try {
      const run = await npmRun("dev", [
        "--port",
        String(await freePort()),
        "--demo-port",
        String(port),
      ]);
      expect(run.stderr).toBe(
        `dev: port ${port} (the demo page) is in use: stop what holds it or pass --demo-port\n`,
      );
      expect(run.stdout).toBe("");
      expect(run.code).toBe(1);
    } finally {
      server.close();
    }
  });
});

describe("npm run token --ttl", () => {
  it("accepts days, up to 7", async () => {
    const run = await runInProcess("token", ["--ttl", "7d"]);
    expect(run.code, run.stderr).toBe(0);
    const claims = JSON.parse(Buffer.from(run.stdout.trim().split(".")[1], "base64url").toString());
    expect(claims.exp - claims.iat).toBe(7 * 24 * 3600);
  });

  it("refuses 8d in one line with the usage (exit 2)", async () => {
    const run = await runInProcess("token", ["--ttl", "8d"]);
    expect(firstLine(run)).toBe(
      'token: --ttl "8d" is not a lifetime from 1 s to 7 days: use seconds or a number with s, m, h or d (e.g. 90, 10m, 1h, 7d)',
    );
    expect(run.stdout).toBe("");
    expect(run.code).toBe(2);
  });
});

describe("npm run smoke with a token that is not a JWT", () => {
  const url = "ws://127.0.0.1:9/voice/ws";

  it("names --token holding npm's banner lines, with the fix (exit 2)", async () => {
    const run = await runInProcess("smoke", [
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
    const run = await runInProcess("smoke", ["--url", url], {
      env: { VOICE_EDGE_TOKEN: "eyJhbGciOiJIUzI1NiJ9.e30.c2ln trailing" },
    });
    expect(firstLine(run)).toBe(`smoke: VOICE_EDGE_TOKEN ${NOT_A_JWT}`);
    expect(run.code).toBe(2);
  });
});

describe("a busy port", () => {
  it("is one line from npm run bridge (exit 1)", async () => {
    const { port, server } = await holdPort();
    try {
      const run = await runInProcess("bridge", ["--port", String(port)]);
      expect(run.stderr).toBe(
        `bridge: port ${port} is in use: stop what holds it or pass --port\n`,
      );
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
    const beside = await runInProcess("policy-config", ["--stack", "staging"], {
      env: stackDirEnv(stackDir),
    });
    const alone = await runInProcess("policy-config", ["--stack", "staging"]);
    expect(beside.code, beside.stderr).toBe(0);
    expect(beside.stdout).toBe(alone.stdout);
    expect(JSON.parse(beside.stdout)["worker-routes-rate-limited"].coveredElsewhere).toEqual([
      "voice-staging.mycosoft.com/voice/*",
    ]);
  });

  it("names what is wrong with its own invalid stack file in one line (exit 2, as every command)", async () => {
    const run = await runInProcess("policy-config", ["--stack", "qa"], {
      env: stackDirEnv(stackDir),
    });
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

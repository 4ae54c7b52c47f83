import { describe, expect, it, vi } from "vitest";
import { StackConfigError } from "../../infra/config/errors";
import {
  CommandFailure,
  defineCommand,
  definedCommand,
  HelpRequested,
  oneLine,
  settle,
  UsageError,
} from "./cli";

describe("oneLine", () => {
  it.each([
    ["port 8999 is in use", "port 8999 is in use"],
    [
      'Invalid configuration for stack "qa" (Pulumi.qa.yaml):\n  - voice-edge:zone: expected object\n  - voice-edge:tunnel: missing',
      'Invalid configuration for stack "qa" (Pulumi.qa.yaml): voice-edge:zone: expected object; voice-edge:tunnel: missing',
    ],
    ["first\nsecond", "first: second"],
  ])("turns %j into one line", (message, line) => {
    expect(oneLine(message)).toBe(line);
  });
});

describe("a command's usage", () => {
  const cli = defineCommand({
    name: "example",
    options: {
      stack: { type: "string", value: "<name>", required: true, description: "the stack" },
      port: { type: "string", value: "<port>", default: "8787", description: "the port" },
      origin: { type: "string", value: "<origin>", multiple: true, description: "an origin" },
      json: { type: "boolean", description: "JSON out" },
    },
    notes: ["exit: 2 a usage mistake"],
  });

  it("lists every option on its own line with its default, required ones unbracketed", () => {
    expect(cli.usage).toBe(
      [
        "usage: npm run example -- --stack <name> [--port <port>] [--origin <origin> ...] [--json]",
        "  --stack <name>     the stack; required",
        "  --port <port>      the port (default: 8787)",
        "  --origin <origin>  an origin",
        "  --json             JSON out",
        "  -h, --help         print this text",
        "exit: 2 a usage mistake",
      ].join("\n"),
    );
  });

  it("parses values with their defaults: false for flags, [] for repeatable options", () => {
    expect(cli.parse(["--stack", "prod", "--origin", "http://a", "--origin", "http://b"])).toEqual({
      stack: "prod",
      port: "8787",
      origin: ["http://a", "http://b"],
      json: false,
    });
  });

  it("throws a UsageError naming a mistake in arguments it was given, and exits nothing", () => {
    expect(() => cli.parse(["--stack", "prod", "--bogus"])).toThrow(
      new UsageError("Unknown option '--bogus'"),
    );
    expect(() => cli.parse([])).toThrow(new UsageError("--stack is required"));
  });

  it("throws HelpRequested carrying the usage for --help in arguments it was given", () => {
    let thrown: unknown;
    try {
      cli.parse(["--help"]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HelpRequested);
    expect((thrown as HelpRequested).usage).toBe(cli.usage);
  });
});

describe("how a run ends (what main prints and exits with)", () => {
  const cli = defineCommand({ name: "ending", options: {} });
  const thrower = (error: unknown) => () => {
    throw error;
  };

  it.each([
    ["--help", 0, new HelpRequested(cli.usage), "stdout", cli.usage],
    [
      "a usage mistake",
      2,
      new UsageError("--x is wrong"),
      "stderr",
      `ending: --x is wrong\n${cli.usage}`,
    ],
    [
      "an invalid stack file",
      2,
      new StackConfigError("qa", "Pulumi.qa.yaml", ["voice-edge:zone: expected object"]),
      "stderr",
      'ending: Invalid configuration for stack "qa" (Pulumi.qa.yaml): voice-edge:zone: expected object',
    ],
    [
      "a failure with its own code",
      3,
      new CommandFailure("no answer", 3),
      "stderr",
      "ending: no answer",
    ],
    ["any other error", 1, new Error("first\nsecond"), "stderr", "ending: first: second"],
  ])("%s: exit %i, and its text", async (_case, exitCode, error, stream, text) => {
    expect(await settle(cli, thrower(error), [])).toEqual({ exitCode, output: { stream, text } });
  });

  it("takes the exit code run returns, or none from a run that leaves a server running", async () => {
    expect(await settle(cli, async () => 1, [])).toEqual({ exitCode: 1 });
    expect(await settle(cli, () => undefined, [])).toEqual({ exitCode: undefined });
  });

  it("puts the stack before the line with VOICE_EDGE_DEBUG set", async () => {
    vi.stubEnv("VOICE_EDGE_DEBUG", "1");
    try {
      const ending = await settle(cli, thrower(new Error("boom")), []);
      expect(ending.exitCode).toBe(1);
      expect(ending.output?.text).toMatch(/^Error: boom\n {4}at [^]*\nending: boom$/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("keeps each command it defined by name", () => {
    expect(definedCommand("ending")).toBe(cli);
  });
});

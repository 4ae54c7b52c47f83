import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { StackConfigError } from "../../infra/config/errors";

/**
 * The developer commands' shared front door. A user mistake is one line `<command>: <what is
 * wrong>` and the usage on stderr, exit 2; `--help` (or `-h`) is the usage on stdout, exit 0; a
 * failure at run time is one line, exit 1. Never a stack trace (VOICE_EDGE_DEBUG=1 shows them).
 *
 * A command's module exports `run(args)`, which throws UsageError or CommandFailure and returns its
 * exit code, and ends with `if (isEntryPoint(import.meta.url)) void main(command, run);`: importing
 * it starts nothing, and a test or another program can call `run` with arguments of its own.
 */

export interface Option {
  type: "string" | "boolean";
  /** One line for --help. */
  description: string;
  /** The value's placeholder in the usage, e.g. `<name>`; string options only. */
  value?: string;
  default?: string;
  /** How --help states the default when it is not just `default` (e.g. taken from an environment variable). */
  defaultText?: string;
  /** Parsing fails with `--x is required` when it is missing. */
  required?: boolean;
  /** Repeatable; the values in order (none: []). */
  multiple?: boolean;
}

export type Options = Record<string, Option>;

export type Values<O extends Options> = {
  -readonly [K in keyof O]: O[K] extends { multiple: true }
    ? string[]
    : O[K] extends { type: "boolean" }
      ? boolean
      : O[K] extends { default: string } | { required: true }
        ? string
        : string | undefined;
};

export interface CommandSpec<O extends Options> {
  /** The npm script's name: the prefix of every line the command prints on stderr. */
  name: string;
  /** How the command is invoked, before its options; defaults to `npm run <name> --`. */
  invocation?: string;
  options: O;
  /** Lines after the options: environment variables, exit codes. */
  notes?: string[];
}

/** A mistake in how the command was called: one line and the usage, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure at run time the user can act on: one line, exit 1 (or `exitCode`). */
export class CommandFailure extends Error {
  override name = "CommandFailure";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** `--help` in arguments given to `parse(argv)`: the caller prints `usage` on stdout, exit 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
  constructor(readonly usage: string) {
    super("help requested");
  }
}

export interface Command<O extends Options> {
  readonly name: string;
  readonly usage: string;
  /**
   * Parses `argv`: throws UsageError naming a mistake, HelpRequested on --help (what `main` turns
   * into exit 2 and exit 0). Without `argv`, parses this process's own arguments and exits itself:
   * the usage and 0 on --help, one line and the usage and 2 on a mistake; every error nobody
   * catches from then on is one line and exit 1.
   */
  parse(argv?: string[]): Values<O>;
  usageError(message: string): never;
  fail(message: string, exitCode?: number): never;
  /** Prints `error` as this command's one line (with the usage for a UsageError) and exits 2, 1 or its `exitCode`. */
  report(error: unknown): never;
}

const HELP: Option = { type: "boolean", description: "print this text" };

function optionLabel(name: string, option: Option): string {
  const flag = name === "help" ? "-h, --help" : `--${name}`;
  return option.type === "string" ? `${flag} ${option.value ?? "<value>"}` : flag;
}

/** The first sentence of an error message: node's parse errors go on with advice about `--` that does not fit here. */
function firstSentence(message: string): string {
  return message.split(/\.(?:\s|$)/)[0];
}

/** A message as one line: `Invalid … (file):\n  - a\n  - b` becomes `Invalid … (file): a; b`. */
export function oneLine(message: string): string {
  const [head, ...items] = message
    .trim()
    .split("\n")
    .map((line) => line.trim().replace(/^- /, ""));
  return items.length === 0
    ? head
    : `${head}${head.endsWith(":") ? " " : ": "}${items.filter(Boolean).join("; ")}`;
}

const debug = () => Boolean(process.env.VOICE_EDGE_DEBUG);

export function defineCommand<const O extends Options>(spec: CommandSpec<O>): Command<O> {
  const { name } = spec;
  const invocation = spec.invocation ?? `npm run ${name} --`;
  const all: Options = { ...spec.options, help: HELP };
  const synopsis = Object.entries(spec.options)
    .map(([key, option]) => {
      const label = optionLabel(key, option) + (option.multiple ? " ..." : "");
      return option.required ? label : `[${label}]`;
    })
    .join(" ");
  const labels = Object.entries(all).map(([key, option]) => optionLabel(key, option));
  const width = Math.max(...labels.map((label) => label.length)) + 2;
  const lines = Object.entries(all).map(([key, option], i) => {
    const stated = option.defaultText ?? option.default;
    const suffix = option.required
      ? "; required"
      : stated !== undefined && stated !== ""
        ? ` (default: ${stated})`
        : "";
    return `  ${labels[i].padEnd(width)}${option.description}${suffix}`;
  });
  const usage = [`usage: ${invocation} ${synopsis}`, ...lines, ...(spec.notes ?? [])].join("\n");

  const self = { name, usage };
  const usageError = (message: string): never => exit(usageEnding(self, message));
  const fail = (message: string, exitCode = 1): never =>
    exit(failureEnding(self, message, exitCode));
  const report = (error: unknown): never => exit(endingOf(self, error));

  const defined: Command<O> = {
    name,
    usage,
    usageError,
    fail,
    report,
    parse(argv) {
      if (argv !== undefined) return parseArguments(argv);
      process.on("uncaughtException", report);
      process.on("unhandledRejection", report);
      try {
        return parseArguments(process.argv.slice(2));
      } catch (error) {
        return report(error);
      }
    },
  };
  commands.set(name, defined as unknown as Command<Options>);
  return defined;

  function parseArguments(argv: string[]): Values<O> {
    let values: Record<string, unknown>;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: Object.fromEntries(
          Object.entries(all).map(([key, option]) => [
            key,
            {
              type: option.type,
              multiple: Boolean(option.multiple),
              ...(key === "help" ? { short: "h" } : {}),
            },
          ]),
        ),
        strict: true,
        allowPositionals: false,
      }));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      if (!code.startsWith("ERR_PARSE_ARGS_")) throw error;
      throw new UsageError(eatenByNpm({}) ?? firstSentence((error as Error).message));
    }
    if (values.help) throw new HelpRequested(usage);
    const eaten = eatenByNpm(values);
    if (eaten) throw new UsageError(eaten);
    const parsed: Record<string, unknown> = {};
    for (const [key, option] of Object.entries(spec.options)) {
      const value = values[key];
      if (option.multiple) parsed[key] = value ?? [];
      else if (option.type === "boolean") parsed[key] = value ?? false;
      else parsed[key] = value ?? option.default;
      if (option.required && parsed[key] === undefined)
        throw new UsageError(`--${key} is required`);
    }
    return parsed as Values<O>;
  }

  /** `npm run x --stack prod` (no `--`): npm keeps --stack as its own config (npm_config_stack) and passes on `prod`. */
  function eatenByNpm(values: Record<string, unknown>): string | undefined {
    const eaten = Object.keys(spec.options).find(
      (key) =>
        values[key] === undefined &&
        process.env[`npm_config_${key.replace(/-/g, "_")}`] !== undefined,
    );
    if (eaten === undefined) return undefined;
    return `--${eaten} went to npm, not to ${name}: put the options after --, as in ${invocation} ${optionLabel(eaten, spec.options[eaten])}`;
  }
}

/** Whether the module at `moduleUrl` (its `import.meta.url`) is the script this process was started with. */
export function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

/** A command's `run`: its exit code, or nothing when it leaves what it started running. */
export type Run = (args: string[]) => Promise<number | void> | number | void;

/** How a run that threw ends: its exit code, and the text it is told with on stdout or stderr. */
export interface Thrown {
  exitCode: number;
  output: { stream: "stdout" | "stderr"; text: string };
}

/** How a run of a command ended: the exit code `run` returned (undefined: it leaves what it started running), or what it threw. */
export type Ending = { exitCode: number | undefined; output?: undefined } | Thrown;

type Named = Pick<Command<Options>, "name" | "usage">;

function usageEnding(command: Named, message: string): Thrown {
  return {
    exitCode: 2,
    output: { stream: "stderr", text: `${command.name}: ${message}\n${command.usage}` },
  };
}

function failureEnding(command: Named, message: string, exitCode: number): Thrown {
  return { exitCode, output: { stream: "stderr", text: `${command.name}: ${oneLine(message)}` } };
}

function errorEnding(command: Named, error: unknown): Thrown {
  if (error instanceof UsageError) return usageEnding(command, error.message);
  // A stack file that does not parse or validate is bad input like a bad flag: exit 2, every command alike.
  if (error instanceof StackConfigError) return failureEnding(command, error.message, 2);
  const message = error instanceof Error ? error.message : String(error);
  return failureEnding(command, message, error instanceof CommandFailure ? error.exitCode : 1);
}

/** What an error thrown by a command's `run` (or its parse) ends the process with. */
export function endingOf(command: Named, error: unknown): Thrown {
  if (error instanceof HelpRequested)
    return { exitCode: 0, output: { stream: "stdout", text: command.usage } };
  const ending = errorEnding(command, error);
  if (!debug() || !(error instanceof Error)) return ending;
  return { ...ending, output: { stream: "stderr", text: `${error.stack}\n${ending.output.text}` } };
}

/** Prints an ending's text as console.log or console.error would, and ends the process with its code. */
function exit(ending: Thrown): never {
  if (ending.output.stream === "stdout") console.log(ending.output.text);
  else console.error(ending.output.text);
  process.exit(ending.exitCode);
}

/**
 * Runs `run` with `args` and says how it ended: what `main` does with a command, short of printing
 * and exiting. The tests' in-process harness (test/support/runInProcess.ts) calls it too.
 */
export async function settle(command: Named, run: Run, args: string[]): Promise<Ending> {
  try {
    return { exitCode: (await run(args)) ?? undefined };
  } catch (error) {
    return endingOf(command, error);
  }
}

const commands = new Map<string, Command<Options>>();

/** The command `defineCommand` made with this name in this process (a harness maps its run's errors with it). */
export function definedCommand(name: string): Command<Options> | undefined {
  return commands.get(name);
}

/**
 * Runs `run` as this process's own command, with this process's arguments: every error nobody
 * catches becomes the command's one line (the usage too for a UsageError), exit 1 or 2; the exit
 * code `run` returns becomes the process's. A `run` that returns nothing leaves the process to
 * what it started (a server runs on).
 */
export async function main(
  command: Pick<Command<Options>, "name" | "usage" | "report">,
  run: Run,
): Promise<void> {
  process.on("uncaughtException", command.report);
  process.on("unhandledRejection", command.report);
  const ending = await settle(command, run, process.argv.slice(2));
  if (ending.output) exit(ending);
  if (ending.exitCode !== undefined) process.exitCode = ending.exitCode;
}

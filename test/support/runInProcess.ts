import { readFileSync } from "node:fs";
import { join } from "node:path";
import { format } from "node:util";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";
import { definedCommand, settle, type Run } from "../../tools/lib/cli";
import type { CommandRun } from "./runCommand";

const scripts = (
  JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  }
).scripts;

/** The module `npm run <script>` starts (`tsx tools/<command>.ts`), with its `run`. */
async function commandModule(script: string): Promise<{ run: Run }> {
  const file = scripts[script]?.match(/^tsx (tools\/\S+\.ts)$/)?.[1];
  if (!file) throw new Error(`npm script ${script} does not run a tools/<command>.ts`);
  const module = (await import(join(PROJECT_ROOT, file))) as { run?: Run };
  if (typeof module.run !== "function") throw new Error(`${file} exports no run(args)`);
  return { run: module.run };
}

const CONSOLE_STREAMS = {
  log: "stdout",
  info: "stdout",
  debug: "stdout",
  error: "stderr",
  warn: "stderr",
} as const;

/** The run in progress (or done): the next waits for it. */
let turn: Promise<unknown> = Promise.resolve();

/**
 * `npm run --silent <script> -- <args>` without a process: the command's `run(args)` in this one,
 * ended the way `main` (tools/lib/cli.ts) ends it — the same `settle` — with what it printed on
 * stdout and stderr and the exit code the process would have. `env` is set for the run (undefined
 * removes a variable) and put back after it; the process's listeners (signal handlers) the command
 * added are removed. Runs take turns: the environment and the console are this process's. A
 * command's module is loaded once, before the first run's `env` is set: what it reads when it is
 * loaded (the defaults its usage states, e.g. dev's $PORT) comes from this process's environment. A
 * command that returns without an exit code leaves something running, which only a process can
 * show: it is refused here.
 */
export function runInProcess(
  script: string,
  args: string[],
  options: { env?: Record<string, string | undefined> } = {},
): Promise<CommandRun> {
  const run = turn.then(() => runAlone(script, args, options.env ?? {}));
  turn = run.catch(() => undefined);
  return run;
}

async function runAlone(
  script: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<CommandRun> {
  const { run } = await commandModule(script);
  const command = definedCommand(script);
  if (!command) throw new Error(`npm run ${script} defines no command named ${script}`);

  const output = { stdout: "", stderr: "" };
  const saved = {
    env: Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]])),
    console: Object.fromEntries(
      Object.keys(CONSOLE_STREAMS).map((method) => [
        method,
        console[method as keyof typeof CONSOLE_STREAMS],
      ]),
    ),
    stdoutWrite: process.stdout.write,
    stderrWrite: process.stderr.write,
    listeners: new Map(
      process.eventNames().map((event) => [event, process.listeners(event as "exit")]),
    ),
  };
  const setEnv = (env: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  const capture =
    (stream: "stdout" | "stderr") =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      output[stream] += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
      const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
      callback?.();
      return true;
    };

  try {
    setEnv(env);
    for (const [method, stream] of Object.entries(CONSOLE_STREAMS))
      console[method as keyof typeof CONSOLE_STREAMS] = (...values: unknown[]) =>
        void (output[stream] += `${format(...values)}\n`);
    process.stdout.write = capture("stdout") as typeof process.stdout.write;
    process.stderr.write = capture("stderr") as typeof process.stderr.write;

    const ending = await settle(command, run, args);
    if (ending.output) output[ending.output.stream] += `${ending.output.text}\n`;
    if (ending.exitCode === undefined)
      throw new Error(
        `npm run ${script} ${args.join(" ")} returned no exit code: it leaves something running, which a test runs as a process (npmRun)`,
      );
    return { code: ending.exitCode, ...output };
  } finally {
    setEnv(saved.env);
    Object.assign(console, saved.console);
    process.stdout.write = saved.stdoutWrite;
    process.stderr.write = saved.stderrWrite;
    for (const event of process.eventNames()) {
      const before = saved.listeners.get(event) ?? [];
      for (const listener of process.listeners(event as "exit"))
        if (!before.includes(listener)) process.removeListener(event, listener);
    }
  }
}

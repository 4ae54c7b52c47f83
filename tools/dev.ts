/**
 * `npm run dev`: the edge in workerd, with the bundle Pulumi uploads, configured from a stack
 * file, in front of the PersonaPlex stand-in bridge (or BRIDGE_URL).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildWorkerBundle, describeBundle } from "../worker/build";
import { bridgeUrlProblem, originProblem } from "../worker/src/bindings";
import { DEFAULT_VOICES } from "./bridge";
import { startStandinBridge, type StandinBridge } from "./lib/bridgeProcess";
import {
  haproxyBinary,
  HAPROXY_MISSING,
  startGuardProcess,
  type GuardProcess,
} from "./lib/guardProcess";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";
import { localDevSecret } from "./lib/devSecret";
import { localEdgeBindings } from "./lib/localBindings";
import { startLocalEdge, type LocalEdge } from "./lib/localEdge";
import { whenLauncherExits } from "./lib/parentWatch";
import { StackConfigError } from "../infra/config/errors";
import { knownStacks, loadStackSettings } from "../infra/config/stackFiles";

const command = defineCommand({
  name: "dev",
  options: {
    stack: {
      type: "string",
      value: "<name>",
      default: "staging",
      description: `the stack file whose edge settings to run (${knownStacks().join(", ")})`,
    },
    port: {
      type: "string",
      value: "<port>",
      default: process.env.PORT ?? "8787",
      defaultText: "$PORT or 8787",
      description: "loopback port of the local edge",
    },
    "allow-origin": {
      type: "string",
      value: "<origin>",
      multiple: true,
      description:
        "also accept this Origin, e.g. http://localhost:3000 for a local website (repeatable)",
    },
  },
  notes: [
    "environment: BRIDGE_URL (a real bridge instead of the stand-in), PORT",
    "exit: 0 stopped, 1 failed to start, 2 a usage mistake",
  ],
});
/** The personaplex stand-in's system prompts: long enough to see the wait for 0x00, short enough not to. */
const STANDIN_PROMPT_DELAY_MS = 200;
/** Session options the real PersonaPlex server accepts (it drops the connection without them). */
const SESSION_QUERY =
  "text_prompt=You%20enjoy%20having%20a%20good%20conversation.&voice_prompt=NATF2.pt";
/** workerd's own report of a failure (a kj::Exception and its stack): the one line dev prints says it better. */
const RUNTIME_DUMP = /kj::Exception|^stack: .*workerd@/;

/** Whether the port can be bound now: checked before workerd starts, whose bind failure is a 1.5 KB kj::Exception dump. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Starts the edge (and the stand-in bridge) and returns once they run; a signal or the launcher's exit stops them. */
export async function run(argv: string[]): Promise<void> {
  const args = command.parse(argv);
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(
      `port "${args.port}" (from ${process.env.PORT === args.port ? "PORT" : "--port"}) is not a TCP port`,
    );
  if (!knownStacks().includes(args.stack))
    throw new UsageError(
      `unknown stack "${args.stack}": the stacks here are ${knownStacks().join(", ")}`,
    );
  for (const origin of args["allow-origin"]) {
    const problem = originProblem(origin);
    if (problem) throw new UsageError(`--allow-origin "${origin}" ${problem}`);
  }

  let bridge: StandinBridge | undefined;
  let guard: GuardProcess | undefined;
  let guardStarting: ChildProcess | undefined;
  let guardDir: string | undefined;
  let edge: LocalEdge | undefined;
  let stopping: Promise<void> | undefined;
  const dispose = () =>
    (stopping ??= (async () => {
      await edge?.dispose().catch(() => undefined);
      await guard?.stop();
      if (!guard) guardStarting?.kill("SIGTERM");
      await bridge?.stop();
      if (guardDir) rmSync(guardDir, { recursive: true, force: true });
    })());
  const stop = () => void dispose().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("SIGHUP", stop);
  whenLauncherExits(stop);

  const busyPort = `port ${port} is in use: stop what holds it or pass --port`;
  try {
    if (!(await portIsFree(port))) throw new CommandFailure(busyPort);
    const config = loadStackSettings(args.stack);
    const bundle = await buildWorkerBundle();
    console.log(describeBundle(bundle));

    let bridgeUrl = process.env.BRIDGE_URL;
    if (bridgeUrl) {
      const problem = bridgeUrlProblem(bridgeUrl);
      if (problem) throw new CommandFailure(`BRIDGE_URL "${bridgeUrl}": ${problem}`);
    } else {
      bridge = await startStandinBridge({
        mode: "personaplex",
        promptDelayMs: STANDIN_PROMPT_DELAY_MS,
      });
      bridgeUrl = `${bridge.origin}/api/chat`;
      if (haproxyBinary()) {
        // The guard as each GPU VM runs it: one session at a time, bad options refused before the 101, /health.
        guardDir = mkdtempSync(join(tmpdir(), "voice-edge-dev-guard-"));
        const voices = join(guardDir, "voices.txt");
        writeFileSync(voices, `${DEFAULT_VOICES.join("\n")}\n`);
        guard = await startGuardProcess(["--upstream", bridge.origin, "--voices", voices], {
          onSpawn: (child) => (guardStarting = child),
        });
        bridgeUrl = `${guard.origin}/api/chat`;
      } else {
        console.log(
          `guard: ${HAPROXY_MISSING}; the edge reaches the stand-in directly, so a second session waits in silence and /voice/health says bridge_down (the server has no /health)`,
        );
      }
    }

    const local = localEdgeBindings(config, {
      bridgeUrl,
      port,
      devSecret: localDevSecret(),
      allowOrigins: args["allow-origin"],
    });
    let started = false;
    edge = await startLocalEdge({
      code: bundle.code,
      compatibilityDate: config.compatibilityDate,
      bindings: local.bindings,
      port,
      onLogLine: (line) => {
        if (!started && RUNTIME_DUMP.test(line)) return;
        console.log(line);
      },
    }).catch((error: Error) => {
      if (/EADDRINUSE|address already in use/i.test(String(error?.message) + String(error?.cause)))
        throw new CommandFailure(busyPort);
      throw error;
    });
    started = true;

    const wsUrl = `ws://127.0.0.1:${port}/voice/ws`;
    const stackArgs = args.stack === "staging" ? "" : ` -- --stack ${args.stack}`;
    console.log(`
voice edge running in workerd (stack ${args.stack}, compatibility date ${config.compatibilityDate})
  WebSocket  ${wsUrl}
  health     http://127.0.0.1:${port}/voice/health
  bridge     ${bridge ? `PersonaPlex stand-in at ${bridge.origin}/api/chat (one session at a time, 0x00 after ${STANDIN_PROMPT_DELAY_MS} ms, text_prompt and voice_prompt required, no /health)` : `${new URL(bridgeUrl).origin} (from BRIDGE_URL)`}${guard ? `\n  guard      HAProxy at ${guard.origin} (capacity 1: a second session gets 1013; /health; bad options 4400)` : ""}
  local overrides of Pulumi.${args.stack}.yaml:
${local.overrides.map((line) => `    - ${line}`).join("\n")}

next, in another terminal:
  npm run smoke -- --url ${wsUrl} --token "$(npm run --silent token${stackArgs})"
  or by hand: npx wscat -c "${wsUrl}?${SESSION_QUERY}" -s voice.v1 -s "bearer.$(npm run --silent token${stackArgs})"
  in a page:  new WebSocket("${wsUrl}?${SESSION_QUERY}", ["voice.v1", "bearer." + token]), then wait for the 0x00 frame
Ctrl-C stops the edge, the guard and the stand-in bridge.
`);
  } catch (error) {
    await dispose();
    throw error instanceof CommandFailure || error instanceof StackConfigError
      ? error
      : new CommandFailure(error instanceof Error ? error.message : String(error));
  }
}

if (isEntryPoint(import.meta.url)) void main(command, run);

/**
 * `npm run dev`: the edge in workerd, with the bundle Pulumi uploads, configured from a stack
 * file, in front of the PersonaPlex stand-in bridge (or BRIDGE_URL), a fleet of stand-ins each
 * behind a guard (`--bridges N`), or bridges already running (`--bridge-url`, repeatable). With the
 * stack's line on, the line script (its bundle as Pulumi uploads it) runs beside the edge. Beside
 * them, on the next port, the demo page: the client kit the edge serves, driven from a form.
 */
import { createServer } from "node:net";
import { buildLineBundle, buildWorkerBundle, describeBundle } from "../worker/build";
import { LINE_PATH } from "../worker/src/line/contract";
import { KIT_PATH } from "../worker/src/kit";
import { bridgeUrlProblem, MAX_BRIDGES, originProblem } from "../worker/src/bindings";
import { startStandinBridge, type StandinBridge } from "./lib/bridgeProcess";
import { haproxyBinary, HAPROXY_MISSING, type GuardProcess } from "./lib/guardProcess";
import { CommandFailure, defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";
import { localDevSecret } from "./lib/devSecret";
import { signDevToken } from "./lib/devToken";
import { DEMO_SESSION_OPTIONS, startDemoServer, type DemoServer } from "./lib/demoServer";
import {
  localEdgeBindings,
  localLineBindings,
  type LocalBridge,
  type LocalBridges,
  type LocalLine,
} from "./lib/localBindings";
import {
  bridgeSource,
  namedBridges,
  standinFleet,
  type GuardedStandin,
  type StandinFleet,
} from "./lib/localFleet";
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
    "demo-port": {
      type: "string",
      value: "<port>",
      defaultText: "the edge's port + 1",
      description: "loopback port of the demo page (the client kit in a page, with dev tokens)",
    },
    "allow-origin": {
      type: "string",
      value: "<origin>",
      multiple: true,
      description:
        "also accept this Origin, e.g. http://localhost:3000 for a local website (repeatable)",
    },
    bridges: {
      type: "string",
      value: "<n>",
      description: `run a fleet: n PersonaPlex stand-ins (1-${MAX_BRIDGES}), each behind its own guard (needs HAProxy)`,
    },
    "bridge-url": {
      type: "string",
      value: "<url>",
      multiple: true,
      description:
        "a bridge or guard already running, e.g. http://127.0.0.1:8999/api/chat (repeatable: a fleet)",
    },
  },
  notes: [
    "environment: BRIDGE_URL (a real bridge instead of the stand-in; not with --bridges or --bridge-url), PORT",
    "exit: 0 stopped, 1 failed to start, 2 a usage mistake or --bridges without HAProxy",
  ],
});
/** The personaplex stand-in's system prompts: long enough to see the wait for 0x00, short enough not to. */
const STANDIN_PROMPT_DELAY_MS = 200;
/** The demo page's tokens: a few minutes, as a website's backend would mint them (never above the stack's cap). */
const DEMO_TOKEN_LIFETIME_SECONDS = 300;
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

function guardLine(guard: GuardProcess): string {
  return `guard      HAProxy at ${guard.origin} (capacity 1: a second session gets 1013; /health; bad options 4400)`;
}

/** The fleet, one line a bridge: its name, its URL and, for a stand-in, what stands behind the guard. */
function fleetLines(bridges: (LocalBridge | GuardedStandin)[]): string[] {
  const width = Math.max(...bridges.map(({ name }) => name.length));
  return bridges.map(
    (bridge) =>
      `  ${bridge.name.padEnd(width)}  ${bridge.url}${"standin" in bridge ? ` → stand-in ${bridge.standin.origin} (guard health ${bridge.guard.origin}/health)` : ""}`,
  );
}

/** Starts the edge (and the stand-in bridges and guards) and returns once they run; a signal or the launcher's exit stops them. */
export async function run(argv: string[]): Promise<void> {
  const args = command.parse(argv);
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(
      `port "${args.port}" (from ${process.env.PORT === args.port ? "PORT" : "--port"}) is not a TCP port`,
    );
  const demoPort = Number(args["demo-port"] ?? port + 1);
  if (!Number.isInteger(demoPort) || demoPort < 1 || demoPort > 65535 || demoPort === port)
    throw new UsageError(
      args["demo-port"] === undefined
        ? `the demo page's port would be ${demoPort}: pass --demo-port`
        : `--demo-port "${args["demo-port"]}" is not a TCP port other than the edge's`,
    );
  if (!knownStacks().includes(args.stack))
    throw new UsageError(
      `unknown stack "${args.stack}": the stacks here are ${knownStacks().join(", ")}`,
    );
  for (const origin of args["allow-origin"]) {
    const problem = originProblem(origin);
    if (problem) throw new UsageError(`--allow-origin "${origin}" ${problem}`);
  }

  const source = bridgeSource(
    { bridges: args.bridges, bridgeUrls: args["bridge-url"] },
    process.env.BRIDGE_URL,
  );
  if (source.kind === "fleet" && !haproxyBinary())
    throw new CommandFailure(
      `--bridges runs each stand-in behind its own guard, which needs HAProxy: ${HAPROXY_MISSING}`,
      2,
    );

  // Read before a signal handler is set or anything starts: a stack file that does not load is only bad input.
  const config = loadStackSettings(args.stack);

  let bridge: StandinBridge | undefined;
  let fleet: StandinFleet | undefined;
  let edge: LocalEdge | undefined;
  let demo: DemoServer | undefined;
  let stopping: Promise<void> | undefined;
  const dispose = () =>
    (stopping ??= (async () => {
      await demo?.close();
      await edge?.dispose().catch(() => undefined);
      await fleet?.stop();
      await bridge?.stop();
    })());
  const stop = () => void dispose().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("SIGHUP", stop);
  whenLauncherExits(stop);

  /** Starts what `source` asks for; returns the edge's bridges and how the summary describes them. */
  async function startBridges(): Promise<{
    bridges: LocalBridges;
    lines: string[];
    stops: string;
    /** Whether each bridge has a guard's `/health`, which the line's coordinator learns from. */
    guarded?: false;
  }> {
    switch (source.kind) {
      case "env": {
        const problem = bridgeUrlProblem(source.url);
        if (problem) throw new CommandFailure(`BRIDGE_URL "${source.url}": ${problem}`);
        return {
          bridges: { url: source.url },
          lines: [`bridge     ${new URL(source.url).origin} (from BRIDGE_URL)`],
          stops: "the edge; the bridge keeps running",
        };
      }
      case "given":
        if (source.urls.length === 1)
          return {
            bridges: { url: source.urls[0] },
            lines: [`bridge     ${source.urls[0]} (from --bridge-url)`],
            stops: "the edge; the bridge keeps running",
          };
        return {
          bridges: { fleet: namedBridges(source.urls) },
          lines: [
            `bridges    ${source.urls.length} from --bridge-url, bound as BRIDGES: a session takes a free one, tried one at a time in random order`,
            ...fleetLines(namedBridges(source.urls)),
          ],
          stops: "the edge; the bridges keep running",
        };
      case "fleet": {
        const count = source.count;
        console.log(
          `fleet: starting ${count} PersonaPlex stand-in${count === 1 ? "" : "s"}, each behind its own guard (HAProxy)…`,
        );
        fleet = standinFleet({ promptDelayMs: STANDIN_PROMPT_DELAY_MS });
        const members = await fleet.start(count, (member, ready) =>
          console.log(`fleet: ${member.name} up at ${member.url} (${ready}/${count})`),
        );
        return {
          bridges: { fleet: members },
          lines: [
            `bridges    ${count} guard${count === 1 ? "" : "s"} (HAProxy, capacity 1) in front of a PersonaPlex stand-in each (0x00 after ${STANDIN_PROMPT_DELAY_MS} ms), bound as BRIDGES: a session takes a free one; with none free, 1013`,
            ...fleetLines(members),
          ],
          stops: `the edge, the ${count} guard${count === 1 ? "" : "s"} and the ${count} stand-in bridge${count === 1 ? "" : "s"}`,
        };
      }
      case "standin": {
        const standinLine = (origin: string) =>
          `bridge     PersonaPlex stand-in at ${origin}/api/chat (one session at a time, 0x00 after ${STANDIN_PROMPT_DELAY_MS} ms, text_prompt and voice_prompt required, no /health)`;
        if (haproxyBinary()) {
          fleet = standinFleet({ promptDelayMs: STANDIN_PROMPT_DELAY_MS });
          const [{ standin, guard, url }] = await fleet.start(1);
          return {
            bridges: { url },
            lines: [standinLine(standin.origin), guardLine(guard)],
            stops: "the edge, the guard and the stand-in bridge",
          };
        }
        bridge = await startStandinBridge({
          mode: "personaplex",
          promptDelayMs: STANDIN_PROMPT_DELAY_MS,
        });
        console.log(
          `guard: ${HAPROXY_MISSING}; the edge reaches the stand-in directly, so a second session waits in silence and /voice/health says bridge_down (the server has no /health)`,
        );
        return {
          bridges: { url: `${bridge.origin}/api/chat` },
          lines: [standinLine(bridge.origin)],
          stops: "the edge and the stand-in bridge",
          guarded: false,
        };
      }
    }
  }

  const busyPort = `port ${port} is in use: stop what holds it or pass --port`;
  try {
    if (!(await portIsFree(port))) throw new CommandFailure(busyPort);
    if (!(await portIsFree(demoPort)))
      throw new CommandFailure(
        `port ${demoPort} (the demo page) is in use: stop what holds it or pass --demo-port`,
      );
    const [bundle, lineBundle] = await Promise.all([
      buildWorkerBundle(),
      config.line.enabled ? buildLineBundle() : undefined,
    ]);
    console.log(describeBundle(bundle));
    if (lineBundle) console.log(describeBundle(lineBundle, "line"));
    const bridges = await startBridges();

    const devSecret = localDevSecret();
    const local = localEdgeBindings(config, {
      bridges: bridges.bridges,
      port,
      devSecret,
      allowOrigins: args["allow-origin"],
      demoOrigins: [`http://127.0.0.1:${demoPort}`, `http://localhost:${demoPort}`],
    });
    // The coordinator learns that a bridge freed from its guard's /health: a bare stand-in has none.
    if (lineBundle && bridges.guarded === false)
      local.overrides.push(
        `line on → off: the coordinator learns that a bridge freed from its guard's /health, and without HAProxy the stand-in has no guard (${HAPROXY_MISSING})`,
      );
    const line: LocalLine | undefined =
      lineBundle && bridges.guarded !== false ? await localLineBindings(config, local) : undefined;
    let started = false;
    edge = await startLocalEdge({
      code: bundle.code,
      compatibilityDate: config.compatibilityDate,
      bindings: local.bindings,
      port,
      ...(line && lineBundle
        ? { line: { code: lineBundle.code, local: line, edgeName: config.workerName } }
        : {}),
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
    const auth = config.edge.auth;
    demo = await startDemoServer({
      port: demoPort,
      edgeOrigin: `http://127.0.0.1:${port}`,
      kitPath: KIT_PATH,
      mintToken:
        auth.mode === "jwt"
          ? (subject) =>
              signDevToken(
                {
                  subject,
                  lifetimeSeconds: Math.min(
                    DEMO_TOKEN_LIFETIME_SECONDS,
                    auth.maxTokenLifetimeSeconds ?? DEMO_TOKEN_LIFETIME_SECONDS,
                  ),
                  issuer: auth.issuer,
                  audience: auth.audience,
                },
                devSecret,
              )
          : undefined,
    });

    const wsUrl = `ws://127.0.0.1:${port}/voice/ws`;
    const lineUrl = `ws://127.0.0.1:${port}${LINE_PATH}`;
    const kitUrl = `http://127.0.0.1:${port}${KIT_PATH}`;
    const stackArgs = args.stack === "staging" ? "" : ` -- --stack ${args.stack}`;
    const smoke = `npm run --silent smoke -- --url ${wsUrl} --token "$(npm run --silent token${stackArgs})"`;
    console.log(`
voice edge running in workerd (stack ${args.stack}, compatibility date ${config.compatibilityDate})
  WebSocket  ${wsUrl}
  health     http://127.0.0.1:${port}/voice/health
  kit        ${kitUrl}
  demo page  ${demo.origin}/ (the kit in a page, a dev token per attempt from this server; open it in a browser)
${line ? `  line       on (voice-edge:line): the coordinator, script ${line.scriptName}, beside the edge; with no bridge free a visitor gets 1013 {"line":true} and waits at ${lineUrl}\n` : ""}${bridges.lines.map((line) => `  ${line}`).join("\n")}
  local overrides of Pulumi.${args.stack}.yaml:
${local.overrides.map((line) => `    - ${line}`).join("\n")}

next, in another terminal:
  ${smoke}${line ? "   # every bridge busy: add --wait to wait in line" : ""}
  in a page:  const { connectVoice } = await import("${kitUrl}"); connectVoice({ url: "${wsUrl}", getToken, query: ${JSON.stringify(DEMO_SESSION_OPTIONS)}, onState, onFrame })${line ? " (waits in line when every bridge is busy)" : ""}${args["allow-origin"].length === 0 ? `\n  a page on its own origin (e.g. http://localhost:3000) is refused 403 origin_not_allowed, which it sees as 1006:\n              run dev with --allow-origin http://localhost:3000` : ""}
Ctrl-C stops the demo page, ${bridges.stops}.
`);
  } catch (error) {
    await dispose();
    throw error instanceof CommandFailure || error instanceof StackConfigError
      ? error
      : new CommandFailure(error instanceof Error ? error.message : String(error));
  }
}

if (isEntryPoint(import.meta.url)) void main(command, run);

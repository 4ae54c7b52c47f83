/**
 * `npm run dev`: the edge in workerd, with the bundle Pulumi uploads, configured from a stack
 * file, in front of the stand-in bridge (or BRIDGE_URL).
 */
import { parseArgs } from "node:util";
import { buildWorkerBundle, describeBundle } from "../worker/build";
import { bridgeUrlProblem } from "../worker/src/bindings";
import { startStandinBridge, type StandinBridge } from "./lib/bridgeProcess";
import { localDevSecret } from "./lib/devSecret";
import { localEdgeBindings } from "./lib/localBindings";
import { startLocalEdge, type LocalEdge } from "./lib/localEdge";
import { loadStackSettings } from "./lib/stackFile";

const { values: args } = parseArgs({
  options: {
    stack: { type: "string", default: "staging" },
    port: { type: "string", default: process.env.PORT ?? "8787" },
  },
});

function fail(message: string): never {
  console.error(`dev: ${message}`);
  process.exit(1);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`port "${args.port}" (from ${process.env.PORT ? "PORT" : "--port"}) is not a TCP port`);

let bridge: StandinBridge | undefined;
let edge: LocalEdge | undefined;
let stopping = false;

async function stop(exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await edge?.dispose().catch(() => undefined);
    await bridge?.stop();
  }
  process.exit(exitCode);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

try {
  const config = loadStackSettings(args.stack);
  const bundle = await buildWorkerBundle();
  console.log(describeBundle(bundle));

  let bridgeUrl = process.env.BRIDGE_URL;
  if (bridgeUrl) {
    const problem = bridgeUrlProblem(bridgeUrl);
    if (problem) fail(`BRIDGE_URL "${bridgeUrl}": ${problem}`);
  } else {
    bridge = await startStandinBridge();
    bridgeUrl = `${bridge.origin}/api/chat`;
  }

  const local = localEdgeBindings(config, { bridgeUrl, port, devSecret: localDevSecret() });
  edge = await startLocalEdge({ code: bundle.code, compatibilityDate: config.compatibilityDate, bindings: local.bindings, port }).catch((error: Error) => {
    if (/EADDRINUSE|address already in use/i.test(String(error?.message) + String(error?.cause))) fail(`port ${port} is in use: stop what holds it or set PORT`);
    throw error;
  });

  const wsUrl = `ws://127.0.0.1:${port}/voice/ws`;
  console.log(`
voice edge running in workerd (stack ${args.stack}, compatibility date ${config.compatibilityDate})
  WebSocket  ${wsUrl}
  health     http://127.0.0.1:${port}/voice/health
  bridge     ${bridge ? `stand-in (Moshi-shaped echo) at ${bridgeUrl}` : `${new URL(bridgeUrl).origin} (from BRIDGE_URL)`}
  local overrides of Pulumi.${args.stack}.yaml:
${local.overrides.map((line) => `    - ${line}`).join("\n")}

next, in another terminal:
  npm run smoke -- --url ${wsUrl} --token "$(npm run --silent token -- --stack ${args.stack})"
  or by hand: npx wscat -c "${wsUrl}" -s voice.v1 -s "bearer.$(npm run --silent token)"
Ctrl-C stops the edge and the stand-in bridge.
`);
} catch (error) {
  console.error(`dev: ${error instanceof Error ? error.message : String(error)}`);
  await stop(1);
}

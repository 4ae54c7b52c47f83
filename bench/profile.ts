/**
 * `npm run bench:profile`: where the edge's own time per upgrade goes. Runs the production bundle in
 * a bare `workerd serve` with its inspector on, takes a V8 CPU profile over sequential
 * authenticated upgrades, and prints self time per function (bundle functions by name), per upgrade.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { buildWorkerBundle } from "../worker/build";
import { startStandinBridge } from "../tools/lib/bridgeProcess";
import { defineCommand } from "../tools/lib/cli";
import { freePort } from "../test/support/freePort";
import { loadStackSettings } from "../infra/config/stackFiles";
import { benchBridgeUrl, benchEdgeBindings, benchEdgeTarget, hs256BenchToken } from "./floor";
import { handshakes } from "./measure";
import { cleanupOnExit } from "./cleanup";
import { startWorkerd } from "./workerdProcess";

const command = defineCommand({
  name: "bench:profile",
  options: {
    upgrades: {
      type: "string",
      value: "<n>",
      default: "2000",
      description: "authenticated upgrades to profile",
    },
    top: { type: "string", value: "<n>", default: "25", description: "functions to list" },
  },
});
const args = command.parse();
const upgrades = Number(args.upgrades);
const top = Number(args.top);
if (!Number.isInteger(upgrades) || upgrades < 1 || upgrades > 100_000)
  command.usageError(`--upgrades must be a whole number from 1 to 100000, got "${args.upgrades}"`);
if (!Number.isInteger(top) || top < 1)
  command.usageError(`--top must be a whole number ≥ 1, got "${args.top}"`);
/** The longest any inspector command may take: stopping a long profile sends it all at once. */
const INSPECTOR_TIMEOUT_MS = 60_000;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

async function inspectorSession(
  port: number,
): Promise<(method: string, params?: object) => Promise<Record<string, unknown>>> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let nextId = 1;
  const pending = new Map<number, (result: Record<string, unknown>) => void>();
  ws.on("message", (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown> };
    if (message.id !== undefined) pending.get(message.id)?.(message.result ?? {});
  });
  return (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `workerd's inspector did not answer ${method} within ${INSPECTOR_TIMEOUT_MS / 1000} s`,
            ),
          ),
        INSPECTOR_TIMEOUT_MS,
      );
      pending.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
}

const cleanup = cleanupOnExit();
try {
  const bridge = await startStandinBridge({ protocols: ["voice.v1"] });
  cleanup.add(() => bridge.stop());
  // The same source, unminified so the profile names functions; the uploaded bundle is minified.
  const workDir = mkdtempSync(join(tmpdir(), "voice-edge-profile-"));
  cleanup.add(() => rmSync(workDir, { recursive: true, force: true }));
  const bundle = await buildWorkerBundle({
    unminified: true,
    outfile: join(workDir, "worker.mjs"),
  });
  const inspectorPort = await freePort();
  const edge = await startWorkerd({
    code: bundle.code,
    compatibilityDate: loadStackSettings("prod").compatibilityDate,
    inspectorPort,
    bindings: benchEdgeBindings(benchBridgeUrl(bridge)),
  });
  cleanup.add(() => edge.stop());
  const target = benchEdgeTarget(edge.port, await hs256BenchToken());
  await handshakes(target, 200);
  const send = await inspectorSession(inspectorPort);
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  await send("Profiler.start");
  await handshakes(target, upgrades);
  const { profile } = (await send("Profiler.stop")) as { profile: Profile };

  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)),
  );
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    const where = url ? `${url.split("/").at(-1)}:${lineNumber + 1}:${columnNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + (selfMicros.get(node.id) ?? 0));
  }
  const total = [...byFunction.values()].reduce((a, b) => a + b, 0);
  const idle = (byFunction.get("(idle)") ?? 0) + (byFunction.get("(program)") ?? 0);
  console.log(
    `${upgrades} upgrades profiled; the isolate's sampled time per upgrade: ${((total - idle) / upgrades).toFixed(1)} µs (idle and (program) excluded)\n`,
  );
  console.log("self µs/upgrade  function");
  for (const [name, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(micros / upgrades).toFixed(1).padStart(15)}  ${name}`);
  }
} finally {
  await cleanup.run();
}

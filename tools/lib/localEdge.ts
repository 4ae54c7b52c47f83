import type { Readable } from "node:stream";
import { Log, LogLevel, Miniflare } from "miniflare";
import { BUNDLE_MODULE_NAME, LINE_BUNDLE_MODULE_NAME } from "../../worker/build";
import { BRIDGE_WATCH_CRON } from "../../worker/src/bridgeWatch/bindings";
import type { LocalLine } from "./localBindings";
import { pointsRecorderWorker, pointsWrappedBinding } from "./localPoints";

export interface LocalEdgeOptions {
  /** The built bundle's code: the same bytes Pulumi uploads. */
  code: string;
  compatibilityDate: string;
  /** Worker bindings by name; objects become json bindings, strings plain text. */
  bindings: Record<string, unknown>;
  host?: string;
  port?: number;
  /** Receives each line the Worker logs; defaults to this process's stdout. */
  onLogLine?: (line: string) => void;
  /** An ES module run as the entry point in front of the bundle (it imports `./worker.mjs`); for instrumentation only. */
  entryWrapper?: string;
  /** D1 bindings by name (in memory, one database per edge), e.g. the bridge watch's `BRIDGE_WATCH_DB`. */
  d1Databases?: string[];
  /**
   * The waiting line: the line bundle run as its own script beside the edge (its Durable Object
   * class SQLite-backed, as deployed), the edge bound to it by `scriptName`. `edgeName` is the
   * edge Worker's script name.
   */
  line?: { code: string; local: LocalLine; edgeName: string };
  /**
   * The stack's Analytics Engine dataset (`voice-edge:analytics.dataset`): bound to the edge (and
   * the line script) as `VOICE_POINTS`, each point printed as a `point` line on the log.
   */
  points?: { dataset: string };
}

/** The edge's script name when there is no line (which names it). */
const EDGE_SCRIPT = "voice-edge";

export interface LocalEdge {
  /** Where clients reach the Worker: a socket of its own, without Miniflare's entry worker in front. */
  url: URL;
  miniflare: Miniflare;
  /** Runs the Worker's scheduled handler once, as the bridge watch's Cron Trigger would at `scheduledTime`. */
  fireCron(scheduledTime?: Date): Promise<{ outcome: string }>;
  dispose(): Promise<void>;
}

/** Hands `onLine` each whole line a stream writes (workerd's log output). */
export function lineSplitter(onLine: (line: string) => void) {
  return (stream: Readable) => {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf("\n")) !== -1) {
        onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    });
  };
}

/**
 * Runs the Worker bundle in workerd (Miniflare) on loopback.
 *
 * Clients reach the Worker on a socket of its own (`unsafeDirectSockets`), as production's runtime
 * hands it the request: Miniflare's default socket goes through its entry worker, which passes each
 * request on with `fetch()`, and workerd sends a `fetch()` that carries `Upgrade: websocket` as a
 * WebSocket handshake, always GET. So a HEAD, POST, OPTIONS or PUT upgrade reached the Worker as
 * GET, opened a bridge session, and the client got workerd's 500 ("WebSocket must be initiated with
 * a GET request") where production answers the real method 405. The entry worker also adds
 * `CF-Connecting-IP: 127.0.0.1`; here the Worker sees only what the client sent.
 */
export async function startLocalEdge(options: LocalEdgeOptions): Promise<LocalEdge> {
  const onLine = options.onLogLine ?? ((line: string) => console.log(line));
  const host = options.host ?? "127.0.0.1";
  const edgeModules = [
    ...(options.entryWrapper
      ? [{ type: "ESModule" as const, path: "entry.mjs", contents: options.entryWrapper }]
      : []),
    { type: "ESModule" as const, path: BUNDLE_MODULE_NAME, contents: options.code },
  ];
  const shared = {
    host,
    port: 0,
    log: new Log(LogLevel.WARN),
    // Locally there is no colo: skip Miniflare's download of a sample `request.cf`.
    cf: {},
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      lineSplitter(onLine)(stdout);
      lineSplitter(onLine)(stderr);
    },
  };
  const edgeWorker = {
    modules: edgeModules,
    compatibilityDate: options.compatibilityDate,
    bindings: options.bindings as Record<string, never>,
    ...(options.d1Databases ? { d1Databases: options.d1Databases } : {}),
    unsafeDirectSockets: [{ host, port: options.port ?? 0 }],
  };
  const points = options.points && pointsWrappedBinding(options.points.dataset);
  const recorder = points ? [pointsRecorderWorker()] : [];
  const line = options.line;
  const miniflare = line
    ? new Miniflare({
        ...shared,
        workers: [
          {
            ...edgeWorker,
            ...(points ? { wrappedBindings: points } : {}),
            name: line.edgeName,
            durableObjects: {
              [line.local.coordinator.name]: {
                className: line.local.coordinator.className,
                scriptName: line.local.coordinator.scriptName,
                useSQLite: line.local.coordinator.useSQLite,
              },
            },
          },
          {
            name: line.local.scriptName,
            modules: [
              { type: "ESModule" as const, path: LINE_BUNDLE_MODULE_NAME, contents: line.code },
            ],
            compatibilityDate: options.compatibilityDate,
            bindings: line.local.bindings as Record<string, never>,
            ...(points ? { wrappedBindings: points } : {}),
            additionalUnboundDurableObjects: [
              {
                className: line.local.coordinator.className,
                useSQLite: line.local.coordinator.useSQLite,
              },
            ],
          },
          ...recorder,
        ],
      })
    : points
      ? new Miniflare({
          ...shared,
          workers: [{ ...edgeWorker, name: EDGE_SCRIPT, wrappedBindings: points }, ...recorder],
        })
      : new Miniflare({ ...shared, ...edgeWorker });
  await miniflare.ready;
  const url = await miniflare.unsafeGetDirectURL(line?.edgeName);
  const fireCron = async (scheduledTime = new Date()) =>
    (await miniflare.getWorker()).scheduled({ cron: BRIDGE_WATCH_CRON, scheduledTime });
  return { url, miniflare, fireCron, dispose: () => miniflare.dispose() };
}

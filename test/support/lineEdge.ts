import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { Log, LogLevel, Miniflare } from "miniflare";
import {
  BUNDLE_MODULE_NAME,
  BUNDLE_PATH,
  LINE_BUNDLE_MODULE_NAME,
  LINE_BUNDLE_PATH,
} from "../../worker/build";
import { LINE_BINDINGS, LINE_CLASS_NAME, lineScriptName } from "../../worker/src/line/contract";
import { loadStackSettings } from "../../infra/config/stackFiles";
import { lineSplitter } from "../../tools/lib/localEdge";
import { pointsRecorderWorker, pointsWrappedBinding } from "../../tools/lib/localPoints";
import type { TestEdge } from "./edge";

const EDGE_NAME = "voice-edge";

/**
 * The edge bundle and the line bundle in one workerd (Miniflare), as deployed: the edge's `LINE`
 * binding reaches the `FleetLine` class of the line script by `scriptName`, a SQLite-backed
 * Durable Object. `lineCode` replaces the line bundle (a coordinator that throws or hangs);
 * `persistDir` keeps the coordinator's storage there, for a restart (a deploy) to find it.
 * Clients reach the edge on a socket of its own, as `startTestEdge` does.
 */
export async function startLineEdge(options: {
  edgeBindings: Record<string, unknown>;
  lineBindings: Record<string, unknown>;
  lineCode?: string;
  persistDir?: string;
  /** The stack's dataset, bound to both scripts as the local edge binds it (each point a `point` log line). */
  points?: { dataset: string };
}): Promise<TestEdge> {
  const points = options.points && pointsWrappedBinding(options.points.dataset);
  const logs: string[] = [];
  const host = "127.0.0.1";
  const compatibilityDate = loadStackSettings("staging").compatibilityDate;
  const lineName = lineScriptName(EDGE_NAME);
  const miniflare = new Miniflare({
    host,
    port: 0,
    log: new Log(LogLevel.WARN),
    cf: {},
    ...(options.persistDir ? { durableObjectsPersist: options.persistDir } : {}),
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      lineSplitter((line) => logs.push(line))(stdout);
      lineSplitter((line) => logs.push(line))(stderr);
    },
    workers: [
      {
        name: EDGE_NAME,
        modules: [
          {
            type: "ESModule",
            path: BUNDLE_MODULE_NAME,
            contents: readFileSync(BUNDLE_PATH, "utf8"),
          },
        ],
        compatibilityDate,
        bindings: options.edgeBindings as Record<string, never>,
        ...(points ? { wrappedBindings: points } : {}),
        durableObjects: {
          [LINE_BINDINGS.coordinator]: {
            className: LINE_CLASS_NAME,
            scriptName: lineName,
            useSQLite: true,
          },
        },
        unsafeDirectSockets: [{ host, port: 0 }],
      },
      {
        name: lineName,
        modules: [
          {
            type: "ESModule",
            path: LINE_BUNDLE_MODULE_NAME,
            contents: options.lineCode ?? readFileSync(LINE_BUNDLE_PATH, "utf8"),
          },
        ],
        compatibilityDate,
        bindings: options.lineBindings as Record<string, never>,
        ...(points ? { wrappedBindings: points } : {}),
        additionalUnboundDurableObjects: [{ className: LINE_CLASS_NAME, useSQLite: true }],
      },
      ...(points ? [pointsRecorderWorker()] : []),
    ],
  });
  await miniflare.ready;
  const url = await miniflare.unsafeGetDirectURL(EDGE_NAME);
  const httpOrigin = url.origin;
  return {
    edge: {
      url,
      miniflare,
      fireCron: () => Promise.reject(new Error("no cron on the line edge")),
      dispose: () => miniflare.dispose(),
    },
    httpOrigin,
    wsOrigin: httpOrigin.replace(/^http/, "ws"),
    logs,
    dispose: () => miniflare.dispose(),
  };
}

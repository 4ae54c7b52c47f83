import { POINTS_BINDING, type DataPoint } from "../../worker/src/analytics/points";

/**
 * The edge's Analytics Engine dataset, locally. Miniflare's own binding accepts writes and keeps
 * nothing, so the local edge binds a wrapped binding of its own instead: the same
 * `writeDataPoint`, which prints each point on the Worker's log as one `point` line. Synchronous,
 * as the real binding is: the point is on the log before the request's answer.
 */
export const POINTS_RECORDER_SCRIPT = "voice-edge-points-recorder";
export const POINT_LOG_EVENT = "point";

const RECORDER_MODULE = `export default function (env) {
  return {
    writeDataPoint(point) {
      console.log(JSON.stringify({ event: ${JSON.stringify(POINT_LOG_EVENT)}, dataset: env.dataset, point }));
    },
  };
}
`;

/** The recorder as a Miniflare worker (a wrapped binding's designated script). */
export function pointsRecorderWorker() {
  return {
    name: POINTS_RECORDER_SCRIPT,
    modules: [{ type: "ESModule" as const, path: "recorder.mjs", contents: RECORDER_MODULE }],
  };
}

/** The `wrappedBindings` entry that binds the dataset to a Worker, as `VOICE_POINTS`. */
export function pointsWrappedBinding(dataset: string) {
  return { [POINTS_BINDING]: { scriptName: POINTS_RECORDER_SCRIPT, bindings: { dataset } } };
}

export interface LoggedPoint {
  dataset: string;
  point: DataPoint;
}

/** The points among the Worker's log lines, in order. */
export function pointsInLog(lines: readonly string[]): LoggedPoint[] {
  const points: LoggedPoint[] = [];
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    try {
      const parsed = JSON.parse(line) as { event?: string } & LoggedPoint;
      if (parsed.event === POINT_LOG_EVENT)
        points.push({ dataset: parsed.dataset, point: parsed.point });
    } catch {
      // not a JSON line
    }
  }
  return points;
}

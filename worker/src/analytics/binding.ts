/**
 * The edge's Analytics Engine binding, as the code that writes points sees it: one name, one small
 * interface (Analytics Engine's dataset binding fits it; tests bind a recorder of their own).
 */
/** The binding's name on the edge Worker; absent, nothing writes points. */
export const ANALYTICS_BINDING = "VOICE_POINTS";

/** One point as Analytics Engine takes it: blobs and doubles by position, one index. */
export interface DataPoint {
  indexes?: string[];
  blobs?: string[];
  doubles?: number[];
}

export interface PointWriter {
  writeDataPoint(point: DataPoint): void;
}

/** The point writer bound to `env`, or undefined when the stack set no dataset. */
export function pointWriterOf(env: object): PointWriter | undefined {
  const binding = (env as Record<string, unknown>)[ANALYTICS_BINDING];
  return typeof (binding as PointWriter | undefined)?.writeDataPoint === "function"
    ? (binding as PointWriter)
    : undefined;
}

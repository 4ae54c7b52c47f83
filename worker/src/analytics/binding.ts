/**
 * The edge's Analytics Engine binding as the bridge watch sees it: the points module's one name and
 * interface (Analytics Engine's dataset binding fits it; tests bind a recorder of their own).
 */
import { POINTS_BINDING, type PointsDataset } from "./points";

export type { DataPoint, PointsDataset as PointWriter } from "./points";

/** The point writer bound to `env`, or undefined when the stack set no dataset. */
export function pointWriterOf(env: object): PointsDataset | undefined {
  const binding = (env as Record<string, unknown>)[POINTS_BINDING];
  return typeof (binding as PointsDataset | undefined)?.writeDataPoint === "function"
    ? (binding as PointsDataset)
    : undefined;
}

import { z } from "zod";
import type { Problem } from "./errors";

/**
 * A dataset name: Analytics Engine's docs name no character set, so this takes names that are
 * also bare SQL identifiers (`SELECT … FROM <dataset>` in the SQL API and in `npm run stats`).
 */
export const DATASET_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
export const DATASET_NAME_RULE =
  "must be 1 to 64 letters, digits and underscores, starting with a letter (e.g. voice_edge_prod): a name the SQL API can query bare";

/**
 * `voice-edge:analytics`: the edge's Workers Analytics Engine dataset. With `dataset` set, the
 * edge Worker (and the line's script) write one point per request into it; without the key the
 * stack deploys exactly what it did before points existed. The `visitor` hash's key is the
 * secret `voice-edge:analyticsVisitorKey`.
 */
export const analyticsSchema = z.strictObject({
  dataset: z.string({ error: DATASET_NAME_RULE }).regex(DATASET_NAME, DATASET_NAME_RULE),
});

export type AnalyticsSettings = z.infer<typeof analyticsSchema>;

/** The visitor key only keys the points' hash: without a dataset it would be bound for nothing. */
export function validateVisitorKeyHasDataset(
  settings: { analytics?: AnalyticsSettings },
  secrets: { analyticsVisitorKey?: unknown },
  secretName: string,
): Problem[] {
  if (!secrets.analyticsVisitorKey || settings.analytics) return [];
  return [
    {
      path: ["analyticsVisitorKey"],
      message: `is set but voice-edge:analytics.dataset is not: set the dataset, or remove ${secretName}`,
    },
  ];
}

import { z } from "zod";
import { lineSettingsSchema, type LineSettings } from "../../worker/src/line/contract";
import type { Problem } from "./errors";

/**
 * `voice-edge:line`: the waiting line (one coordinator per fleet, in its own Worker script). Its
 * fields and bounds are the coordinator's own `LINE_CONFIG` (lineSettingsSchema), plus `enabled`.
 * Off by default: a stack without the key deploys exactly what it did before the line existed.
 */
export const lineSchema = z.strictObject({
  enabled: z.boolean().default(false),
  ...lineSettingsSchema.shape,
});

export type StackLineSettings = z.infer<typeof lineSchema>;

interface LineRuleInput {
  line: { enabled: boolean };
  edge: { auth: { mode: string } };
}

/** Every place in line, turn, ticket and per-visitor bound is the token's subject: no token, no subject. */
export function validateLineNeedsSubject(settings: LineRuleInput): Problem[] {
  if (!settings.line.enabled || settings.edge.auth.mode === "jwt") return [];
  return [
    {
      path: ["line", "enabled"],
      message: `needs edge.auth.mode: jwt (it is ${settings.edge.auth.mode}): the line binds each place, turn and ticket to the token's subject and bounds sessions per subject; turn the line off or set edge.auth`,
    },
  ];
}

/** The coordinator's `LINE_CONFIG`: the stack's line settings less `enabled`. */
export function lineConfigOf(line: StackLineSettings): LineSettings {
  const { enabled: _enabled, ...config } = line;
  return config;
}

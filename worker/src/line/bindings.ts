/** The line script's bindings: its settings, and the fleet read exactly as the edge reads it. */
import * as z from "zod/mini";
import {
  bindingProblems,
  bridgeTargets,
  fleetBindingFields,
  validateAccessServiceToken,
  validateBridgeBindings,
  type BridgeTarget,
  type Parsed,
} from "../bindings";
import { LINE_BINDINGS, lineSettingsSchema, type LineSettings } from "./contract";

const lineBindingsSchema = z
  .object({ [LINE_BINDINGS.settings]: lineSettingsSchema, ...fleetBindingFields })
  .check(
    z.superRefine((env, ctx) => {
      for (const problem of [...validateAccessServiceToken(env), ...validateBridgeBindings(env)])
        ctx.addIssue({
          code: "custom",
          input: undefined,
          path: problem.path,
          message: problem.message,
        });
    }),
  );

export interface LineBindings {
  settings: LineSettings;
  bridges: readonly BridgeTarget[];
  BRIDGE_ACCESS_CLIENT_ID?: string;
  BRIDGE_ACCESS_CLIENT_SECRET?: string;
}

export function parseLineBindings(env: unknown): Parsed<{ bindings: LineBindings }> {
  const result = lineBindingsSchema.safeParse(env);
  if (!result.success) return { ok: false, problems: bindingProblems(result.error.issues) };
  const data = result.data;
  return {
    ok: true,
    bindings: {
      settings: data[LINE_BINDINGS.settings],
      bridges: bridgeTargets(data),
      BRIDGE_ACCESS_CLIENT_ID: data.BRIDGE_ACCESS_CLIENT_ID,
      BRIDGE_ACCESS_CLIENT_SECRET: data.BRIDGE_ACCESS_CLIENT_SECRET,
    },
  };
}

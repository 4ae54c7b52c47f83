import type { Bindings } from "../bindings";
import { EdgeError } from "../errors";

/** The upgrade's Origin against the stack's allow-list; a missing Origin only when the stack allows it. */
export function checkOrigin(origin: string | null, bindings: Bindings): void {
  const settings = bindings.EDGE_CONFIG;
  if (origin === null) {
    if (!settings.allowMissingOrigin) throw new EdgeError("origin_required");
    return;
  }
  if (!settings.allowedOrigins.includes(origin)) throw new EdgeError("origin_not_allowed");
}

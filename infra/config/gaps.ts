import { LINE_PATH, WEB_CLIENT_PATH, WS_PATH } from "../../worker/src/routes";
import { keyName } from "./errors";
import type { StackSettings } from "./schema";
import { otherZoneOwner, stackDirectory, stackFileName } from "./stackFiles";

const ZONE_OWNER_KEY = `${keyName(["zone"])}.owner`;

/** Something a valid stack leaves undeclared without a word: the plan and preflight warn of it. */
export interface StackGap {
  key: string;
  message: string;
  action: string;
}

/**
 * What the stack's files leave out that a user most likely meant to have: the zone owner with no
 * rate limit on the WebSocket path, and a zone that no stack file here owns (so nothing declares
 * its WebSockets, SSL/TLS Full (strict) and Always Use HTTPS settings, nor the rate limit).
 */
export function stackGaps(
  settings: Pick<StackSettings, "zone" | "rateLimit">,
  stack: string,
  root = stackDirectory(),
): StackGap[] {
  const file = stackFileName(stack);
  const { zone } = settings;
  if (zone.owner) {
    if (settings.rateLimit !== undefined) return [];
    return [
      {
        key: keyName(["rateLimit"]),
        message: `${file} owns zone ${zone.name} but sets no ${keyName(["rateLimit"])}: nothing limits how often one client may open ${WS_PATH}, ${LINE_PATH} or ${WEB_CLIENT_PATH}`,
        action: `add ${keyName(["rateLimit"])} with rules (docs/configuration.md)`,
      },
    ];
  }
  if (otherZoneOwner(stack, zone, root) !== undefined) return [];
  return [
    {
      key: ZONE_OWNER_KEY,
      message: `no stack file here owns zone ${zone.name} (${ZONE_OWNER_KEY}: true): this stack declares neither its zone settings (WebSockets, SSL/TLS Full (strict), Always Use HTTPS) nor its rate limit`,
      action: `set ${ZONE_OWNER_KEY}: true in ${file} (or in the one stack that should own the zone); leave it if the zone is managed elsewhere`,
    },
  ];
}

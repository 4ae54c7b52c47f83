/**
 * Stand-in for worker/src/passThrough.ts: the bridge's upgrade request still built from the
 * allow-list, but sent without a timeout or refused redirects, and the bridge's response returned
 * as it came (no check of its status, no 101 of the edge's own).
 */
export { bridgeRequestOf, originCredentialHeaders } from "../../../worker/src/passThrough";

export const openBridgeSession: typeof import("../../../worker/src/passThrough").openBridgeSession =
  async (bridge, request) => ({
    response: await fetch(bridge.url + request.search, { headers: request.headers }),
    protocol: null,
  });

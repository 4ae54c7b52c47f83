/** Stand-in for worker/src/passThrough.ts: as passThroughUnguarded.ts, with the client's own headers passed to the bridge. */
export { originCredentialHeaders } from "../../../worker/src/passThrough";

export const openBridgeSession: typeof import("../../../worker/src/passThrough").openBridgeSession =
  async (clientHeaders, credentials, _subject, bindings) => ({
    response: await fetch(bindings.BRIDGE_URL + credentials.forwardedSearch, {
      headers: clientHeaders,
    }),
    protocol: null,
  });

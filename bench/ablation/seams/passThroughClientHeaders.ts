/** Stand-in for worker/src/passThrough.ts: as passThroughUnguarded.ts, with the client's own headers passed to the bridge. */
export { originCredentialHeaders } from "../../../worker/src/passThrough";
export { openBridgeSession } from "./passThroughUnguarded";

export const bridgeRequestOf: typeof import("../../../worker/src/passThrough").bridgeRequestOf = (
  clientHeaders,
  credentials,
  _subject,
  _bindings,
  search,
) => ({
  headers: clientHeaders,
  search,
  applicationProtocols: credentials.applicationProtocols,
});

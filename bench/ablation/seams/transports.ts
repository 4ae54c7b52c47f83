/** Stand-in for worker/src/auth/transports.ts: the credentials are fixed; no transport is read and nothing is stripped. */
export { selectProtocol } from "../../../worker/src/auth/transports";
import { readQuery } from "../../../worker/src/sessionQuery";

export const readClientCredentials: typeof import("../../../worker/src/auth/transports").readClientCredentials =
  (_headers, url) => ({
    token: "bench",
    transport: "subprotocol",
    malformedAuthorization: false,
    applicationProtocols: [],
    bearerProtocolOffered: false,
    query: readQuery(url.search),
    forwardedCookie: null,
  });

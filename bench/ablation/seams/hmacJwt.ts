/**
 * Stand-in for worker/src/auth/hmacJwt.ts: an HS* token is taken as valid without its signature's
 * HMAC, its segments decoded or its claims checked. The await stays: only the work goes.
 */
export { protectedHeader } from "../../../worker/src/auth/hmacJwt";

export const verifyHmacJwt: typeof import("../../../worker/src/auth/hmacJwt").verifyHmacJwt =
  async () => ({ sub: "bench" });

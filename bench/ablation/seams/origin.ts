/** Stand-in for worker/src/auth/origin.ts: every Origin, or none, is allowed. */
export const checkOrigin: typeof import("../../../worker/src/auth/origin").checkOrigin = () => {};

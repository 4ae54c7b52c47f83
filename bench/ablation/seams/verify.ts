/** Stand-in for worker/src/auth/verify.ts: every token is the subject "bench" (no header decoded, no `alg` or key looked up, no `sub` checked). */
export const verifyToken: typeof import("../../../worker/src/auth/verify").verifyToken =
  async () => ({ subject: "bench" });

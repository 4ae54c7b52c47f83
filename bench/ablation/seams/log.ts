/** Stand-in for worker/src/log.ts: no log line is written. */
export const logEvent: typeof import("../../../worker/src/log").logEvent = () => {};

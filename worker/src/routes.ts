/** The paths the edge answers; the Worker route is `<host>/voice/*`. */
export const ROUTE_PREFIX = "/voice/";
export const WS_PATH = "/voice/ws";
/**
 * The voice socket under the PersonaPlex web client's own path: the stock client connects to
 * `<worker_addr>/api/chat`, so with `worker_addr` set to `<site>/voice` it lands here, unchanged.
 */
export const WEB_CLIENT_PATH = "/voice/api/chat";
export const HEALTH_PATH = "/voice/health";
export { LINE_PATH } from "./line/contract";

/** The paths that open a voice session: answered alike (the checks, admission, pass-through, log line). */
export const VOICE_PATHS: readonly string[] = [WS_PATH, WEB_CLIENT_PATH];

export function isVoicePath(pathname: string): boolean {
  return VOICE_PATHS.includes(pathname);
}

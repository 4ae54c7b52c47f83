/** The paths the edge answers; the Worker route is `<host>/voice/*`. */
export const ROUTE_PREFIX = "/voice/";
export const WS_PATH = "/voice/ws";
export const HEALTH_PATH = "/voice/health";
export { LINE_PATH } from "./line/contract";

import type { SessionRefusal } from "./errors";

/**
 * The refusal as a socket that closes at once: the only path where the Worker holds a socket itself
 * (a session that reaches the bridge is handed to the runtime un-accepted). The 101 selects
 * `protocol` when the client offered one, or Chromium fails it. Under `web_socket_compression`
 * workerd echoes a client's compression offer on a socket the Worker made (a response header cannot
 * turn that off); only a close frame crosses it, and control frames are never compressed.
 */
export function refusedSessionResponse(refusal: SessionRefusal, protocol: string | null): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  server.close(refusal.closeCode, refusal.closeReason);
  return new Response(null, {
    status: 101,
    webSocket: client,
    headers: protocol === null ? {} : { "Sec-WebSocket-Protocol": protocol },
  });
}

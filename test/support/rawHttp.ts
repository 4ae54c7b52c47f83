import { connect, type Socket } from "node:net";

/** What came back for a request written byte for byte on a fresh TCP connection. */
export interface RawAnswer {
  /** 0 when nothing parseable came back before the connection closed or the time ran out. */
  status: number;
  statusLine: string;
  headers: Record<string, string>;
  body: string;
  /** Whether the server closed the connection (awaited when it answered `Connection: close`). */
  closed: boolean;
  timedOut: boolean;
  ms: number;
}

const HEAD_END = "\r\n\r\n";

function parseHead(head: string): Pick<RawAnswer, "status" | "statusLine" | "headers"> {
  const [statusLine, ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(statusLine.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? 0),
    statusLine,
    headers,
  };
}

/**
 * Writes `request` as is (for what fetch and ws refuse to send: HTTP/1.0, odd methods and paths,
 * oversized headers) and reads one answer. With `keepOpen` a 101 resolves with the socket still
 * open, the bytes after the head in `rest`.
 */
export function rawRequest(
  port: number,
  request: string | Buffer,
  options: { timeoutMs?: number; keepOpen?: boolean } = {},
): Promise<RawAnswer & { socket: Socket; rest: Buffer }> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    let closed = false;
    let resolved = false;
    let answer: (RawAnswer & { socket: Socket; rest: Buffer }) | undefined;

    const finish = (timedOut: boolean) => {
      if (resolved) return;
      if (!answer) {
        const text = received.toString("latin1");
        const headEnd = text.indexOf(HEAD_END);
        const parsed =
          headEnd === -1
            ? { status: 0, statusLine: text.slice(0, 200), headers: {} }
            : parseHead(text.slice(0, headEnd));
        const rest =
          headEnd === -1 ? Buffer.alloc(0) : received.subarray(headEnd + HEAD_END.length);
        answer = {
          ...parsed,
          body: parsed.status === 101 ? "" : rest.toString("utf8"),
          rest,
          closed,
          timedOut,
          ms: performance.now() - started,
          socket,
        };
      }
      answer.closed = closed;
      const closing = answer.headers.connection?.toLowerCase() === "close";
      if (closing && !closed && !timedOut) return;
      resolved = true;
      clearTimeout(timer);
      if (!(options.keepOpen && answer.status === 101)) socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(true), timeoutMs);

    socket.on("data", (chunk) => {
      if (answer) return;
      received = Buffer.concat([received, chunk]);
      const headEnd = received.indexOf(HEAD_END);
      if (headEnd === -1) return;
      const { status, headers } = parseHead(received.subarray(0, headEnd).toString("latin1"));
      const bodyLength = Number(headers["content-length"] ?? 0);
      const noBody = status === 101 || /^HEAD /.test(String(request).slice(0, 5));
      if (noBody || received.length - headEnd - HEAD_END.length >= bodyLength) finish(false);
    });
    socket.on("close", () => {
      closed = true;
      finish(false);
    });
    socket.on("error", () => undefined);
    socket.write(request);
  });
}

/** The request line and headers of a WebSocket upgrade, ready for extra header lines and the blank line. */
export function upgradeHead(
  path: string,
  options: { method?: string; version?: "1.0" | "1.1"; host?: string | null } = {},
): string {
  const host = options.host === undefined ? "127.0.0.1" : options.host;
  return (
    [
      `${options.method ?? "GET"} ${path} HTTP/${options.version ?? "1.1"}`,
      ...(host === null ? [] : [`Host: ${host}`]),
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
    ].join("\r\n") + "\r\n"
  );
}

/**
 * A loopback stand-in for the guard's answers (the real one, HAProxy, is infra/guard's), run as a
 * child process by guardAnswers.ts so its sockets never hold up vitest.
 *
 *   upgrade, any path  ?answer=N answers with status N (never 101), `Retry-After: <retry_after>` when
 *                      given, and the body `<body>` (default `{}`); without `answer`, 404.
 *   GET /health        what `PUT /control/health` last set ({"status": n, "body": "<text>"}),
 *                      at first 200 {"up":true,"sessions":0,"capacity":1};
 *                      `?status=N&body=<text>` answers that instead, for a health URL of its own.
 *   GET /debug/upgrades  every upgrade request received: path, query, headers.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";

interface Answer {
  status: number;
  body: string;
}

let health: Answer = { status: 200, body: JSON.stringify({ up: true, sessions: 0, capacity: 1 }) };
const upgrades: { path: string; query: string; headers: IncomingHttpHeaders }[] = [];

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://guard");
  if (url.pathname === "/control/health" && req.method === "PUT") {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => {
      health = JSON.parse(text) as Answer;
      res.writeHead(204).end();
    });
    return;
  }
  if (url.pathname === "/health") {
    const status = url.searchParams.get("status");
    const answer =
      status === null
        ? health
        : { status: Number(status), body: url.searchParams.get("body") ?? "" };
    res.writeHead(answer.status, { "Content-Type": "application/json" });
    return res.end(answer.body);
  }
  if (url.pathname === "/debug/upgrades") {
    res.writeHead(200, { "Content-Type": "application/json" });
    return res.end(JSON.stringify(upgrades));
  }
  res.writeHead(404).end();
});

server.on("upgrade", (req, socket) => {
  const url = new URL(req.url ?? "/", "http://guard");
  upgrades.push({ path: url.pathname, query: url.search, headers: req.headers });
  const status = url.searchParams.get("answer");
  if (status === null || !/^[1-5]\d\d$/.test(status) || status === "101") {
    socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  const body = Buffer.from(url.searchParams.get("body") ?? "{}");
  const retryAfter = url.searchParams.get("retry_after");
  socket.end(
    [
      `HTTP/1.1 ${status} Refused`,
      "Content-Type: application/json",
      ...(retryAfter === null ? [] : [`Retry-After: ${retryAfter}`]),
      `Content-Length: ${body.length}`,
      "Connection: close",
      "",
      body.toString(),
    ].join("\r\n"),
  );
});

const shutdown = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", shutdown);
process.on("disconnect", shutdown);
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address();
  process.send?.({ event: "listening", port: typeof address === "object" && address?.port });
});

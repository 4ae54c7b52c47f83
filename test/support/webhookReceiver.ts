import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

/** One POST the receiver took, and the status it answered. */
export interface WebhookPost {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> & { probe?: Record<string, unknown> };
  answered: number;
}

/**
 * A loopback stand-in of the alert webhook (a Slack incoming webhook): records every POST by path;
 * `failNext` makes the next POSTs to a path get a 500.
 */
export function startWebhookReceiver() {
  const posts: WebhookPost[] = [];
  const failures = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => {
      const path = req.url ?? "/";
      const failing = failures.get(path) ?? 0;
      failures.set(path, Math.max(0, failing - 1));
      const answered = failing > 0 ? 500 : 200;
      posts.push({ path, headers: req.headers, body: JSON.parse(text), answered });
      res.writeHead(answered).end();
    });
  });
  return {
    posts,
    server,
    failNext: (path: string, count: number) => failures.set(path, count),
    to: (path: string) => posts.filter((post) => post.path === path),
    listening: new Promise<number>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
    ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";
import { STOCK_VOICES } from "../../worker/src/voices";

/** The session options the demo page starts with: what the real PersonaPlex server needs. */
export const DEMO_SESSION_OPTIONS = {
  text_prompt: "You enjoy having a good conversation.",
  voice_prompt: "NATF2.pt",
} as const;

/** Where the page's files are: plain HTML, CSS and one ES module, served as they are. */
export const DEMO_PAGE_DIR = join(PROJECT_ROOT, "tools", "demo");

const PAGE_FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/demo.js": { file: "demo.js", type: "text/javascript; charset=utf-8" },
  "/demo.css": { file: "demo.css", type: "text/css; charset=utf-8" },
};

/** A visitor's name as the page makes one: the token's `sub`, one per page, so each page holds its own place in line. */
const SUBJECT = /^[A-Za-z0-9_.-]{1,64}$/;
/** Host names that can only mean this machine: a page from another name (DNS rebinding) gets no token. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

export interface DemoServerOptions {
  port: number;
  /** The edge the page talks to, e.g. http://127.0.0.1:8787: its WebSocket, its health and the kit it serves. */
  edgeOrigin: string;
  /** Where the edge serves the client kit, e.g. /voice/kit/v1/voice.mjs. */
  kitPath: string;
  /** A fresh token for `subject`; undefined when the edge takes none (auth off). */
  mintToken?: (subject: string) => Promise<string>;
}

export interface DemoServer {
  origin: string;
  close(): Promise<void>;
}

/** What the page reads first: where the edge is, the kit, the voices to offer and the defaults. */
export interface DemoPageConfig {
  wsUrl: string;
  kitUrl: string;
  healthUrl: string;
  voices: readonly string[];
  sessionOptions: Record<string, string>;
  tokens: boolean;
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  let body = "";
  for await (const chunk of request) {
    body += chunk;
    if (body.length > limit) return undefined;
  }
  return body;
}

/**
 * Whether a request comes from a page of this very server: its Host a loopback name with this
 * port, and its Origin that same origin (browsers send Origin on every POST from a page).
 */
export function sameLoopbackOrigin(
  headers: { host?: string; origin?: string },
  port: number,
): boolean {
  const host = headers.host ?? "";
  const name = host.slice(0, host.lastIndexOf(":"));
  return (
    LOOPBACK_HOSTS.has(name) &&
    host.slice(name.length + 1) === String(port) &&
    headers.origin === `http://${host}`
  );
}

/**
 * The local demo page's server (`npm run dev`, never deployed), on loopback: `/` the page and its
 * two files, `/config.json` where the edge is, and `POST /token` a fresh development token for a
 * page of this origin, minted as a website's backend would.
 */
export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const edge = new URL(options.edgeOrigin);
  const config: DemoPageConfig = {
    wsUrl: `ws://${edge.host}/voice/ws`,
    kitUrl: `${edge.origin}${options.kitPath}`,
    healthUrl: `${edge.origin}/voice/health`,
    voices: STOCK_VOICES,
    sessionOptions: { ...DEMO_SESSION_OPTIONS },
    tokens: options.mintToken !== undefined,
  };
  let port = options.port;

  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://demo").pathname;
    try {
      if (path === "/token") {
        if (request.method !== "POST") {
          response.setHeader("Allow", "POST");
          return json(response, 405, { error: "method_not_allowed" });
        }
        if (!sameLoopbackOrigin(request.headers, port))
          return json(response, 403, { error: "origin_not_allowed" });
        if (!options.mintToken) return json(response, 404, { error: "no_tokens_auth_off" });
        const body = await readBody(request, 1024);
        let subject: unknown;
        try {
          subject = (JSON.parse(body ?? "") as { subject?: unknown }).subject;
        } catch {
          subject = undefined;
        }
        if (typeof subject !== "string" || !SUBJECT.test(subject))
          return json(response, 400, { error: "subject_invalid" });
        return json(response, 200, { token: await options.mintToken(subject) });
      }
      if (request.method !== "GET" && request.method !== "HEAD")
        return json(response, 405, { error: "method_not_allowed" });
      if (path === "/config.json") return json(response, 200, config);
      const page = PAGE_FILES[path];
      if (!page) return json(response, 404, { error: "not_found" });
      const content = await readFile(join(DEMO_PAGE_DIR, page.file));
      response.writeHead(200, {
        "Content-Type": page.type,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
      });
      response.end(request.method === "HEAD" ? undefined : content);
    } catch (error) {
      json(response, 500, { error: "demo_server_error", message: String(error) });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as { port: number }).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

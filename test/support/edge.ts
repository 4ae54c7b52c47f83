import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import WebSocket from "ws";
import { BUNDLE_PATH } from "../../worker/build";
import { startLocalEdge, type LocalEdge } from "../../tools/lib/localEdge";
import { loadStackSettings } from "../../infra/config/stackFiles";

export const TEST_SECRET = "test-secret-0123456789-abcdefghijklmnop";
export const ISSUER = "https://issuer.test";
export const AUDIENCE = "voice-edge";
export const APP_ORIGIN = "https://app.example";

export interface TestEdge {
  edge: LocalEdge;
  /** ws://127.0.0.1:<port> */
  wsOrigin: string;
  httpOrigin: string;
  logs: string[];
  dispose(): Promise<void>;
}

/** The built bundle, run in workerd with the staging stack's pinned compatibility date. */
export async function startTestEdge(
  bindings: Record<string, unknown>,
  options: { d1Databases?: string[]; points?: { dataset: string } } = {},
): Promise<TestEdge> {
  const logs: string[] = [];
  const edge = await startLocalEdge({
    code: readFileSync(BUNDLE_PATH, "utf8"),
    compatibilityDate: loadStackSettings("staging").compatibilityDate,
    bindings,
    d1Databases: options.d1Databases,
    points: options.points,
    onLogLine: (line) => logs.push(line),
  });
  const httpOrigin = edge.url.origin;
  return {
    edge,
    httpOrigin,
    wsOrigin: httpOrigin.replace(/^http/, "ws"),
    logs,
    dispose: () => edge.dispose(),
  };
}

export function jwtEdgeConfig(
  overrides: Record<string, unknown> = {},
  authOverrides: Record<string, unknown> = {},
) {
  return {
    auth: {
      mode: "jwt",
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      cookieName: "voice_token",
      ...authOverrides,
    },
    allowedOrigins: [APP_ORIGIN],
    allowMissingOrigin: true,
    bridgeConnectTimeoutMs: 1_000,
    healthTimeoutMs: 500,
    ...overrides,
  };
}

export interface Refusal {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error?: string; [key: string]: unknown };
}

export interface OpenSession {
  ws: WebSocket;
  protocol: string;
  /** The 101's headers. */
  headers: IncomingHttpHeaders;
  /** Resolves with the next frame; rejects after `ms` or on error. */
  next(ms?: number): Promise<{ data: Buffer; isBinary: boolean }>;
  /** Resolves with the close code and reason the client received. */
  closed: Promise<{ code: number; reason: string }>;
}

export type UpgradeResult =
  { kind: "open"; session: OpenSession } | { kind: "refused"; refusal: Refusal };

/** Opens a WebSocket like a real client and reports either the open session or the HTTP refusal. */
export function upgrade(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? [], {
      headers: options.headers,
      handshakeTimeout: 15_000,
    });
    const queue: { data: Buffer; isBinary: boolean }[] = [];
    const waiters: ((frame: { data: Buffer; isBinary: boolean }) => void)[] = [];
    ws.on("message", (data, isBinary) => {
      const frame = { data: data as Buffer, isBinary };
      const waiter = waiters.shift();
      if (waiter) waiter(frame);
      else queue.push(frame);
    });
    const closed = new Promise<{ code: number; reason: string }>((resolveClose) => {
      ws.on("close", (code, reason) => resolveClose({ code, reason: reason.toString() }));
    });
    let headers: IncomingHttpHeaders = {};
    ws.once("upgrade", (response) => (headers = response.headers));
    ws.once("open", () => {
      resolve({
        kind: "open",
        session: {
          ws,
          protocol: ws.protocol,
          headers,
          closed,
          next: (ms = 5_000) =>
            new Promise((resolveFrame, rejectFrame) => {
              const queued = queue.shift();
              if (queued) return resolveFrame(queued);
              const timer = setTimeout(
                () => rejectFrame(new Error(`no frame within ${ms} ms`)),
                ms,
              );
              waiters.push((frame) => {
                clearTimeout(timer);
                resolveFrame(frame);
              });
            }),
        },
      });
    });
    ws.once("unexpected-response", (_request, response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        let body: Refusal["body"] = {};
        try {
          body = JSON.parse(text);
        } catch {
          body = { raw: text };
        }
        resolve({
          kind: "refused",
          refusal: { status: response.statusCode ?? 0, headers: response.headers, body },
        });
        ws.terminate();
      });
    });
    ws.once("error", (error) => reject(error));
  });
}

export async function expectOpen(
  url: string,
  options?: Parameters<typeof upgrade>[1],
): Promise<OpenSession> {
  const result = await upgrade(url, options);
  if (result.kind !== "open")
    throw new Error(
      `expected 101, got ${result.refusal.status} ${JSON.stringify(result.refusal.body)}`,
    );
  return result.session;
}

export async function expectRefused(
  url: string,
  options?: Parameters<typeof upgrade>[1],
): Promise<Refusal> {
  const result = await upgrade(url, options);
  if (result.kind !== "refused") {
    result.session.ws.terminate();
    throw new Error("expected a refusal, but the upgrade succeeded");
  }
  return result.refusal;
}

/** A session the edge refused after authentication: a 101, then at once a close with a JSON reason. */
export interface RefusedSession {
  code: number;
  reason: Record<string, unknown>;
  /** The reason as it came, to check its size. */
  rawReason: string;
  protocol: string;
  headers: IncomingHttpHeaders;
}

/** Expects a 101 whose first event is a close (not a frame) and reads its code and JSON reason. */
export async function expectRefusedSession(
  url: string,
  options?: Parameters<typeof upgrade>[1],
): Promise<RefusedSession> {
  const session = await expectOpen(url, options);
  const first = await Promise.race([
    session.closed.then((close) => ({ close })),
    session.next(15_000).then(
      (frame) => ({ frame }),
      () => ({ frame: null }),
    ),
  ]);
  if (!("close" in first)) {
    session.ws.terminate();
    throw new Error("expected the session to close at once, but a frame came first");
  }
  let reason: Record<string, unknown>;
  try {
    reason = JSON.parse(first.close.reason) as Record<string, unknown>;
  } catch {
    reason = { raw: first.close.reason };
  }
  return {
    code: first.close.code,
    reason,
    rawReason: first.close.reason,
    protocol: session.protocol,
    headers: session.headers,
  };
}

import WebSocket from "ws";
import type { LineMessage } from "../../worker/src/line/contract";

/** A page's socket on `/voice/line`: every JSON message it received, in order, and its close. */
export interface LineClient {
  ws: WebSocket;
  messages: LineMessage[];
  /** Text frames that are not JSON (the runtime's `pong`). */
  other: string[];
  /** Resolves with the first message from the start that satisfies `until` (and was not taken yet by an earlier `next`); rejects after `ms` or when the socket closes first. */
  next(until?: (message: LineMessage) => boolean, ms?: number): Promise<LineMessage>;
  /** The last position message received, if any. */
  position(): Extract<LineMessage, { type: "position" }> | undefined;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens `url` as a page would (subprotocols, Origin) and collects the line's messages. */
export function lineClient(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): LineClient {
  const ws = new WebSocket(url, options.protocols ?? [], {
    headers: options.headers,
    handshakeTimeout: 15_000,
  });
  const messages: LineMessage[] = [];
  const other: string[] = [];
  let taken = 0;
  const wakers = new Set<() => void>();
  let ended = false;
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    if (text.startsWith("{")) messages.push(JSON.parse(text) as LineMessage);
    else other.push(text);
    for (const wake of wakers) wake();
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_request, response) =>
      reject(new Error(`line upgrade answered ${response.statusCode}`)),
    );
  });
  opened.catch(() => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => {
      ended = true;
      for (const wake of wakers) wake();
      resolve({ code, reason: reason.toString() });
    }),
  );
  const next = (until: (message: LineMessage) => boolean = () => true, ms = 15_000) =>
    new Promise<LineMessage>((resolve, reject) => {
      const look = () => {
        for (let i = taken; i < messages.length; i++)
          if (until(messages[i])) {
            taken = i + 1;
            done();
            resolve(messages[i]);
            return;
          }
        if (ended) {
          done();
          reject(new Error(`the line socket closed; messages: ${JSON.stringify(messages)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no such line message within ${ms} ms: ${JSON.stringify(messages)}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        wakers.delete(look);
      };
      wakers.add(look);
      look();
    });
  const position = () =>
    messages.findLast(
      (message): message is Extract<LineMessage, { type: "position" }> =>
        message.type === "position",
    );
  return { ws, messages, other, next, position, opened, closed };
}

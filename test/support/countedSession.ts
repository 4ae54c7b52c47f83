import { connect } from "node:net";
import { upgradeHead } from "./rawHttp";

/** One WebSocket session over a raw TCP socket, every byte each way counted as it went over the wire. */
export interface CountedSession {
  /** Bytes this client wrote: the upgrade request, its frames and its close frame. */
  bytesUp: number;
  /** Bytes it read: the 101 head, the server's frames and its close frame. */
  bytesDown: number;
  status: number;
  /** Milliseconds from the connect to the socket's end, as this client saw them. */
  elapsedMs: number;
}

/** A masked client frame (RFC 6455), `payload` at most 65,535 bytes. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const length =
    payload.length < 126
      ? Buffer.from([0x80 | payload.length])
      : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x80 | opcode]), length, mask, masked]);
}

/**
 * Upgrades `path` on 127.0.0.1:`port`, sends `frames` binary frames of `frameBytes` each, holds the
 * session at least `holdMs`, then closes it (1000) and reads until the server ends the connection.
 * A refusal ends it at once (its status, nothing sent).
 */
export function countedSession(
  port: number,
  path: string,
  options: { frames: number; frameBytes: number; holdMs: number; withinMs?: number },
): Promise<CountedSession> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, "127.0.0.1");
    let bytesUp = 0;
    let bytesDown = 0;
    let head = Buffer.alloc(0);
    let status = 0;
    const write = (bytes: Buffer | string) => {
      bytesUp += Buffer.byteLength(bytes);
      socket.write(bytes);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`session not over within ${options.withinMs ?? 15_000} ms`));
    }, options.withinMs ?? 15_000);
    socket.on("data", (chunk) => {
      bytesDown += chunk.length;
      if (status !== 0) return;
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      status = Number(head.subarray(0, 12).toString("latin1").slice(9, 12));
      if (status !== 101) return void socket.destroy();
      for (let i = 0; i < options.frames; i++)
        write(clientFrame(0x2, Buffer.alloc(options.frameBytes, i)));
      setTimeout(() => write(clientFrame(0x8, Buffer.from([0x03, 0xe8]))), options.holdMs);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ bytesUp, bytesDown, status, elapsedMs: performance.now() - started });
    });
    write(`${upgradeHead(path)}\r\n`);
  });
}

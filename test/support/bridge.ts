import type { IncomingHttpHeaders } from "node:http";

export interface BridgeSessionRecord {
  id: number;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  protocol: string;
  framesReceived: number;
  open: boolean;
  closed: { code: number; reason: string } | null;
}

export async function bridgeSessions(bridgeOrigin: string): Promise<BridgeSessionRecord[]> {
  const response = await fetch(`${bridgeOrigin}/debug/sessions`);
  return (await response.json()) as BridgeSessionRecord[];
}

/** The bridge's record of the session whose query carried `marker`, waiting up to `withinMs` for it to appear (and satisfy `until`). */
export async function bridgeSessionWith(
  bridgeOrigin: string,
  marker: string,
  until: (s: BridgeSessionRecord) => boolean = () => true,
  withinMs = 5_000,
): Promise<BridgeSessionRecord> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const found = (await bridgeSessions(bridgeOrigin)).find((s) => s.query.includes(marker));
    if (found && until(found)) return found;
    if (Date.now() > deadline)
      throw new Error(
        `bridge has no session matching ${marker}${found ? " in the expected state" : ""}`,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
}

let counter = 0;
/** A unique query marker, to find this test's session among the bridge's records. */
export function marker(): string {
  return `t${process.pid}x${++counter}x${Date.now()}`;
}

export interface BridgeHealth {
  status: string;
  /** WebSocket sessions the bridge holds open right now. */
  openSessions: number;
  sessionsStarted: number;
  /** Every upgrade request that reached the bridge, on any path. */
  upgradesReceived: number;
}

export async function bridgeHealth(bridgeOrigin: string): Promise<BridgeHealth> {
  const response = await fetch(`${bridgeOrigin}/health`);
  return (await response.json()) as BridgeHealth;
}

/** Polls the bridge's health until `until` holds; resolves with the milliseconds it took, rejects after `withinMs`. */
export async function bridgeReaches(
  bridgeOrigin: string,
  until: (health: BridgeHealth) => boolean,
  withinMs: number,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    const health = await bridgeHealth(bridgeOrigin);
    if (until(health)) return performance.now() - started;
    if (performance.now() - started > withinMs)
      throw new Error(
        `bridge did not reach the expected state within ${withinMs} ms: ${JSON.stringify(health)}`,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
}

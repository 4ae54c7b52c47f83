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

/** The bridge's record of the session whose query carried `marker`, waiting briefly for it to appear. */
export async function bridgeSessionWith(bridgeOrigin: string, marker: string, until: (s: BridgeSessionRecord) => boolean = () => true): Promise<BridgeSessionRecord> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const found = (await bridgeSessions(bridgeOrigin)).find((s) => s.query.includes(marker));
    if (found && until(found)) return found;
    if (Date.now() > deadline) throw new Error(`bridge has no session matching ${marker}${found ? " in the expected state" : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let counter = 0;
/** A unique query marker, to find this test's session among the bridge's records. */
export function marker(): string {
  return `t${process.pid}x${++counter}x${Date.now()}`;
}

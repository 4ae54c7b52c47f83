import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStandinBridge, type StandinBridge } from "../../tools/lib/bridgeProcess";
import { startGuardProcess, type GuardProcess } from "../../tools/lib/guardProcess";

export interface FleetBridge {
  name: string;
  server: StandinBridge;
  guard: GuardProcess;
}

export interface GuardedFleet {
  bridges: FleetBridge[];
  /** The edge's (and the line script's) `BRIDGES` binding: each guard's `/api/chat`. */
  binding: { name: string; url: string }[];
  stop(): Promise<void>;
}

/**
 * One personaplex stand-in (one conversation at a time) behind its own real guard (HAProxy) per
 * name, every guard admitting `voices`; `guardArgs(i)` adds flags to the i-th guard.
 */
export async function startGuardedFleet(options: {
  names: readonly string[];
  voices: readonly string[];
  promptDelayMs?: number;
  guardArgs?: (index: number) => string[];
}): Promise<GuardedFleet> {
  const workDir = mkdtempSync(join(tmpdir(), "voice-edge-fleet-"));
  const voicesFile = join(workDir, "voices.txt");
  writeFileSync(voicesFile, `${options.voices.join("\n")}\n`);
  const bridges = await Promise.all(
    options.names.map(async (name, i) => {
      const server = await startStandinBridge({
        mode: "personaplex",
        voices: [...options.voices],
        ...(options.promptDelayMs === undefined ? {} : { promptDelayMs: options.promptDelayMs }),
      });
      const guard = await startGuardProcess([
        "--upstream",
        server.origin,
        ...(options.guardArgs?.(i) ?? []),
        "--voices",
        voicesFile,
      ]);
      return { name, server, guard };
    }),
  );
  return {
    bridges,
    binding: bridges.map(({ name, guard }) => ({ name, url: `${guard.origin}/api/chat` })),
    async stop() {
      await Promise.all(bridges.flatMap(({ server, guard }) => [guard.stop(), server.stop()]));
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

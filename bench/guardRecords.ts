/**
 * The guard's session records, what they cost: the same HAProxy config with and without them,
 * in front of the PersonaPlex stand-in, `SESSIONS` short sessions each, rounds alternating, HAProxy's
 * own CPU time (/proc) per session. `npx tsx bench/guardRecords.ts`
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drainedMap, haproxyConfig, voicesFile } from "../infra/guard/haproxyConfig";
import { sessionRecordsLua } from "../infra/guard/sessionRecords";
import { startStandinBridge } from "../tools/lib/bridgeProcess";
import { PERSONAPLEX_QUERY } from "../test/support/bridge";
import { countedSession } from "../test/support/countedSession";
import { freePort } from "../test/support/freePort";
import { STOCK_VOICES } from "../worker/src/voices";

const SESSIONS = 300;
const ROUNDS = 3;
const TICKS_PER_S = 100;

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S;
}

async function guard(upstream: string, records: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "guard-records-bench-"));
  const port = await freePort();
  const input = {
    listen: { host: "127.0.0.1", port },
    upstream,
    capacity: 1,
    retryAfterS: 5,
    voicesFile: join(dir, "voices.txt"),
    drainedFile: join(dir, "drained.map"),
    statsSocket: join(dir, "admin.sock"),
    ...(records
      ? { sessionRecords: { luaFile: join(dir, "records.lua"), socket: join(dir, "log.sock") } }
      : {}),
  };
  writeFileSync(input.voicesFile, voicesFile(STOCK_VOICES));
  writeFileSync(input.drainedFile, drainedMap());
  writeFileSync(join(dir, "records.lua"), sessionRecordsLua());
  writeFileSync(join(dir, "haproxy.cfg"), haproxyConfig(input));
  const child = spawn("haproxy", ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    pid: child.pid!,
    stop() {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const server = await startStandinBridge({
  mode: "personaplex",
  voices: [...STOCK_VOICES],
  promptDelayMs: 0,
});
const variants = {
  without: await guard(server.origin, false),
  with: await guard(server.origin, true),
};
const totals = { without: { cpu: 0, wall: 0 }, with: { cpu: 0, wall: 0 } };
try {
  for (let round = 0; round < ROUNDS; round++)
    for (const name of ["without", "with"] as const) {
      const { port, pid } = variants[name];
      const cpu = cpuMs(pid);
      const started = performance.now();
      for (let i = 0; i < SESSIONS; i++) {
        const session = await countedSession(port, `/api/chat?${PERSONAPLEX_QUERY}`, {
          frames: 1,
          frameBytes: 640,
          holdMs: 0,
        });
        if (session.status !== 101) throw new Error(`session ${i} got ${session.status}`);
      }
      totals[name].wall += performance.now() - started;
      totals[name].cpu += cpuMs(pid) - cpu;
    }
  const records = await (
    await fetch(`http://127.0.0.1:${variants.with.port}/sessions?after=0`)
  ).json();
  const n = SESSIONS * ROUNDS;
  for (const name of ["without", "with"] as const)
    console.log(
      `${name} records: ${n} sessions, HAProxy CPU ${(totals[name].cpu / n).toFixed(3)} ms/session (${totals[name].cpu} ms), wall ${(totals[name].wall / n).toFixed(2)} ms/session`,
    );
  console.log(`records kept: last ${(records as { last: number }).last}`);
} finally {
  variants.without.stop();
  variants.with.stop();
  await server.stop();
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERSONAPLEX_QUERY } from "../test/support/bridge";
import { devForTheseTests, groupEndsAfterSigterm } from "../test/support/devProcess";
import { expectOpen, expectRefusedSession, type OpenSession } from "../test/support/edge";
import { runInProcess } from "../test/support/runInProcess";
import { startStandinBridge, type StandinBridge } from "./lib/bridgeProcess";
import { HAPROXY_MISSING, startGuardProcess, type GuardProcess } from "./lib/guardProcess";

const NO_HAPROXY = { HAPROXY_PATH: "/nonexistent/haproxy" };
const USAGE = /^usage: npm run dev -- /;

async function devToken(): Promise<string> {
  const run = await runInProcess("token", []);
  if (run.code !== 0) throw new Error(`token exited ${run.code}: ${run.stderr}`);
  return run.stdout.trim();
}

/** The fleet dev lists at start: each `    <name>  <url>` line under `bridges`. */
function listedFleet(output: string): { name: string; url: string }[] {
  return [...output.matchAll(/^ {4}(bridge-\d+) +(http:\/\/127\.0\.0\.1:\d+\/api\/chat)/gm)].map(
    ([, name, url]) => ({ name, url }),
  );
}

async function guardSessions(guardOrigin: string): Promise<number> {
  const response = await fetch(`${guardOrigin}/health`);
  return ((await response.json()) as { sessions: number }).sessions;
}

/**
 * Two clients each get the stand-in's 0x00 through a different guard (each guard's /health then
 * says one session), and a third, with both busy, gets 1013 bridge_busy.
 */
async function fillTwoBridges(edgePort: number, guardOrigins: string[]): Promise<void> {
  const url = `ws://127.0.0.1:${edgePort}/voice/ws?${PERSONAPLEX_QUERY}`;
  const protocols = ["voice.v1", `bearer.${await devToken()}`];
  const sessions: OpenSession[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const session = await expectOpen(url, { protocols });
      sessions.push(session);
      expect((await session.next()).data).toEqual(Buffer.from([0]));
    }
    for (const origin of guardOrigins)
      await expect.poll(() => guardSessions(origin), { timeout: 5_000, interval: 100 }).toBe(1);
    const third = await expectRefusedSession(url, { protocols });
    expect(third.code).toBe(1013);
    expect(third.reason.error).toBe("bridge_busy");
  } finally {
    for (const session of sessions) session.ws.close(1000);
  }
  for (const origin of guardOrigins)
    await expect.poll(() => guardSessions(origin), { timeout: 5_000, interval: 100 }).toBe(0);
}

describe("npm run dev -- --bridges 2", () => {
  const dev = devForTheseTests((port) => ({
    args: ["--port", String(port), "--bridges", "2"],
    env: { BRIDGE_URL: "" },
  }));

  it("shows each bridge as it comes up, then lists the fleet and the next commands", () => {
    expect(dev.output).toContain(
      "fleet: starting 2 PersonaPlex stand-ins, each behind its own guard (HAProxy)…",
    );
    expect(dev.output).toMatch(
      /^fleet: bridge-\d up at http:\/\/127\.0\.0\.1:\d+\/api\/chat \(2\/2\)$/m,
    );
    expect(listedFleet(dev.output).map(({ name }) => name)).toEqual(["bridge-1", "bridge-2"]);
    expect(dev.output).toMatch(
      /^ {4}bridge-1 {2}http:\/\/127\.0\.0\.1:\d+\/api\/chat → stand-in http:\/\/127\.0\.0\.1:\d+ \(guard health http:\/\/127\.0\.0\.1:\d+\/health\)$/m,
    );
    expect(dev.output).toContain(
      `npm run --silent smoke -- --url ws://127.0.0.1:${dev.port}/voice/ws --token "$(npm run --silent token)"`,
    );
    expect(dev.output).toContain(
      "a page on its own origin (e.g. http://localhost:3000) is refused 403 origin_not_allowed, which it sees as 1006:\n              run dev with --allow-origin http://localhost:3000",
    );
    expect(dev.output).toContain(
      "Ctrl-C stops the demo page, the edge, the 2 guards and the 2 stand-in bridges.",
    );
  });

  it("counts both bridges up and free on /voice/health", async () => {
    const response = await fetch(`http://127.0.0.1:${dev.port}/voice/health`);
    expect(((await response.json()) as { bridges: unknown }).bridges).toEqual({
      total: 2,
      up: 2,
      free: 2,
    });
  });

  it("admits two sessions to different bridges and gives a third 1013", async () => {
    await fillTwoBridges(
      dev.port,
      listedFleet(dev.output).map(({ url }) => new URL(url).origin),
    );
  });

  it("stops the edge, every guard with its HAProxy and every stand-in when npm's own process gets SIGTERM", async () => {
    expect(await groupEndsAfterSigterm(dev.process, 10_000)).toBe(true);
  });
});

describe("npm run dev -- --bridge-url <guard 1> --bridge-url <guard 2>", () => {
  const standins: StandinBridge[] = [];
  const guards: GuardProcess[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const standin = await startStandinBridge({ mode: "personaplex", promptDelayMs: 50 });
      standins.push(standin);
      guards.push(await startGuardProcess(["--upstream", standin.origin]));
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(guards.map((guard) => guard.stop()));
    await Promise.all(standins.map((standin) => standin.stop()));
  });
  const dev = devForTheseTests((port) => ({
    args: [
      "--port",
      String(port),
      ...guards.flatMap((g) => ["--bridge-url", `${g.origin}/api/chat`]),
    ],
    env: { BRIDGE_URL: "" },
  }));

  it("lists the guards as bridge-1 and bridge-2 in the order given", () => {
    expect(listedFleet(dev.output)).toEqual([
      { name: "bridge-1", url: `${guards[0].origin}/api/chat` },
      { name: "bridge-2", url: `${guards[1].origin}/api/chat` },
    ]);
    expect(dev.output).toContain("bridges    2 from --bridge-url, bound as BRIDGES");
    expect(dev.output).toContain("Ctrl-C stops the demo page, the edge; the bridges keep running.");
  });

  it("admits two sessions to different guards and gives a third 1013", async () => {
    await fillTwoBridges(
      dev.port,
      guards.map((guard) => guard.origin),
    );
  });

  it("leaves the guards it was given running when it stops", async () => {
    expect(await groupEndsAfterSigterm(dev.process, 10_000)).toBe(true);
    for (const guard of guards) expect(await guardSessions(guard.origin)).toBe(0);
  });
});

describe("npm run dev without HAProxy", () => {
  const dev = devForTheseTests((port) => ({
    args: ["--port", String(port)],
    env: { BRIDGE_URL: "", ...NO_HAPROXY },
  }));

  it("still runs the edge in front of the stand-in alone, and says so in one line", async () => {
    expect(dev.output).toContain(
      `guard: ${HAPROXY_MISSING}; the edge reaches the stand-in directly`,
    );
    expect(dev.output).not.toContain("  guard      HAProxy");
    expect(dev.output).toContain("Ctrl-C stops the demo page, the edge and the stand-in bridge.");
    const session = await expectOpen(`ws://127.0.0.1:${dev.port}/voice/ws?${PERSONAPLEX_QUERY}`, {
      protocols: ["voice.v1", `bearer.${await devToken()}`],
    });
    expect((await session.next()).data).toEqual(Buffer.from([0]));
    session.ws.close(1000);
  });
});

describe("npm run dev's mistakes about bridges", () => {
  const GUARD = "http://127.0.0.1:8999/api/chat";

  it.each([
    [["--bridges", "0"], {}, 'dev: --bridges "0" must be a whole number from 1 to 20'],
    [
      ["--bridges", "2", "--bridge-url", GUARD],
      {},
      "dev: --bridges and --bridge-url exclude each other: --bridges starts stand-ins, --bridge-url uses bridges already running",
    ],
    [
      ["--bridge-url", GUARD, "--bridge-url", "ws://127.0.0.1:9000/api/chat"],
      {},
      `dev: --bridge-url "ws://127.0.0.1:9000/api/chat": scheme ws: is not fetchable from a Worker: use https:// (or http://) with the bridge's path, e.g. https://voice-origin.example.com/api/chat`,
    ],
    [
      ["--bridge-url", GUARD],
      { BRIDGE_URL: "http://127.0.0.1:9000/api/chat" },
      "dev: BRIDGE_URL is set and --bridge-url given: use one of the two (unset BRIDGE_URL, or pass its URL as --bridge-url)",
    ],
  ])("answers %j with one line naming it, the usage and exit 2", async (args, env, line) => {
    const run = await runInProcess("dev", args, { env: { BRIDGE_URL: "", ...env } });
    const [first, second] = run.stderr.split("\n");
    expect(first).toBe(line);
    expect(second).toMatch(USAGE);
    expect(run.stdout).toBe("");
    expect(run.code).toBe(2);
  });

  it("says in one line that --bridges needs HAProxy when it is missing, exit 2, before building anything", async () => {
    const run = await runInProcess("dev", ["--bridges", "2"], {
      env: { BRIDGE_URL: "", ...NO_HAPROXY },
    });
    expect(run.stderr).toBe(
      `dev: --bridges runs each stand-in behind its own guard, which needs HAProxy: ${HAPROXY_MISSING}\n`,
    );
    expect(run.stdout).toBe("");
    expect(run.code).toBe(2);
  });
});

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { refusalOfAnswer } from "../worker/src/guardAnswers";
import { STOCK_VOICES } from "../worker/src/voices";
import {
  drainedMap,
  haproxyConfig,
  SERVER_REF,
  SESSION_CAP_BOUND_S,
  SESSION_CAP_LOG_PREFIX,
  sessionCapLua,
  UPGRADE_TIMEOUT_S,
  VM_PATHS,
  voicesFile,
  type GuardConfigInput,
} from "../infra/guard/haproxyConfig";
import { freePort } from "../test/support/freePort";
import { processTree } from "../test/support/processes";
import { rawRequest, upgradeHead, type RawAnswer } from "../test/support/rawHttp";
import { npmRun } from "../test/support/runCommand";
import { startEchoUpstream, type EchoUpstream } from "../test/support/wsEchoUpstream";
import { adminCommand, runDirectory, run as guardCommand } from "./guard";
import { startStandinBridge, type StandinBridge } from "./lib/bridgeProcess";
import { haproxyBinary, startGuardProcess, type GuardProcess } from "./lib/guardProcess";
import { selfSignedCertificate } from "./lib/selfSignedCertificate";
import { SPLIT_QUERIES } from "../test/support/splitQueries";

type Guard = GuardProcess;

const startGuard = (args: string[]) => startGuardProcess(args);

/** Polls `check` every 50 ms, at most `withinMs`. */
async function until(check: () => boolean | Promise<boolean>, withinMs = 10_000): Promise<void> {
  for (let waited = 0; waited <= withinMs; waited += 50) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not reached within ${withinMs} ms`);
}

type Upgrade =
  | { opened: true; ws: WebSocket }
  | { opened: false; status: number; headers: Record<string, unknown>; body: unknown };

function upgrade(url: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("open", () => resolve({ opened: true, ws }));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () =>
        resolve({
          opened: false,
          status: res.statusCode!,
          headers: res.headers,
          body: JSON.parse(body),
        }),
      );
    });
    ws.once("error", reject);
  });
}

async function session(url: string): Promise<WebSocket> {
  const answer = await upgrade(url);
  if (!answer.opened)
    throw new Error(`upgrade refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.ws;
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no echo within 5 s")), 5_000);
    ws.once("message", (data) => (clearTimeout(timer), resolve(data.toString())));
    ws.send(text);
  });
}

function close(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    ws.once("close", () => resolve());
    ws.close(1000);
  });
}

async function health(port: number): Promise<{ status: number; text: string; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) };
}

const QUERY = "text_prompt=You%20are%20kind&voice_prompt=NATF0.pt&text_seed=42&secretmarker=q1";
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("the guard in front of a plain http upstream", () => {
  let upstream: EchoUpstream;
  let guard: Guard;
  let dir: string;
  let chat: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "guard-test-"));
    writeFileSync(join(dir, "voices.txt"), "NATF0.pt\nNATM1.pt\n");
    upstream = await startEchoUpstream();
    guard = await startGuard([
      "--upstream",
      `http://127.0.0.1:${upstream.port}`,
      "--voices",
      join(dir, "voices.txt"),
      "--retry-after",
      "7",
    ]);
    chat = `ws://127.0.0.1:${guard.port}/api/chat?${QUERY}`;
    await until(async () => ((await health(guard.port)).body as { up: boolean }).up);
  }, 30_000);

  afterAll(async () => {
    await guard?.stop();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers a second concurrent session 503 + Retry-After while the first echoes, then admits a new one", async () => {
    const first = await session(chat);
    expect(await echo(first, "one")).toBe("one");
    expect(await health(guard.port)).toMatchObject({
      status: 200,
      body: { up: true, sessions: 1, capacity: 1, draining: false },
    });
    const second = await upgrade(chat);
    expect(second).toMatchObject({
      opened: false,
      status: 503,
      headers: { "retry-after": "7", "content-type": "application/json" },
      body: { error: "bridge_busy", retryAfterS: 7 },
    });
    expect(await echo(first, "still here")).toBe("still here");
    await close(first);
    await until(
      async () => ((await health(guard.port)).body as { sessions: number }).sessions === 0,
    );
    const third = await session(chat);
    expect(await echo(third, "three")).toBe("three");
    await close(third);
  });

  it.each([
    ["text_prompt", "voice_prompt=NATF0.pt"],
    ["voice_prompt", "text_prompt=hi"],
    ["voice_prompt", "text_prompt=hi&voice_prompt=NOPE.pt"],
    ["seed", "text_prompt=hi&voice_prompt=NATF0.pt&seed=1"],
    ["voice_prompt", "text_prompt=hi&voice_prompt=evil.pt&voice_prompt=NATF0.pt"],
    ["voice_prompt", "text_prompt=hi&voice_prompt=NATF0.pt&voice%5Fprompt=evil.pt"],
    ["voice_prompt", "text_prompt=hi&voice_prompt=%2Fetc%2Fpasswd"],
    ["text_prompt", "text_prompt=a&voice_prompt=NATF0.pt&text_prompt=b"],
    ["seed", "text_prompt=hi&voice_prompt=NATF0.pt&s%65ed=1"],
  ])("refuses the upgrade with 400 naming %s (%s)", async (parameter, query) => {
    expect(await upgrade(`ws://127.0.0.1:${guard.port}/api/chat?${query}`)).toMatchObject({
      opened: false,
      status: 400,
      body: { error: "session_options_invalid", parameter },
    });
  });

  it.each(["/", "/index.html", "/api/chat/x", "/static/app.js"])(
    "answers %s with 404 JSON",
    async (path) => {
      const response = await fetch(`http://127.0.0.1:${guard.port}${path}`);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: "not_found" });
    },
  );

  it("drains: the live session continues, new ones get 503, --ready admits them again", async () => {
    const live = await session(chat);
    expect(await guardCommand(["--drain", "--port", String(guard.port)])).toBe(0);
    expect((await health(guard.port)).body).toEqual({
      up: true,
      sessions: 1,
      capacity: 1,
      draining: true,
    });
    await close(live);
    expect(await upgrade(chat)).toMatchObject({
      status: 503,
      headers: { "retry-after": "7" },
      body: { error: "bridge_busy", retryAfterS: 7 },
    });
    expect(await guardCommand(["--ready", "--port", String(guard.port)])).toBe(0);
    const next = await session(chat);
    expect(await echo(next, "back")).toBe("back");
    await close(next);
  });

  it("logs one line per session with status and termination, never a query string", async () => {
    await until(() => /status=101 termination=-- path=\/api\/chat/.test(guard.output()));
    const lines = guard.output().split("\n");
    expect(lines.filter((line) => line.includes("status=101")).length).toBeGreaterThanOrEqual(3);
    expect(lines.some((line) => /status=503 .*refused=bridge_busy/.test(line))).toBe(true);
    expect(lines.some((line) => line.includes("refused=session_options_invalid/seed"))).toBe(true);
    for (const line of lines) {
      expect(line).not.toContain("secretmarker");
      expect(line).not.toContain("?");
    }
  });

  it("says down (503, up:false, no address) once the upstream is gone, and new sessions get 503 bridge_unavailable", async () => {
    const idle = await health(guard.port);
    expect(idle.text).not.toMatch(/127\.0\.0\.1|\d+\.\d+\.\d+\.\d+|localhost/);
    await upstream.stop();
    await until(async () => (await health(guard.port)).status === 503);
    expect(await health(guard.port)).toMatchObject({
      status: 503,
      body: { up: false, sessions: 0, capacity: 1, draining: false },
    });
    expect(await upgrade(chat)).toMatchObject({
      status: 503,
      body: { error: "bridge_unavailable" },
    });
  });

  it("stops on SIGTERM, leaving no haproxy and no run directory", async () => {
    const tree = processTree(guard.process.pid!);
    expect(tree.length).toBeGreaterThan(1);
    await guard.stop();
    await until(() => tree.every((pid) => !alive(pid)), 5_000);
    expect(existsSync(runDirectory(guard.port))).toBe(false);
  });
});

describe("a drained guard whose server restarts (drain, wait for sessions 0, restart the server)", () => {
  let server: StandinBridge;
  let guard: Guard;
  let chat: string;

  beforeAll(async () => {
    server = await startStandinBridge();
    guard = await startGuard(["--upstream", server.origin, "--retry-after", "7"]);
    chat = `ws://127.0.0.1:${guard.port}/api/chat?${QUERY}`;
    await until(async () => ((await health(guard.port)).body as { up: boolean }).up);
  }, 30_000);

  afterAll(async () => {
    await guard?.stop();
    await server?.stop();
  });

  const serverDown = () => until(async () => (await health(guard.port)).status === 503);
  const serverUp = () => until(async () => (await health(guard.port)).status === 200);

  it("says draining while its server is down and again up, until --ready", async () => {
    expect(await guardCommand(["--drain", "--port", String(guard.port)])).toBe(0);
    await server.stop();
    await serverDown();
    expect(await health(guard.port)).toMatchObject({
      status: 503,
      body: { up: false, sessions: 0, capacity: 1, draining: true },
    });
    expect(await upgrade(chat)).toMatchObject({
      status: 503,
      body: { error: "bridge_unavailable" },
    });
    server = await startStandinBridge({ port: server.port });
    await serverUp();
    expect((await health(guard.port)).body).toEqual({
      up: true,
      sessions: 0,
      capacity: 1,
      draining: true,
    });
    expect(await upgrade(chat)).toMatchObject({
      status: 503,
      headers: { "retry-after": "7" },
      body: { error: "bridge_busy", retryAfterS: 7 },
    });
    expect(await guardCommand(["--ready", "--port", String(guard.port)])).toBe(0);
    expect((await health(guard.port)).body).toMatchObject({ up: true, draining: false });
    await close(await session(chat));
  });

  it("--ready while the server is down clears the mark: down, not draining", async () => {
    expect(await guardCommand(["--drain", "--port", String(guard.port)])).toBe(0);
    await server.stop();
    await serverDown();
    expect((await health(guard.port)).body).toMatchObject({ up: false, draining: true });
    expect(await guardCommand(["--ready", "--port", String(guard.port)])).toBe(0);
    expect(await health(guard.port)).toMatchObject({
      status: 503,
      body: { up: false, draining: false },
    });
    server = await startStandinBridge({ port: server.port });
    await serverUp();
  });

  it("says in one line when the guard has no drain mark where --socket expects the VM's", async () => {
    const socket = join(runDirectory(guard.port), "admin.sock");
    await expect(guardCommand(["--drain", "--socket", socket])).rejects.toThrow(
      `the guard on ${socket} has no drain mark ${VM_PATHS.drained} (its files predate it): its server is set to drain`,
    );
    expect(await guardCommand(["--ready", "--port", String(guard.port)])).toBe(0);
  });

  it("a server set to drain alone (no mark) says draining while it is up", async () => {
    const socket = join(runDirectory(guard.port), "admin.sock");
    expect(await adminCommand(socket, `set server ${SERVER_REF} state drain`)).toBe("");
    expect((await health(guard.port)).body).toMatchObject({ up: true, draining: true });
    expect(await adminCommand(socket, `set server ${SERVER_REF} state ready`)).toBe("");
    expect((await health(guard.port)).body).toMatchObject({ up: true, draining: false });
  });
});

describe("a guard stopped while HAProxy starts", () => {
  it("leaves no haproxy and no run directory", async () => {
    let child: ChildProcess | undefined;
    const starting = startGuardProcess(["--upstream", "http://127.0.0.1:9"], {
      onSpawn: (spawned) => (child = spawned),
    });
    // The guard's own SIGTERM handler is there from HAProxy's spawn on: wait for HAProxy, not for the port.
    await until(() => child !== undefined && processTree(child.pid!).length > 1, 10_000);
    const tree = processTree(child!.pid!);
    child!.kill("SIGTERM");
    // Whether HAProxy was already listening or not, the stop must end it.
    await starting.catch(() => undefined);
    // A bound for a loaded CI machine (an outcome, not a timing): every process of the tree ends.
    await until(() => tree.every((pid) => !alive(pid)), 15_000);
    const port = Number(/--port (\d+)/.exec(child!.spawnargs.join(" "))![1]);
    expect(existsSync(runDirectory(port))).toBe(false);
  });
});

describe("the guard in front of a self-signed https upstream", () => {
  let dir: string;
  let upstream: EchoUpstream;
  const cert = (name: string) => selfSignedCertificate(dir, name, 1);
  let server: { cert: string; key: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "guard-tls-"));
    server = cert("server");
    upstream = await startEchoUpstream(server);
  }, 30_000);

  afterAll(async () => {
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ["the IP address", "127.0.0.1"],
    ["localhost", "localhost"],
  ])("carries a session verified against the server's certificate (%s)", async (_, host) => {
    const guard = await startGuard([
      "--upstream",
      `https://${host}:${upstream.port}`,
      "--upstream-ca",
      server.cert,
    ]);
    try {
      await until(async () => ((await health(guard.port)).body as { up: boolean }).up);
      const ws = await session(
        `ws://127.0.0.1:${guard.port}/api/chat?text_prompt=a&voice_prompt=NATF0.pt`,
      );
      expect(await echo(ws, "tls")).toBe("tls");
      await close(ws);
    } finally {
      await guard.stop();
    }
  });

  it("refuses an https upstream without --upstream-ca or --upstream-insecure, naming both (exit 2)", async () => {
    const run = await npmRun("guard", [
      "--upstream",
      `https://127.0.0.1:${upstream.port}`,
      "--port",
      "9",
    ]);
    expect(run.stderr.split("\n")[0]).toBe(
      `guard: --upstream https://127.0.0.1:${upstream.port} is https: pass --upstream-ca <file> (the CA that issued the server's certificate) or --upstream-insecure`,
    );
    expect(run.code).toBe(2);
  });
});

describe("npm run guard without haproxy", () => {
  it("names the package to install in one line (exit 1)", async () => {
    const run = await npmRun("guard", ["--upstream", "http://127.0.0.1:9", "--port", "9"], {
      env: { HAPROXY_PATH: "/nonexistent/haproxy" },
    });
    expect(run.stderr.trim()).toBe(
      "guard: haproxy is not installed: install the Debian/Ubuntu package haproxy (sudo apt-get install haproxy, or npm run setup:test), or set HAPROXY_PATH",
    );
    expect(run.code).toBe(1);
  });
});

/**
 * HAProxy run straight from `haproxyConfig()` (the text `npm run guard` and the VM run), its log kept;
 * with `sessionCapSeconds`, its session cap's Lua task beside it.
 */
async function startHaproxy(
  input: Omit<GuardConfigInput, "listen" | "statsSocket" | "sessionCap" | "drainedFile">,
  sessionCapSeconds?: number,
) {
  const dir = mkdtempSync(join(tmpdir(), "guard-haproxy-"));
  const port = await freePort();
  const config = join(dir, "haproxy.cfg");
  const full: GuardConfigInput = {
    ...input,
    listen: { host: "127.0.0.1", port },
    statsSocket: join(dir, "admin.sock"),
    drainedFile: join(dir, "drained.map"),
    sessionCap:
      sessionCapSeconds === undefined
        ? undefined
        : { seconds: sessionCapSeconds, luaFile: join(dir, "session-cap.lua") },
  };
  writeFileSync(config, haproxyConfig(full));
  writeFileSync(full.drainedFile, drainedMap());
  if (full.sessionCap) writeFileSync(full.sessionCap.luaFile, sessionCapLua(full));
  const child = spawn(haproxyBinary() ?? "haproxy", ["-db", "-f", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  await until(async () => (await rawRequest(port, "GET /health HTTP/1.0\r\n\r\n")).status > 0);
  const health = async () => {
    const answer = await rawRequest(port, "GET /health HTTP/1.0\r\n\r\n");
    return {
      status: answer.status,
      body: JSON.parse(answer.body) as { up: boolean; sessions: number },
    };
  };
  return {
    port,
    socket: join(dir, "admin.sock"),
    health,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Haproxy = Awaited<ReturnType<typeof startHaproxy>>;

/** The upgrade a page's browser sends, its query written byte for byte. */
const upgradeTo = (port: number, query: string, options: Parameters<typeof rawRequest>[2] = {}) =>
  rawRequest(port, `${upgradeHead(`/api/chat?${query}`)}\r\n`, options);

/** What the edge makes of a guard's answer (worker/src/guardAnswers.ts). */
const edgeReading = (answer: RawAnswer) =>
  refusalOfAnswer(answer.status, answer.headers["retry-after"] ?? null, answer.body).reason;

const GOOD = "text_prompt=hi&voice_prompt=NATF0.pt";

describe("the guard in front of the personaplex stand-in", () => {
  let dir: string;
  let server: StandinBridge;
  let guard: Haproxy;
  let upgrades = 0;
  let voices: string;

  const startServer = async (port?: number) => {
    server = await startStandinBridge({ mode: "personaplex", promptDelayMs: 50, port });
    server.process.on("message", (message: { event?: string }) => {
      if (message.event === "upgrade") upgrades++;
    });
  };
  const idle = () =>
    until(async () => {
      const { body } = await guard.health();
      return body.up && body.sessions === 0;
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "guard-personaplex-"));
    voices = join(dir, "voices.txt");
    // Path-shaped entries too: the guard refuses them whatever its list says.
    writeFileSync(voices, voicesFile([...STOCK_VOICES, "../x.pt", "/root/.cache/x.pt"]));
    await startServer();
    guard = await startHaproxy({
      upstream: server.origin,
      capacity: 1,
      retryAfterS: 7,
      voicesFile: voices,
    });
    await idle();
  }, 30_000);

  afterAll(async () => {
    await guard?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each<[string, string | undefined]>([
    // The issue's table: HAProxy's url_param and aiohttp read these differently.
    ...SPLIT_QUERIES.map(({ query, guardParameter }): [string, string | undefined] => [
      query,
      guardParameter,
    ]),
    // Their neighbours.
    ["text_prompt=hi&voice_prompt=../x.pt", "voice_prompt"],
    ["text_prompt=hi&voice_prompt=NATF0.pt&z=%zz", undefined],
    ["text_prompt=hi&voice_prompt=NATF0.pt&x%41=1", undefined],
    ["text_prompt=hi&voice_prompt&voice_prompt=NATF0.pt", "voice_prompt"],
    ["text_prompt&text_prompt=hi&voice_prompt=NATF0.pt", "text_prompt"],
    ["text_prompt=hi&voice_prompt=NATF0%2Ept", "voice_prompt"],
    ["text_prompt=hi&voice_prompt=NATF0.pt&voice%5Fprompt=../x.pt", "voice_prompt"],
    ["text_prompt=hi&voice_prompt=NATF0.pt&s%65ed=1", "seed"],
    // A decoded newline between two occurrences must not hide the repeat (an outside review's find).
    ["text_prompt=hi&voice_prompt&x=%0A&voice_prompt=NATF0.pt", "voice_prompt"],
    ["text_prompt=hi&voice_prompt=NATF0.pt&x=%0D%0A&voice_prompt=../x.pt", "voice_prompt"],
    ["text_prompt&x=%0A&text_prompt=hi&voice_prompt=NATF0.pt", "text_prompt"],
  ])(
    "refuses ?%s with 400 (parameter: %s); the server sees no upgrade",
    async (query, parameter) => {
      const before = upgrades;
      const answer = await upgradeTo(guard.port, query);
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toEqual({
        error: "session_options_invalid",
        ...(parameter ? { parameter } : {}),
      });
      expect(edgeReading(answer).error).toBe("session_options_invalid");
      expect(upgrades).toBe(before);
    },
  );

  it("admits a listed voice file name: the server sees that one upgrade", async () => {
    const before = upgrades;
    const answer = await upgradeTo(guard.port, GOOD, { keepOpen: true });
    expect(answer.status).toBe(101);
    answer.socket.destroy();
    await until(() => upgrades === before + 1);
    await idle();
  });

  it("says busy with Retry-After to a session that lost the race for the last slot (the backend's 1 ms queue)", async () => {
    // Two sessions racing for the last slot both pass the frontend's check; the loser waits in the
    // backend's queue. A guard whose server takes fewer sessions than it admits makes that certain.
    const racing = await startHaproxy({
      upstream: server.origin,
      capacity: 2,
      retryAfterS: 7,
      voicesFile: voices,
    });
    try {
      expect(await adminCommand(racing.socket, `set maxconn server ${SERVER_REF} 1`)).toBe("");
      await until(async () => (await racing.health()).body.up);
      const first = await upgradeTo(racing.port, GOOD, { keepOpen: true });
      expect(first.status).toBe(101);
      const second = await upgradeTo(racing.port, GOOD);
      expect(second.status).toBe(503);
      expect(second.headers["retry-after"]).toBe("7");
      expect(JSON.parse(second.body)).toEqual({ error: "bridge_busy", retryAfterS: 7 });
      expect(edgeReading(second)).toEqual({ error: "bridge_busy", retryAfterS: 7 });
      await until(() => /status=503 termination=sQ/.test(racing.output()));
      first.socket.destroy();
    } finally {
      await racing.stop();
    }
    await idle();
  });

  it("keeps a live session past `timeout server` (it bounds the wait for the 101 only)", async () => {
    const ws = await session(`ws://127.0.0.1:${guard.port}/api/chat?${GOOD}`);
    const frames: Buffer[] = [];
    ws.on("message", (data) => frames.push(data as Buffer));
    await new Promise((resolve) => setTimeout(resolve, (UPGRADE_TIMEOUT_S + 1) * 1_000));
    ws.send(Buffer.from([0x01, 1, 2, 3]));
    await until(() => frames.some((frame) => frame[0] === 0x01), 5_000);
    expect(frames[0][0]).toBe(0x00);
    await close(ws);
    await idle();
  }, 30_000);

  it("answers down within its bound, then /health up:false, for a server that hangs (stopped)", async () => {
    server.process.kill("SIGSTOP");
    try {
      const answer = await upgradeTo(guard.port, GOOD, {
        timeoutMs: (UPGRADE_TIMEOUT_S + 5) * 1_000,
      });
      console.log(
        `guard: a hung server's down answer (${answer.status}) after ${Math.round(answer.ms)} ms`,
      );
      expect(answer.timedOut).toBe(false);
      expect(answer.status).toBe(504);
      expect(edgeReading(answer)).toEqual({ error: "bridge_unavailable" });
      await until(async () => (await guard.health()).status === 503, 10_000);
      expect((await guard.health()).body.up).toBe(false);
    } finally {
      server.process.kill("SIGCONT");
    }
    await idle();
  }, 30_000);

  it("answers down at once, never busy, for a server that just crashed (connection refused)", async () => {
    const port = server.port;
    const crashed = new Promise((resolve) => server.process.once("exit", resolve));
    server.process.kill("SIGKILL");
    await crashed;
    const answer = await upgradeTo(guard.port, GOOD);
    console.log(
      `guard: a just-crashed server's down answer (${answer.status} ${answer.body}) after ${Math.round(answer.ms)} ms`,
    );
    expect(answer.status).toBe(503);
    expect(answer.headers["retry-after"]).toBeUndefined();
    expect(JSON.parse(answer.body)).toEqual({ error: "bridge_unavailable" });
    expect(edgeReading(answer)).toEqual({ error: "bridge_unavailable" });
    // The refused connection marked the server down at once: /health says so before any check.
    expect((await guard.health()).body.up).toBe(false);
    await startServer(port);
    await idle();
  }, 30_000);
});

describe("the guard's check of its server is at the HTTP level", () => {
  it("says down (/health up:false) for an http:// upstream that is a TLS port", async () => {
    const tls = await startStandinBridge({ mode: "personaplex", tls: true });
    const dir = mkdtempSync(join(tmpdir(), "guard-mismatch-"));
    const voices = join(dir, "voices.txt");
    writeFileSync(voices, voicesFile(STOCK_VOICES));
    const guard = await startHaproxy({
      upstream: `http://127.0.0.1:${tls.port}`,
      capacity: 1,
      retryAfterS: 5,
      voicesFile: voices,
    });
    try {
      await until(async () => (await guard.health()).status === 503, 10_000);
      expect((await guard.health()).body.up).toBe(false);
      expect(guard.output()).toMatch(/Server bridge\/personaplex is DOWN, reason: Layer7/);
    } finally {
      await guard.stop();
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("a session cap (guard.maxSessionMinutes) in front of the personaplex stand-in", () => {
  /** Seconds, so the test takes seconds: the stack and the command say minutes. */
  const CAP_S = 2;
  let dir: string;
  let servers: StandinBridge[];
  let capped: Haproxy;
  let uncapped: Haproxy;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "guard-cap-"));
    const voices = join(dir, "voices.txt");
    writeFileSync(voices, voicesFile(STOCK_VOICES));
    // One conversation at a time each, like the real server: one stand-in per guard.
    servers = await Promise.all(
      [0, 1].map(() => startStandinBridge({ mode: "personaplex", promptDelayMs: 50 })),
    );
    const settings = { capacity: 1, retryAfterS: 5, voicesFile: voices };
    [capped, uncapped] = await Promise.all([
      startHaproxy({ ...settings, upstream: servers[0].origin }, CAP_S),
      startHaproxy({ ...settings, upstream: servers[1].origin }),
    ]);
    await until(async () => (await capped.health()).body.up && (await uncapped.health()).body.up);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([capped?.stop(), uncapped?.stop()]);
    await Promise.all((servers ?? []).map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A conversation that sends an audio frame every 100 ms from its 0x00 on, and counts the answers. */
  async function talking(port: number) {
    const ws = await session(`ws://127.0.0.1:${port}/api/chat?${GOOD}`);
    const state = { handshake: false, answers: 0, closed: undefined as number | undefined };
    ws.on("message", (data: Buffer) => {
      if (data[0] === 0x00) state.handshake = true;
      if (data[0] === 0x01) state.answers++;
    });
    const sender = setInterval(() => {
      if (state.handshake && ws.readyState === WebSocket.OPEN) ws.send(Buffer.from([0x01, 7]));
    }, 100);
    ws.once("close", (code) => {
      clearInterval(sender);
      state.closed = code;
    });
    await until(() => state.handshake);
    return { ws, state };
  }

  it("ends a session that keeps talking once it is past its cap, while an uncapped guard's talks on; the next session is admitted", async () => {
    const [ended, goesOn] = await Promise.all([talking(capped.port), talking(uncapped.port)]);
    // Bounded by the mechanism (the cap plus SESSION_CAP_BOUND_S), with room for a loaded machine.
    await until(() => ended.state.closed !== undefined, (CAP_S + SESSION_CAP_BOUND_S + 10) * 1_000);
    // HAProxy closes both connections without a WebSocket close frame: 1006 at the page.
    expect(ended.state.closed).toBe(1006);
    expect(ended.state.answers).toBeGreaterThan(0);

    const line = capped
      .output()
      .split("\n")
      .find((entry) => entry.startsWith("guard: session ") && entry.includes("status=101"));
    expect(line).toMatch(/termination=K- path=\/api\/chat refused=- /);
    // Never ended early: HAProxy's own measure of the session is at least the cap.
    expect(Number(/duration_ms=(\d+)/.exec(line!)![1])).toBeGreaterThanOrEqual(CAP_S * 1_000);
    expect(capped.output()).toMatch(
      new RegExp(
        `${SESSION_CAP_LOG_PREFIX} ended session 0x[0-9a-f]+ at age \\d+s \\(maxSessionSeconds ${CAP_S}\\)`,
      ),
    );

    const before = goesOn.state.answers;
    await until(() => goesOn.state.answers > before);
    expect(goesOn.state.closed).toBeUndefined();
    expect(uncapped.output()).not.toContain(SESSION_CAP_LOG_PREFIX);

    // The slot is free again: the next visitor gets the server's 0x00 on the capped guard.
    await until(async () => (await capped.health()).body.sessions === 0);
    const next = await talking(capped.port);
    expect(next.state.handshake).toBe(true);
    await Promise.all([close(next.ws), close(goesOn.ws)]);
  }, 60_000);
});

describe("npm run guard --max-session-minutes", () => {
  it.each(["0", "1441", "1.5", "ten"])("refuses %s in one line", async (value) => {
    await expect(
      guardCommand([
        "--upstream",
        "http://127.0.0.1:9",
        "--port",
        "9",
        "--max-session-minutes",
        value,
      ]),
    ).rejects.toMatchObject({
      name: "UsageError",
      message: expect.stringMatching(
        new RegExp(`^--max-session-minutes "${value}" must be a whole number of minutes \\(`),
      ) as string,
    });
  });

  it("is refused beside --print-config, naming the stack key", async () => {
    await expect(
      guardCommand(["--print-config", "--stack", "prod", "--max-session-minutes", "5"]),
    ).rejects.toMatchObject({
      name: "UsageError",
      message:
        "--max-session-minutes goes with a running guard; for the VM's files set voice-edge:guard.maxSessionMinutes (or line.maxSessionMinutes) in the stack file",
    });
  });

  it("runs HAProxy with the cap's task and says the cap in its start line", async () => {
    const upstream = await startEchoUpstream();
    const guard = await startGuard([
      "--upstream",
      `http://127.0.0.1:${upstream.port}`,
      "--max-session-minutes",
      "1",
    ]);
    try {
      expect(guard.output()).toContain("(capacity 1, sessions end after 1 min, 18 stock voices)");
      const lua = readFileSync(join(runDirectory(guard.port), "session-cap.lua"), "utf8");
      expect(lua).toContain("local MAX_SECONDS = 60\n");
      const ws = await session(`ws://127.0.0.1:${guard.port}/api/chat?${QUERY}`);
      expect(await echo(ws, "capped")).toBe("capped");
      await close(ws);
    } finally {
      await guard.stop();
      await upstream.stop();
    }
  }, 30_000);
});

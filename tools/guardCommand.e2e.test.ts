/**
 * `npm run guard` as a command: its voice list (--voices-dir, the stock default), the probe of its
 * upstream at start, certificates from a local CA, and its private run folder. Refusals through the
 * exported `run(args)` in process; a spawned guard only where a running HAProxy or the process's
 * exit code is what is tested.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { freePort } from "../test/support/freePort";
import { npmRun } from "../test/support/runCommand";
import { startEchoUpstream, type EchoUpstream } from "../test/support/wsEchoUpstream";
import { STOCK_VOICES } from "../worker/src/voices";
import { adminStateOf, drainMarkOf, run as guard, runDirectory } from "./guard";
import { HelpRequested } from "./lib/cli";
import { startGuardProcess, type GuardProcess } from "./lib/guardProcess";
import { PROBE_TIMEOUT_MS, probeUpstream } from "./lib/upstreamProbe";
import {
  certificateAuthority,
  certificateSignedBy,
  selfSignedCertificate,
  type CertificateFiles,
} from "./lib/selfSignedCertificate";

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "guard-command-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A new folder under the test's scratch folder. */
function folder(name: string, files: string[] = []): string {
  const dir = join(scratch, name);
  mkdirSync(dir);
  for (const file of files) writeFileSync(join(dir, file), "");
  return dir;
}

/** What `run(args)` threw: its class and its one line. */
async function refusal(args: string[]): Promise<{ kind: string; message: string }> {
  try {
    await guard(args);
  } catch (error) {
    return { kind: (error as Error).constructor.name, message: (error as Error).message };
  }
  throw new Error(`npm run guard -- ${args.join(" ")} was not refused`);
}

/** Polls `check` every 50 ms, at most `withinMs`. */
async function until(check: () => boolean | Promise<boolean>, withinMs = 10_000): Promise<void> {
  for (let waited = 0; waited <= withinMs; waited += 50) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not reached within ${withinMs} ms`);
}

const up = async (port: number) =>
  ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { up: boolean }).up;

/** The status of an upgrade through the guard: 101, or the guard's refusal. */
function upgradeStatus(port: number, voice: string): Promise<number> {
  const query = new URLSearchParams({ text_prompt: "hi", voice_prompt: voice });
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/chat?${query}`);
    ws.once("open", () => (ws.close(), resolve(101)));
    ws.once("unexpected-response", (_request, response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    ws.once("error", reject);
  });
}

function echoThrough(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/chat?text_prompt=a&voice_prompt=NATF0.pt`);
    const timer = setTimeout(() => reject(new Error("no echo within 5 s")), 5_000);
    ws.once("open", () => ws.send(text));
    ws.once("message", (data) => {
      clearTimeout(timer);
      ws.close();
      resolve(data.toString());
    });
    ws.once("error", reject);
  });
}

/** A port nothing listens on (for a guard whose upstream is not there). */
const nobodyAt = async () => `http://127.0.0.1:${await freePort()}`;

describe("the voice list", () => {
  it("--help names --voices-dir with the real server's voice directory, and the stock default", async () => {
    const usage = await guard(["--help"]).then(
      () => "",
      (error: unknown) => (error instanceof HelpRequested ? error.usage : String(error)),
    );
    expect(usage).toMatch(
      /--voices-dir <dir> +admit the \*\.pt files in the server's voice directory: its --voice-prompt-dir, else ~\/\.cache\/huggingface\/hub\/models--nvidia--personaplex-7b-v1\/snapshots\/<revision>\/voices\n/,
    );
    expect(usage).toContain(
      "without it and --voices-dir: the 18 voices of the stock PersonaPlex client",
    );
  });

  it.each([
    ["a name with a space", ["NATF0.pt", "my voice.pt"], "my voice.pt"],
    ["a name with a leading dot", ["NATF0.pt", ".hidden.pt"], ".hidden.pt"],
  ])(
    "refuses --voices-dir holding %s, naming the directory and the name",
    async (_, files, bad) => {
      const dir = folder(`voices-${bad.replace(/\W/g, "")}`, files);
      expect(
        await refusal(["--upstream", await nobodyAt(), "--port", "1", "--voices-dir", dir]),
      ).toEqual({
        kind: "UsageError",
        message: `--voices-dir "${dir}": "${bad}" is not a voice file name such as NATF0.pt (<name>.pt, no path)`,
      });
    },
  );

  it("refuses a --voices-dir without *.pt files, and one that does not exist", async () => {
    const empty = folder("voices-empty", ["README.md", "NATF0.wav"]);
    expect(
      await refusal(["--upstream", await nobodyAt(), "--port", "1", "--voices-dir", empty]),
    ).toEqual({
      kind: "UsageError",
      message: `--voices-dir "${empty}" holds no *.pt voice file: is it the server's voice directory?`,
    });
    const missing = join(scratch, "no-such-dir");
    expect(
      await refusal(["--upstream", await nobodyAt(), "--port", "1", "--voices-dir", missing]),
    ).toEqual({
      kind: "UsageError",
      message: `--voices-dir "${missing}": no such directory`,
    });
  });

  it("refuses --voices and --voices-dir together", async () => {
    expect(
      await refusal([
        "--upstream",
        await nobodyAt(),
        "--port",
        "1",
        "--voices",
        "a",
        "--voices-dir",
        "b",
      ]),
    ).toEqual({ kind: "UsageError", message: "--voices and --voices-dir exclude each other" });
  });

  it.each(["NATF0", "../x.pt", "voices/NATF0.pt", "a..pt"])(
    "refuses a --voices file listing %s (not a <name>.pt file name)",
    async (bad) => {
      const file = join(scratch, `voices-${bad.replace(/\W/g, "_")}.txt`);
      writeFileSync(file, `NATF0.pt\n${bad}\n`);
      expect(
        await refusal(["--upstream", await nobodyAt(), "--port", "1", "--voices", file]),
      ).toEqual({
        kind: "UsageError",
        message: `--voices "${file}": "${bad}" is not a voice file name such as NATF0.pt (<name>.pt, no path)`,
      });
    },
  );

  it.each(["--voices-dir", "--voices"])(
    "%s with --print-config is a usage line naming the stack keys (the VM's list has one home)",
    async (flag) => {
      const dir = folder(`voices-vm${flag}`, ["NATF2.pt"]);
      expect(await refusal(["--print-config", "--stack", "prod", flag, dir])).toEqual({
        kind: "UsageError",
        message: expect.stringMatching(
          new RegExp(`^${flag} goes with a running guard; .*guard\\.voicesDir.*guard\\.voices`),
        ),
      });
    },
  );

  describe("a running guard", () => {
    // Room for the next upgrade while the last one's close is still on its way.
    const CAPACITY = ["--capacity", "16"];
    let upstream: EchoUpstream;
    const guards: GuardProcess[] = [];
    beforeAll(async () => {
      upstream = await startEchoUpstream();
    }, 30_000);
    afterAll(async () => {
      await Promise.all(guards.map((running) => running.stop()));
      await upstream?.stop();
    });

    it("admits the 18 stock voices without a flag, and no other voice_prompt", async () => {
      const running = await startGuardProcess([
        "--upstream",
        `http://127.0.0.1:${upstream.port}`,
        ...CAPACITY,
      ]);
      guards.push(running);
      expect(running.output()).toContain(
        `(capacity 16, ${STOCK_VOICES.length} stock voices); /health`,
      );
      await until(() => up(running.port));
      for (const voice of ["NATF0.pt", "VARF4.pt", "VARM0.pt", "NATM3.pt"])
        expect(await upgradeStatus(running.port, voice)).toBe(101);
      for (const voice of ["/root/.cache/x.pt", "VARF5.pt", "x.pt"])
        expect(await upgradeStatus(running.port, voice)).toBe(400);
    });

    it("admits exactly the *.pt files of --voices-dir and says where the list came from", async () => {
      const dir = folder("voices-installed", ["NATF0.pt", "Custom_1.pt", "NATM1.pt", "notes.txt"]);
      const running = await startGuardProcess([
        "--upstream",
        `http://127.0.0.1:${upstream.port}`,
        "--voices-dir",
        dir,
        ...CAPACITY,
      ]);
      guards.push(running);
      expect(running.output()).toContain(`(capacity 16, 3 voices from ${dir}); /health`);
      // The probe's line: what answered at the upstream.
      expect(running.output()).toContain(
        `guard: upstream http://127.0.0.1:${upstream.port} answers HTTP (status 404 for GET /)\n`,
      );
      await until(() => up(running.port));
      for (const voice of ["NATF0.pt", "Custom_1.pt", "NATM1.pt"])
        expect(await upgradeStatus(running.port, voice)).toBe(101);
      for (const voice of ["VARF0.pt", "notes.txt"])
        expect(await upgradeStatus(running.port, voice)).toBe(400);
    });
  });
});

describe("the probe of the upstream at start", () => {
  let dir: string;
  let tlsUpstream: EchoUpstream;
  let plainUpstream: EchoUpstream;
  let server: CertificateFiles;

  beforeAll(async () => {
    dir = folder("probe");
    server = selfSignedCertificate(dir, "server", 1);
    [tlsUpstream, plainUpstream] = await Promise.all([
      startEchoUpstream(server),
      startEchoUpstream(),
    ]);
  }, 30_000);
  afterAll(async () => {
    await tlsUpstream?.stop();
    await plainUpstream?.stop();
  });

  it("refuses http:// pointed at a TLS port, naming the https:// URL and its flags", async () => {
    const upstream = `http://127.0.0.1:${tlsUpstream.port}`;
    expect(await refusal(["--upstream", upstream, "--port", String(await freePort())])).toEqual({
      kind: "CommandFailure",
      message: `--upstream ${upstream} answers TLS: use --upstream https://127.0.0.1:${tlsUpstream.port} with --upstream-ca <file> or --upstream-insecure`,
    });
  });

  it("refuses https:// pointed at plain HTTP, naming the http:// URL", async () => {
    const upstream = `https://127.0.0.1:${plainUpstream.port}`;
    expect(
      await refusal([
        "--upstream",
        upstream,
        "--upstream-insecure",
        "--port",
        String(await freePort()),
      ]),
    ).toEqual({
      kind: "CommandFailure",
      message: `--upstream ${upstream} answers plain HTTP (status 404), not TLS: use --upstream http://127.0.0.1:${plainUpstream.port} without --upstream-ca/--upstream-insecure`,
    });
  });

  it("refuses with exit 1 and one line on stderr, starting no HAProxy", async () => {
    const port = await freePort();
    const result = await npmRun("guard", [
      "--upstream",
      `http://127.0.0.1:${tlsUpstream.port}`,
      "--port",
      String(port),
    ]);
    expect(result.stderr.trim().split("\n")).toEqual([
      `guard: --upstream http://127.0.0.1:${tlsUpstream.port} answers TLS: use --upstream https://127.0.0.1:${tlsUpstream.port} with --upstream-ca <file> or --upstream-insecure`,
    ]);
    expect(result.code).toBe(1);
    expect(existsSync(runDirectory(port))).toBe(false);
  });

  it("starts anyway when nothing listens, saying sessions get 1014 until the server answers", async () => {
    const upstream = await nobodyAt();
    const running = await startGuardProcess(["--upstream", upstream]);
    try {
      expect(running.output()).toContain(
        `guard: upstream ${upstream}: nothing listens (connection refused); starting anyway: sessions get 503 bridge_unavailable (1014 at the page) until it answers\n`,
      );
      expect(running.output()).toContain(`guard: http://127.0.0.1:${running.port}/api/chat`);
    } finally {
      await running.stop();
    }
  });
});

describe("probeUpstream on servers that are not HTTP", () => {
  let server: Server | undefined;
  const held: Socket[] = [];
  afterEach(async () => {
    for (const socket of held.splice(0)) socket.destroy();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  /** A TCP server on loopback doing `onConnection` with each connection; its http:// URL. */
  async function listening(onConnection: (socket: Socket) => void): Promise<string> {
    server = createServer((socket) => {
      held.push(socket);
      onConnection(socket);
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it("refuses a server that answers something else, quoting its first bytes", async () => {
    const upstream = await listening((socket) => socket.end("SSH-2.0-OpenSSH_9.2\r\n"));
    expect(await probeUpstream({ upstream })).toEqual({
      verdict: "refuse",
      line: `--upstream ${upstream} answers something that is not HTTP (first bytes "SSH-2.0-OpenSSH_9.2.."): is it the PersonaPlex server?`,
    });
  });

  it(`warns about a server that accepts and never answers, after its ${PROBE_TIMEOUT_MS} ms bound`, async () => {
    const upstream = await listening(() => undefined);
    expect(await probeUpstream({ upstream })).toEqual({
      verdict: "warn",
      line: `upstream ${upstream}: accepts connections but sent no answer to GET / within 3 s (hung?); starting anyway: sessions get 503 bridge_unavailable (1014 at the page) until it answers`,
    });
  });
});

describe("a certificate from a local CA (mkcert's way)", () => {
  let dir: string;
  let mkcertRoot: CertificateFiles;
  let leaf: CertificateFiles;
  let otherRoot: CertificateFiles;
  let otherLeaf: CertificateFiles;
  let upstream: EchoUpstream;
  let otherUpstream: EchoUpstream;

  beforeAll(async () => {
    dir = folder("local-ca");
    mkcertRoot = certificateAuthority(folder("local-ca/mkcert"));
    leaf = certificateSignedBy(mkcertRoot, dir, "cert");
    otherRoot = certificateAuthority(folder("local-ca/corporate"), {
      organization: "Example Corp",
      commonName: "Example Corp Root",
    });
    otherLeaf = certificateSignedBy(otherRoot, dir, "corporate-cert");
    [upstream, otherUpstream] = await Promise.all([
      startEchoUpstream(leaf),
      startEchoUpstream(otherLeaf),
    ]);
  }, 30_000);
  afterAll(async () => {
    await upstream?.stop();
    await otherUpstream?.stop();
  });

  it("refuses the server's own cert.pem, naming its issuer and mkcert's root CA file", async () => {
    const url = `https://127.0.0.1:${upstream.port}`;
    expect(
      await refusal([
        "--upstream",
        url,
        "--upstream-ca",
        leaf.cert,
        "--port",
        String(await freePort()),
      ]),
    ).toEqual({
      kind: "CommandFailure",
      message: `--upstream-ca ${leaf.cert} is the server's own certificate, issued by "mkcert test@voice-edge": HAProxy verifies it only against the CA that issued it: pass --upstream-ca "$(mkcert -CAROOT)/rootCA.pem" (mkcert's root CA)`,
    });
  });

  it("names another CA's issuer when the file given is not the one that signed the certificate", async () => {
    const url = `https://localhost:${otherUpstream.port}`;
    expect(
      await refusal([
        "--upstream",
        url,
        "--upstream-ca",
        mkcertRoot.cert,
        "--port",
        String(await freePort()),
      ]),
    ).toEqual({
      kind: "CommandFailure",
      message: `the certificate of ${url} (localhost, issued by "Example Corp Root") does not verify against --upstream-ca ${mkcertRoot.cert} (UNABLE_TO_VERIFY_LEAF_SIGNATURE): pass --upstream-ca <the certificate of "Example Corp Root">, the CA that issued it`,
    });
  });

  it("refuses a self-signed certificate other than the one given, saying to pass the server's own", async () => {
    const selfSignedDir = folder("local-ca/self-signed");
    const served = selfSignedCertificate(selfSignedDir, "served", 1);
    const given = selfSignedCertificate(selfSignedDir, "given", 1);
    const selfSignedUpstream = await startEchoUpstream(served);
    try {
      const url = `https://127.0.0.1:${selfSignedUpstream.port}`;
      expect(
        await refusal([
          "--upstream",
          url,
          "--upstream-ca",
          given.cert,
          "--port",
          String(await freePort()),
        ]),
      ).toEqual({
        kind: "CommandFailure",
        message: `the certificate of ${url} (localhost, issued by "localhost") does not verify against --upstream-ca ${given.cert} (DEPTH_ZERO_SELF_SIGNED_CERT): it is self-signed: pass that certificate itself (the server's --ssl <dir>/cert.pem)`,
      });
    } finally {
      await selfSignedUpstream.stop();
    }
  });

  it("a certificate for another name: refused naming the name for a host name, chain-only (as HAProxy) for an address", async () => {
    const elsewhere = certificateSignedBy(mkcertRoot, dir, "otherhost", 7, "DNS:otherhost");
    const otherName = await startEchoUpstream(elsewhere);
    try {
      const byName = `https://localhost:${otherName.port}`;
      expect(
        await refusal([
          "--upstream",
          byName,
          "--upstream-ca",
          mkcertRoot.cert,
          "--port",
          String(await freePort()),
        ]),
      ).toEqual({
        kind: "CommandFailure",
        message: expect.stringMatching(
          new RegExp(`^--upstream ${byName}: its certificate is not for localhost \\(.*otherhost`),
        ),
      });
      const byAddress = `https://127.0.0.1:${otherName.port}`;
      const probe = await probeUpstream({ upstream: byAddress, caFile: mkcertRoot.cert });
      expect(probe).toMatchObject({ verdict: "ok" });
      expect(probe.line).toContain(`verified against ${mkcertRoot.cert}`);
    } finally {
      await otherName.stop();
    }
  });

  it("refuses a CA file that holds no certificate (exit 2 as a usage mistake)", async () => {
    expect(
      await refusal([
        "--upstream",
        `https://127.0.0.1:${upstream.port}`,
        "--upstream-ca",
        leaf.key,
        "--port",
        String(await freePort()),
      ]),
    ).toEqual({
      kind: "UsageError",
      message: `--upstream-ca "${leaf.key}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    });
  });

  it("with the root CA: starts, says what it verified, and carries a session (localhost and the IP)", async () => {
    for (const host of ["localhost", "127.0.0.1"]) {
      const url = `https://${host}:${upstream.port}`;
      const running = await startGuardProcess([
        "--upstream",
        url,
        "--upstream-ca",
        mkcertRoot.cert,
      ]);
      try {
        expect(running.output()).toContain(
          `guard: upstream ${url} answers HTTPS (status 404 for GET /); its certificate (localhost, issued by "mkcert test@voice-edge") verified against ${mkcertRoot.cert}\n`,
        );
        await until(() => up(running.port));
        expect(await echoThrough(running.port, `through ${host}`)).toBe(`through ${host}`);
      } finally {
        await running.stop();
      }
    }
  });
});

describe("the run folder", () => {
  const madeHere: string[] = [];
  afterEach(() => {
    for (const path of madeHere.splice(0)) rmSync(path, { recursive: true, force: true });
  });

  /** Makes `runDirectory(port)` as someone else might have: mode and owner as given, with a file in it. */
  function plant(port: number, mode: number, uid?: number): string {
    const dir = runDirectory(port);
    madeHere.push(dir);
    mkdirSync(dir);
    writeFileSync(join(dir, "planted"), "");
    chmodSync(dir, mode);
    if (uid !== undefined) chownSync(dir, uid, uid);
    return dir;
  }

  const untouched = (dir: string, mode: number, uid: number) => {
    expect(statSync(dir).mode & 0o777).toBe(mode);
    expect(statSync(dir).uid).toBe(uid);
    expect(readdirSync(dir)).toEqual(["planted"]);
  };

  it("refuses a folder others may enter (mode 777), leaving it as it was", async () => {
    const port = await freePort();
    const dir = plant(port, 0o777);
    expect(await refusal(["--upstream", await nobodyAt(), "--port", String(port)])).toEqual({
      kind: "CommandFailure",
      message: `run folder ${dir} is mode 777: others may enter it (a guard's own folder is mode 700): not made by a guard of this user's; remove it, or set TMPDIR to a folder of your own`,
    });
    untouched(dir, 0o777, process.getuid!());
  });

  it.skipIf(process.getuid?.() !== 0)(
    "refuses a folder of another user's (nobody, mode 700), leaving it as it was",
    async () => {
      const port = await freePort();
      const dir = plant(port, 0o700, 65534);
      expect(await refusal(["--upstream", await nobodyAt(), "--port", String(port)])).toEqual({
        kind: "CommandFailure",
        message: `run folder ${dir} belongs to uid 65534, not to this user (uid 0): not made by a guard of this user's; remove it, or set TMPDIR to a folder of your own`,
      });
      untouched(dir, 0o700, 65534);
    },
  );

  it("refuses a symbolic link at the folder's path", async () => {
    const port = await freePort();
    const dir = runDirectory(port);
    const target = folder(`link-target-${port}`);
    symlinkSync(target, dir);
    madeHere.push(dir);
    expect(await refusal(["--upstream", await nobodyAt(), "--port", String(port)])).toMatchObject({
      kind: "CommandFailure",
      message: `run folder ${dir} is a symbolic link, not a folder: not made by a guard of this user's; remove it, or set TMPDIR to a folder of your own`,
    });
    expect(readdirSync(target)).toEqual([]);
  });

  describe("--drain and --ready", () => {
    let fake: Server;
    let connections = 0;
    let port: number;
    let dir: string;

    /** A unix socket server answering "" to every command, at the folder's admin.sock. */
    beforeAll(async () => {
      port = await freePort();
      dir = runDirectory(port);
      mkdirSync(dir, { mode: 0o700 });
      fake = createServer((socket) => {
        connections++;
        socket.once("data", () => socket.end(""));
      });
      await new Promise<void>((resolve) => fake.listen(join(dir, "admin.sock"), resolve));
      chmodSync(join(dir, "admin.sock"), 0o600);
    });
    afterAll(async () => {
      await new Promise((resolve) => fake?.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });

    it("fails against a socket that answers nothing, naming it as no guard", async () => {
      for (const flag of ["--drain", "--ready"]) {
        const failure = await refusal([flag, "--port", String(port)]);
        expect(failure).toEqual({
          kind: "CommandFailure",
          message: `what answers on port ${port} (${join(dir, "admin.sock")}) is not a voice-edge guard: "show servers state bridge" has no server bridge/personaplex (answer: "")`,
        });
      }
    });

    it("sends nothing to a socket others may connect to, or through a folder others may enter", async () => {
      const socket = join(dir, "admin.sock");
      const before = connections;
      chmodSync(socket, 0o666);
      expect(await refusal(["--drain", "--port", String(port)])).toEqual({
        kind: "CommandFailure",
        message: `${socket} is mode 666: others may connect to it (a guard's socket is mode 600); nothing sent to it`,
      });
      expect(await refusal(["--drain", "--socket", socket])).toEqual({
        kind: "CommandFailure",
        message: `--socket ${socket} is mode 666: others may connect to it (a guard's socket is mode 600)`,
      });
      chmodSync(socket, 0o600);
      chmodSync(dir, 0o755);
      try {
        expect(await refusal(["--drain", "--port", String(port)])).toEqual({
          kind: "CommandFailure",
          message: `run folder ${dir} is mode 755: others may enter it (a guard's own folder is mode 700): not a guard of this user's; nothing sent to it`,
        });
      } finally {
        chmodSync(dir, 0o700);
      }
      expect(connections).toBe(before);
    });

    it("says no guard runs on a port without a folder", async () => {
      const free = await freePort();
      expect(await refusal(["--drain", "--port", String(free)])).toEqual({
        kind: "CommandFailure",
        message: `no guard runs on port ${free} (no folder ${runDirectory(free)})`,
      });
    });
  });
});

describe("adminStateOf", () => {
  const header =
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight\n";
  it.each([
    ["HAProxy's answer, drained", `${header}3 bridge 1 personaplex 127.0.0.1 2 8 1 1\n\n`, 8],
    ["HAProxy's answer, ready", `${header}3 bridge 1 personaplex 127.0.0.1 2 0 1 1\n\n`, 0],
    ["another backend only", `${header}3 other 1 personaplex 127.0.0.1 2 8 1 1\n`, undefined],
    ["an empty answer", "", undefined],
    ["an error", "Can't find backend.\n", undefined],
  ])("reads %s", (_, answer, state) => {
    expect(adminStateOf(answer)).toBe(state);
  });
});

describe("drainMarkOf", () => {
  const answer = (value: string) =>
    `type=str, case=sensitive, found=yes, idx=tree, key="drained", value="${value}", type="str"\n\n`;
  it.each([
    ["HAProxy's answer, drained", answer("true"), true],
    ["HAProxy's answer, ready", answer("false"), false],
    ["another value", answer("yes"), undefined],
    ["no such key", "type=str, case=sensitive, found=no\n\n", undefined],
    ["no such map", "Unknown map identifier. Please use #<id> or <file>.\n", undefined],
    ["an empty answer", "", undefined],
  ])("reads %s", (_, text, mark) => {
    expect(drainMarkOf(text)).toBe(mark);
  });
});

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { selfSignedCertificate } from "../../tools/lib/selfSignedCertificate";
import { guardOfBridge, guardSchema } from "../config/guard";
import { knownStacks, loadStackSettings } from "../config/stackFiles";
import { isVoiceFileName, STOCK_VOICES, VOICE_FILE_NAME } from "../../worker/src/voices";
import { sessionRecordsLua } from "./sessionRecords";
import {
  drainedMap,
  haproxyConfig,
  SESSION_CAP_LOG_PREFIX,
  sessionCapLua,
  stateCommands,
  systemdDropIn,
  UPGRADE_TIMEOUT_S,
  VM_PATHS,
  VOICE_FILE_NAME_ERE,
  vmFiles,
  voicesFile,
  voicesScript,
  type GuardConfigInput,
} from "./haproxyConfig";

const BASE: GuardConfigInput = {
  listen: { host: "127.0.0.1", port: 8999 },
  upstream: "http://127.0.0.1:8998",
  capacity: 1,
  retryAfterS: 5,
  statsSocket: "/tmp/guard.sock",
  voicesFile: "/tmp/voices.txt",
  drainedFile: "/tmp/drained.map",
};

const serverLine = (config: string) => config.split("\n").find((line) => /^\s+server /.test(line));

describe("haproxyConfig's server line", () => {
  it.each<[string, Partial<GuardConfigInput>, string]>([
    [
      "plain http",
      {},
      "server personaplex 127.0.0.1:8998 maxconn 1 check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down",
    ],
    [
      "https verified against a CA file, IP address: the chain only",
      { upstream: "https://127.0.0.1:8998", tls: { verify: "ca-file", caFile: "/etc/ca.pem" } },
      "server personaplex 127.0.0.1:8998 maxconn 1 check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down ssl verify required ca-file /etc/ca.pem",
    ],
    [
      "https verified against a CA file, a name: SNI and the name checked",
      { upstream: "https://localhost:8998", tls: { verify: "ca-file", caFile: "/etc/ca.pem" } },
      "server personaplex localhost:8998 maxconn 1 check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down ssl verify required ca-file /etc/ca.pem sni str(localhost) verifyhost localhost",
    ],
    [
      "https, explicitly unverified",
      { upstream: "https://127.0.0.1:8998", tls: { verify: "none" } },
      "server personaplex 127.0.0.1:8998 maxconn 1 check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down ssl verify none",
    ],
    [
      "capacity 3, default https port",
      { upstream: "https://gpu.internal", tls: { verify: "none" }, capacity: 3 },
      "server personaplex gpu.internal:443 maxconn 3 check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down ssl verify none",
    ],
  ])("%s", (_, input, line) => {
    expect(serverLine(haproxyConfig({ ...BASE, ...input }))?.trim()).toBe(line);
  });
});

describe("haproxyConfig's refusals", () => {
  it.each<[string, Partial<GuardConfigInput>, string]>([
    [
      "the busy test follows capacity",
      { capacity: 2 },
      "acl busy srv_conn(bridge/personaplex) ge 2",
    ],
    [
      "a voice list is a pattern file",
      { voicesFile: "/v.txt" },
      "acl voice_listed url_param(voice_prompt) -m str -f /v.txt",
    ],
    [
      "a voice is a file name whatever the list says (worker/src/voices.ts's rule)",
      {},
      `acl voice_file_name url_param(voice_prompt) -m reg '${VOICE_FILE_NAME.source}'`,
    ],
    ["the wait for the server's 101 is bounded", {}, `timeout server ${UPGRADE_TIMEOUT_S}s`],
    ["the check is an HTTP request", {}, "option httpchk GET /api/chat"],
    [
      "Retry-After follows retryAfterS",
      { retryAfterS: 9 },
      `string '{"error":"bridge_busy","retryAfterS":9}' hdr Retry-After 9 if busy or queued`,
    ],
    ["health reports capacity", { capacity: 4 }, `"capacity":4,`],
    ["never a query string in the log", {}, "path=%HPO"],
  ])("%s", (_, input, fragment) => {
    expect(haproxyConfig({ ...BASE, ...input })).toContain(fragment);
  });

  it.each<[string, Partial<GuardConfigInput>, string]>([
    [
      "https without tls",
      { upstream: "https://127.0.0.1:8998" },
      "tls is required for an https upstream",
    ],
    ["tls for http", { tls: { verify: "none" } }, "tls applies to an https upstream only"],
    [
      "a path in the upstream",
      { upstream: "http://127.0.0.1:8998/api" },
      'upstream "http://127.0.0.1:8998/api" must be scheme, host and port only',
    ],
    [
      "a ws:// upstream",
      { upstream: "ws://127.0.0.1:8998" },
      'upstream "ws://127.0.0.1:8998" must be http:// or https://',
    ],
    ["capacity 0", { capacity: 0 }, "capacity must be a whole number of sessions from 1"],
    ["no voices list", { voicesFile: "" }, "voicesFile is required"],
    ["no drain mark file", { drainedFile: "" }, "drainedFile is required"],
  ])("refuses %s, naming the argument", (_, input, message) => {
    expect(() => haproxyConfig({ ...BASE, ...input })).toThrow(message);
  });
});

describe("the VM's files from the stack", () => {
  const dir = mkdtempSync(join(tmpdir(), "guard-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** `haproxy -c` on a VM config, its VM paths moved into a temp dir (the CA file must exist to be checked). */
  function check(config: string, caFile: string): void {
    const { cert } = selfSignedCertificate(dir, "ca", 1);
    writeFileSync(join(dir, "voices.txt"), "NATF0.pt\n");
    writeFileSync(join(dir, "drained.map"), drainedMap());
    writeFileSync(join(dir, "records.lua"), sessionRecordsLua());
    const local = config
      .replace(caFile, cert)
      .replace(VM_PATHS.sessionRecordsLua, join(dir, "records.lua"))
      .replace(VM_PATHS.voices, join(dir, "voices.txt"))
      .replace(VM_PATHS.drained, join(dir, "drained.map"))
      .replace(VM_PATHS.socket, join(dir, "admin.sock"))
      .replace(/^\s+(user|group|chroot) .*$/gm, "");
    writeFileSync(join(dir, "haproxy.cfg"), local);
    execFileSync("haproxy", ["-c", "-q", "-f", join(dir, "haproxy.cfg")], { stdio: "pipe" });
  }

  it.each(knownStacks())("stack %s: haproxy -c accepts its haproxy.cfg", (stack) => {
    const settings = loadStackSettings(stack).guard;
    const [config] = vmFiles(settings);
    expect(config.path).toBe("/etc/haproxy/haproxy.cfg");
    check(config.content, settings.upstreamCaFile);
  });

  it("defaults: localhost:8999 in front of https://127.0.0.1:8998 verified against the CA file, one session", () => {
    const files = vmFiles(guardSchema.parse({}));
    expect(files.map((file) => file.path)).toEqual([
      VM_PATHS.config,
      VM_PATHS.voices,
      VM_PATHS.drained,
      VM_PATHS.dropIn,
      VM_PATHS.sessionRecordsLua,
    ]);
    expect(files[1].content).toBe(voicesFile(STOCK_VOICES));
    expect(files[2].content).toBe(drainedMap());
    expect(files[0].content).toContain(`map(${VM_PATHS.drained},false)`);
    const config = files[0].content;
    expect(config).toContain("bind 127.0.0.1:8999");
    expect(serverLine(config)?.trim()).toBe(
      "server personaplex 127.0.0.1:8998 maxconn 1 check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down ssl verify required ca-file /etc/haproxy/personaplex-cert.pem",
    );
    expect(config).toContain("stats socket /run/haproxy/admin.sock mode 600 level admin");
  });

  it("a stack's voice list becomes a pattern file the config reads", () => {
    const files = vmFiles(guardSchema.parse({ voices: ["NATF0.pt", "NATM1.pt"], capacity: 2 }));
    expect(files[1]).toEqual({ path: VM_PATHS.voices, content: "NATF0.pt\nNATM1.pt\n" });
    expect(files[0].content).toContain(`-f ${VM_PATHS.voices}`);
    check(files[0].content, "/etc/haproxy/personaplex-cert.pem");
  });

  it.each<[string, unknown, string]>([
    ["a path in upstream", { upstream: "https://127.0.0.1:8998/x" }, "upstream"],
    ["capacity 0", { capacity: 0 }, "capacity"],
    ["a voice with a space", { voices: ["NAT F0.pt"] }, "voices"],
    ["a voice with a path", { voices: ["NATF0.pt", "../x.pt"] }, "voices"],
    ["a voice that is not a .pt file", { voices: ["NATF0.wav"] }, "voices"],
    ["a relative voice directory", { voicesDir: "voices" }, "voicesDir"],
    ["a relative CA file", { upstreamCaFile: "cert.pem" }, "upstreamCaFile"],
    ["a session cap of 0 minutes", { maxSessionMinutes: 0 }, "maxSessionMinutes"],
    ["a session cap over a day", { maxSessionMinutes: 1441 }, "maxSessionMinutes"],
    ["a session cap in part minutes", { maxSessionMinutes: 2.5 }, "maxSessionMinutes"],
    ["an unknown key", { listen: 1 }, ""],
  ])("the stack schema refuses %s", (_, value, key) => {
    const result = guardSchema.safeParse(value);
    expect(result.success).toBe(false);
    expect(String(result.error?.issues[0].path[0] ?? "")).toBe(key);
  });
});

describe("the VM's voices list from the server's voice directory (guard.voicesDir)", () => {
  const dir = mkdtempSync(join(tmpdir(), "guard-voices-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    "NATF0.pt",
    "VARM4.pt",
    "a.b.pt",
    "x_y-z.pt",
    `${"a".repeat(125)}.pt`,
    `${"a".repeat(126)}.pt`,
    "../x.pt",
    "/x.pt",
    "a/b.pt",
    "a\\b.pt",
    "..pt",
    ".x.pt",
    "a..b.pt",
    "NATF0.wav",
    "NATF0.pt.bak",
    "a b.pt",
    "a\nb.pt",
    "NATF0.pt\n../x.pt",
    "é.pt",
    "",
  ])("grep -E and isVoiceFileName agree on %j", (name) => {
    const grep = spawnSync("grep", ["-Ezq", VOICE_FILE_NAME_ERE], {
      input: name,
      env: { ...process.env, LC_ALL: "C" },
    });
    const shortEnough = name.length <= 128;
    expect(grep.status === 0 && shortEnough).toBe(isVoiceFileName(name));
  });

  /** Runs the script against a directory holding `names` (empty files); the list is written beside it. */
  function rebuild(names: string[]) {
    const voices = mkdtempSync(join(dir, "case-"));
    for (const name of names) writeFileSync(join(voices, name), "");
    const list = join(voices, "..", `${voices.split("/").pop()}.txt`);
    const run = spawnSync("sh", ["-c", voicesScript(voices, list)], { encoding: "utf8" });
    let written: string | undefined;
    try {
      written = readFileSync(list, "utf8");
    } catch {
      written = undefined;
    }
    return { code: run.status, stderr: run.stderr.trim(), list: written, voices };
  }

  it("lists every *.pt file of the directory, and nothing else", () => {
    const run = rebuild(["NATM1.pt", "NATF0.pt", "README.md", "voices.tgz"]);
    expect(run.code).toBe(0);
    expect(run.list).toBe("NATF0.pt\nNATM1.pt\n");
  });

  it.each<[string, string[], string]>([
    ["no voice file", ["README.md"], "no *.pt voice file in"],
    [
      "a name that is not a file name",
      ["NATF0.pt", "a..b.pt"],
      "is not a voice file name such as NATF0.pt: a..b.pt",
    ],
    ["a name with a space", ["NATF0.pt", "a b.pt"], "a b.pt"],
  ])("refuses to start HAProxy with one line for %s, leaving no list", (_, names, message) => {
    const run = rebuild(names);
    expect(run.code).toBe(1);
    expect(run.stderr.split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^voice-edge guard: .*HAProxy not started \(guard.voicesDir\)$/);
    expect(run.stderr).toContain(message);
    expect(run.list).toBeUndefined();
  });

  it("refuses a directory that does not exist", () => {
    const missing = join(dir, "nowhere");
    const run = spawnSync("sh", ["-c", voicesScript(missing, join(dir, "nowhere.txt"))], {
      encoding: "utf8",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`the voice directory ${missing} does not exist`);
  });

  it("the drop-in runs the script before HAProxy's config check; without voicesDir the stack's list is a file", () => {
    const files = vmFiles(guardSchema.parse({ voicesDir: "/opt/personaplex/voices" }));
    expect(files.map((file) => file.path)).toEqual([
      VM_PATHS.config,
      VM_PATHS.voicesScript,
      VM_PATHS.drained,
      VM_PATHS.dropIn,
      VM_PATHS.sessionRecordsLua,
    ]);
    expect(files[1].content).toContain("dir='/opt/personaplex/voices'");
    const service = files[3].content.split("\n").filter((line) => line.startsWith("ExecStartPre="));
    expect(service).toEqual([
      `ExecStartPre=/bin/sh ${VM_PATHS.voicesScript}`,
      "ExecStartPre=/usr/sbin/haproxy -c -q -f ${CONFIG}",
    ]);
    expect(systemdDropIn()).not.toContain(VM_PATHS.voicesScript);
  });
});

describe("the drain mark", () => {
  it("docs/guard.md gives the VM's drain and ready as the runtime API lines npm run guard sends", () => {
    const docs = readFileSync(join(import.meta.dirname, "../../docs/guard.md"), "utf8");
    for (const line of stateCommands("drain", VM_PATHS.drained))
      expect(docs).toContain(`echo "${line}" | sudo socat stdio ${VM_PATHS.socket}`);
    expect(stateCommands("ready", VM_PATHS.drained)).toEqual([
      "set server bridge/personaplex state ready",
      `set map ${VM_PATHS.drained} drained false`,
    ]);
  });
});

describe("guardOfBridge: whose files --print-config prints", () => {
  const guard = guardSchema.parse({ capacity: 1, retryAfterS: 9 });
  const bridge = (name: string, capacity: number) => ({
    name,
    originHostname: `voice-${name}.mycosoft.com`,
    service: "http://localhost:8999",
    path: "/api/chat",
    capacity,
  });
  const fleet = { guard, bridges: [bridge("gpu-1", 1), bridge("gpu-2", 2)] };

  it("gives a listed bridge the stack's guard with its own capacity", () => {
    expect(guardOfBridge("prod", fleet, "gpu-2")).toEqual({ guard: { ...guard, capacity: 2 } });
    const chosen = guardOfBridge("prod", fleet, "gpu-2");
    if (!("guard" in chosen)) throw new Error(chosen.problem);
    expect(serverLine(vmFiles(chosen.guard)[0].content)).toContain("maxconn 2");
  });

  it.each<[string, Parameters<typeof guardOfBridge>[1], string | undefined, string]>([
    [
      "a listed bridge not named",
      fleet,
      undefined,
      'stack "prod" lists bridges (gpu-1, gpu-2): pass --bridge <name>',
    ],
    [
      "an unknown bridge",
      fleet,
      "gpu-9",
      '--bridge gpu-9: stack "prod" has no such bridge; its bridges are gpu-1, gpu-2',
    ],
    [
      "a selector on the one-bridge tunnel form",
      {
        guard,
        tunnel: {
          originHostname: "voice-origin.mycosoft.com",
          bridgeService: "http://localhost:8999",
          bridgePath: "/api/chat",
          healthPath: "/health",
        },
      },
      "gpu-1",
      '--bridge gpu-1: stack "prod" has one bridge (voice-edge:tunnel): leave --bridge out',
    ],
  ])("refuses %s, naming the stack and the bridges", (_, settings, name, problem) => {
    expect(guardOfBridge("prod", settings, name)).toEqual({
      problem: expect.stringContaining(problem) as string,
    });
  });

  it("gives the tunnel form the stack's guard as it is", () => {
    const single = {
      guard,
      tunnel: {
        originHostname: "o.mycosoft.com",
        bridgeService: "http://localhost:8999",
        bridgePath: "/api/chat",
        healthPath: "/health",
      },
    };
    expect(guardOfBridge("staging", single, undefined)).toEqual({ guard });
  });
});

describe("the session cap (guard.maxSessionMinutes)", () => {
  const dir = mkdtempSync(join(tmpdir(), "guard-cap-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const printed = (files: { path: string; content: string }[]) =>
    files.map((file) => `### ${file.path}\n${file.content}`).join("\n");

  it.each<[string, unknown]>([
    ["uncapped-default.txt", {}],
    [
      "uncapped-voices-dir.txt",
      { upstream: "http://127.0.0.1:8998", voicesDir: "/opt/personaplex/voices", capacity: 2 },
    ],
  ])(
    "without the key, the VM's files are byte for byte the golden ones: no cap, no task (%s)",
    (file, guard) => {
      expect(printed(vmFiles(guardSchema.parse(guard)))).toBe(
        readFileSync(join(import.meta.dirname, "testdata", file), "utf8"),
      );
    },
  );

  it("with the key: a Lua file HAProxy loads, reaching a runtime API socket in its chroot that its account owns; haproxy -c accepts both", () => {
    const files = vmFiles(
      guardSchema.parse({ maxSessionMinutes: 10, upstream: "http://127.0.0.1:8998" }),
    );
    expect(files.map((file) => file.path)).toEqual([
      VM_PATHS.config,
      VM_PATHS.sessionCapLua,
      VM_PATHS.voices,
      VM_PATHS.drained,
      VM_PATHS.dropIn,
      VM_PATHS.sessionRecordsLua,
    ]);
    const [config, lua] = files;
    expect(config.content).toContain(`  lua-load ${VM_PATHS.sessionCapLua}\n`);
    expect(config.content).toContain(
      "  stats socket /var/lib/haproxy/voice-edge-session-cap.sock mode 600 level admin user haproxy\n",
    );
    expect(lua.content).toContain("local MAX_SECONDS = 600\n");
    expect(lua.content).toContain('local RUNTIME_API = "unix@/voice-edge-session-cap.sock"\n');
    // haproxy -c loads the Lua, so a syntax error in it fails here.
    const luaFile = join(dir, "cap.lua");
    writeFileSync(luaFile, lua.content);
    writeFileSync(join(dir, "voices.txt"), "NATF0.pt\n");
    writeFileSync(join(dir, "drained.map"), drainedMap());
    writeFileSync(join(dir, "records.lua"), sessionRecordsLua());
    const local = config.content
      .replace(VM_PATHS.sessionCapLua, luaFile)
      .replace(VM_PATHS.sessionRecordsLua, join(dir, "records.lua"))
      .replace(VM_PATHS.voices, join(dir, "voices.txt"))
      .replace(VM_PATHS.drained, join(dir, "drained.map"))
      .replace(VM_PATHS.socket, join(dir, "admin.sock"))
      .replace(/^\s+(user|group|chroot) .*$/gm, "");
    writeFileSync(join(dir, "haproxy.cfg"), local);
    execFileSync("haproxy", ["-c", "-q", "-f", join(dir, "haproxy.cfg")], { stdio: "pipe" });
  });

  it("without a chroot (npm run guard), the task uses the guard's own socket and adds none", () => {
    const input = { ...BASE, sessionCap: { seconds: 5, luaFile: "/tmp/cap.lua" } };
    const config = haproxyConfig(input);
    expect(config).toContain("  lua-load /tmp/cap.lua\n");
    expect(config.match(/stats socket/g)).toHaveLength(1);
    expect(sessionCapLua(input)).toContain('local RUNTIME_API = "unix@/tmp/guard.sock"\n');
  });

  it.each<[string, GuardConfigInput["sessionCap"], string]>([
    [
      "0 seconds",
      { seconds: 0, luaFile: "/l.lua" },
      "sessionCap.seconds must be a whole number of seconds from 1 (got 0)",
    ],
    [
      "part seconds",
      { seconds: 1.5, luaFile: "/l.lua" },
      "sessionCap.seconds must be a whole number",
    ],
    ["no Lua file", { seconds: 5, luaFile: "" }, "sessionCap.luaFile is required"],
  ])("refuses a cap of %s, naming the argument", (_, sessionCap, message) => {
    expect(() => haproxyConfig({ ...BASE, sessionCap })).toThrow(message);
    expect(() => sessionCapLua({ ...BASE, sessionCap })).toThrow(message);
  });

  /**
   * The task's loop run `loops` times in HAProxy's own Lua (`haproxy -c` loads it), over a faked
   * runtime API answering `show sess` with `showSess`, or refusing the connection. Its stdout, then
   * the commands it sent.
   */
  function runTask(showSess: string, { loops = 1, reachable = true } = {}) {
    const lua = join(dir, "task.lua");
    writeFileSync(lua, sessionCapLua({ ...BASE, sessionCap: { seconds: 60, luaFile: lua } }));
    const harness = join(dir, "harness.lua");
    writeFileSync(
      harness,
      [
        `local answer = ${JSON.stringify(showSess)}`,
        "local sent = {}",
        "local sleeps = 0",
        "local fake = setmetatable({",
        `  msleep = function() sleeps = sleeps + 1; if sleeps > ${loops} then error("done") end end,`,
        "  tcp = function()",
        "    local command",
        "    return {",
        "      settimeout = function() end,",
        `      connect = function(_, address) return ${reachable} and address == "unix@/tmp/guard.sock", "refused" end,`,
        "      send = function(_, data) command = data; sent[#sent + 1] = data end,",
        '      receive = function() return command == "show sess\\n" and answer or "" end,',
        "      close = function() end,",
        "    }",
        "  end,",
        "  register_task = function(task) pcall(task) end,",
        "}, { __index = core })",
        `assert(loadfile(${JSON.stringify(lua)}, "t", setmetatable({ core = fake }, { __index = _G })))()`,
        'io.stdout:write("sent: " .. table.concat(sent, "|") .. "|end")',
        "io.stdout:flush()",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "harness.cfg"), `global\n  lua-load ${harness}\n`);
    const { stdout } = spawnSync("haproxy", ["-c", "-f", join(dir, "harness.cfg")], {
      encoding: "utf8",
    });
    return {
      lines: stdout.split("\n").filter((line) => line.startsWith(SESSION_CAP_LOG_PREFIX)),
      sent: /sent: (.*)\|end/s.exec(stdout)?.[1],
    };
  }

  it("ends exactly the backend's sessions whose age is past the cap, reading HAProxy's ages (s, m, h, d)", () => {
    const session = (id: string, backend: string, age: string) =>
      `${id}: proto=tcpv4 src=127.0.0.1:5 fe=guard be=${backend} srv=personaplex ts=00 epoch=0 age=${age} calls=3 rate=0 cpu=0 lat=0 rq[f=8848202h] rp[f=88048202h] exp=0s rc=0 c_exp=`;
    const task = runTask(
      [
        session("0xa0", "bridge", "60s"),
        session("0xa1", "bridge", "1m1s"),
        session("0xa2", "bridge", "1h5m"),
        session("0xa3", "bridge", "1d2h"),
        session("0xa4", "bridge", "59s"),
        session("0xa5", "guard", "2h"),
        "0xa6: proto=unix_stream src=unix:1 fe=GLOBAL be=<NONE> srv=<none> ts=00 epoch=0 age=3h calls=1",
        "",
      ].join("\n"),
    );
    expect(task.lines).toEqual(
      ["0xa1 at age 1m1s", "0xa2 at age 1h5m", "0xa3 at age 1d2h"].map(
        (what) => `${SESSION_CAP_LOG_PREFIX} ended session ${what} (maxSessionSeconds 60)`,
      ),
    );
    expect(task.sent).toBe(
      "show sess\n|shutdown session 0xa1\n|shutdown session 0xa2\n|shutdown session 0xa3\n",
    );
  });

  it("says once, not every second, that it cannot reach the runtime API", () => {
    const task = runTask("", { loops: 3, reachable: false });
    expect(task.lines).toEqual([
      `${SESSION_CAP_LOG_PREFIX} cannot reach the runtime API at unix@/tmp/guard.sock (refused): sessions are not capped until it answers`,
    ]);
  });
});

/**
 * The guard's HAProxy configuration, built from typed settings: the same text runs under
 * `npm run guard` on loopback and on each GPU VM (`--print-config`). HAProxy answers every
 * refusal itself, before the upgrade reaches the PersonaPlex server.
 */
import { isIP } from "node:net";
import type { SessionOptionParameter, SessionRefusalReason } from "../../worker/src/guardAnswers";
import { VOICE_FILE_NAME, VOICE_FILE_NAME_MAX_LENGTH } from "../../worker/src/voices";
import type { GuardSettings } from "../config/guard";

export const BACKEND = "bridge";
export const SERVER = "personaplex";
/** The server as HAProxy's runtime API names it (`set server bridge/personaplex state drain`). */
export const SERVER_REF = `${BACKEND}/${SERVER}`;

/** How the guard reaches an https upstream: verified against a CA file, or explicitly not at all. */
export type UpstreamTls = { verify: "ca-file"; caFile: string } | { verify: "none" };

export interface GuardConfigInput {
  listen: { host: string; port: number };
  /** http(s)://host:port of the PersonaPlex server. */
  upstream: string;
  /** Required for an https upstream, refused for an http one. */
  tls?: UpstreamTls;
  capacity: number;
  retryAfterS: number;
  /** A pattern file with one voice file name a line: only these `voice_prompt`s pass. */
  voicesFile: string;
  /** The runtime API socket (drain, ready). */
  statsSocket: string;
  /** On the VM: the account and chroot HAProxy drops to after reading its files. */
  system?: { user: string; group: string; chroot: string };
  /**
   * The longest a session may last, in seconds (the stack and the command say minutes), and where
   * the Lua task that ends it is written (`sessionCapLua`). Absent: only `timeout tunnel` (idle)
   * ends a session.
   */
  sessionCap?: { seconds: number; luaFile: string };
}

/** A setting the builder cannot turn into a configuration; `argument` names it. */
export class GuardConfigError extends Error {
  override name = "GuardConfigError";
  constructor(
    readonly argument: string,
    message: string,
  ) {
    super(`${argument} ${message}`);
  }
}

/** The JSON bodies the guard answers with: the Worker maps them to close codes. */
export const GUARD_ANSWERS = {
  notFound: { error: "not_found" },
  /** Without a parameter: the query as a whole cannot be read the way the server reads it. */
  optionsInvalid: (parameter?: SessionOptionParameter): SessionRefusalReason => ({
    error: "session_options_invalid",
    ...(parameter ? { parameter } : {}),
  }),
  busy: (retryAfterS: number): SessionRefusalReason => ({ error: "bridge_busy", retryAfterS }),
  unavailable: { error: "bridge_unavailable" } satisfies SessionRefusalReason,
} as const;

/**
 * Health checks every second, at the HTTP level (an upstream speaking another protocol, or hung
 * after the TCP connect, is down): the real server has no /health, so any status passes. One
 * refused connection of a live session marks the server down at once (`observe layer4`).
 */
const CHECK = "check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down";

/** What the check asks: the chat route without Upgrade, which aiohttp answers 400 before the handler does anything. */
export const HEALTH_CHECK_REQUEST = "GET /api/chat";

/** Seconds the guard waits for the server's 101 (the real server sends it at once); then 504, down. */
export const UPGRADE_TIMEOUT_S = 5;

/** `VOICE_FILE_NAME` for HAProxy's PCRE2, single-quoted in the config. */
export const VOICE_FILE_NAME_PCRE = VOICE_FILE_NAME.source;

interface Upstream {
  address: string;
  tls: boolean;
  /** A DNS name to send as SNI and verify the certificate against; none for an IP address. */
  name?: string;
}

export function parseUpstream(upstream: string): Upstream {
  if (!URL.canParse(upstream))
    throw new GuardConfigError(
      "upstream",
      `"${upstream}" is not a URL such as https://127.0.0.1:8998`,
    );
  const url = new URL(upstream);
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new GuardConfigError("upstream", `"${upstream}" must be http:// or https://`);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.username)
    throw new GuardConfigError("upstream", `"${upstream}" must be scheme, host and port only`);
  const tls = url.protocol === "https:";
  const port = url.port || (tls ? "443" : "80");
  const host = url.hostname;
  const bare = host.replace(/^\[|\]$/g, "");
  return { address: `${host}:${port}`, tls, name: isIP(bare) ? undefined : bare };
}

function serverLine(input: GuardConfigInput): string {
  const upstream = parseUpstream(input.upstream);
  const base = `server ${SERVER} ${upstream.address} maxconn ${input.capacity} ${CHECK}`;
  if (!upstream.tls) {
    if (input.tls)
      throw new GuardConfigError("tls", "applies to an https upstream only (the upstream is http)");
    return base;
  }
  if (!input.tls)
    throw new GuardConfigError(
      "tls",
      "is required for an https upstream: verify against the server's certificate (a CA file) or say verify none",
    );
  if (input.tls.verify === "none") return `${base} ssl verify none`;
  const name = upstream.name ? ` sni str(${upstream.name}) verifyhost ${upstream.name}` : "";
  return `${base} ssl verify required ca-file ${input.tls.caFile}${name}`;
}

const json = (body: unknown) => `'${JSON.stringify(body)}'`;

/** One refusal: the reason for the log line, then the answer. */
function refuse(
  status: number,
  reason: string,
  body: string,
  condition: string,
  headers = "",
): string[] {
  return [
    `  http-request set-var(txn.refused) str(${reason}) ${condition}`,
    `  http-request return status ${status} content-type application/json ${body}${headers} ${condition}`,
  ];
}

/** start, end, duration, status, HAProxy's termination state and the path: never the query string. */
export const LOG_FORMAT =
  "guard: session start=%[var(txn.start)] end=%[date,utime(%Y-%m-%dT%H:%M:%SZ)] duration_ms=%Tt status=%ST termination=%ts path=%HPO refused=%[var(txn.refused)] bytes_up=%U bytes_down=%B";

/** How often the session cap's Lua task reads the guard's sessions. */
export const SESSION_CAP_CHECK_INTERVAL_S = 1;

/** How long the task waits for one runtime API answer (Lua sockets take fractions of a second). */
export const SESSION_CAP_READ_TIMEOUT_S = 0.1;

/**
 * How long past its cap a session can live: `show sess` gives a session's age as the difference of
 * two whole-second clocks, up to 1 s more than it has lived, so the task ends a session once that age
 * exceeds the cap (it has then lived the cap at least): 1 s more, then the next check, whose read of
 * `show sess` can take its timeout.
 */
export const SESSION_CAP_BOUND_S = 1 + SESSION_CAP_CHECK_INTERVAL_S + SESSION_CAP_READ_TIMEOUT_S;

/** The first words of the task's own lines (a session it ended, the runtime API out of reach). */
export const SESSION_CAP_LOG_PREFIX = "guard: session cap:";

/** In a chroot, the cap's runtime API socket: inside it, owned by the account HAProxy drops to. */
const SESSION_CAP_SOCKET = "voice-edge-session-cap.sock";

/**
 * Where the cap's task reaches the runtime API (HAProxy has no Lua call to end a stream): the guard's
 * own socket, or in a chroot a second one inside it, the only one the dropped account can open.
 */
function sessionCapSocket(input: GuardConfigInput): { statsLine?: string; address: string } {
  if (!input.system) return { address: `unix@${input.statsSocket}` };
  const { user, chroot } = input.system;
  return {
    statsLine: `  stats socket ${chroot.replace(/\/$/, "")}/${SESSION_CAP_SOCKET} mode 600 level admin user ${user}`,
    address: `unix@/${SESSION_CAP_SOCKET}`,
  };
}

function checkSessionCap(cap: GuardConfigInput["sessionCap"]): void {
  if (cap === undefined) return;
  if (!Number.isInteger(cap.seconds) || cap.seconds < 1)
    throw new GuardConfigError(
      "sessionCap.seconds",
      `must be a whole number of seconds from 1 (got ${cap.seconds})`,
    );
  if (!cap.luaFile)
    throw new GuardConfigError("sessionCap.luaFile", "is required: the Lua task's file");
}

/**
 * The Lua task HAProxy runs for the session cap: every second it lists the sessions (`show sess`)
 * and ends each of the backend's that is past the cap (`shutdown session`, termination state `K`),
 * with a line of its own on stdout beside HAProxy's session lines.
 */
export function sessionCapLua(input: GuardConfigInput): string {
  if (!input.sessionCap) throw new GuardConfigError("sessionCap", "is not set: no cap, no task");
  checkSessionCap(input.sessionCap);
  const { address } = sessionCapSocket(input);
  return [
    "-- Generated by voice-edge (infra/guard/haproxyConfig.ts): ends each guard session that is past its cap.",
    `local MAX_SECONDS = ${input.sessionCap.seconds}`,
    `local RUNTIME_API = "${address}"`,
    `local BACKEND = "${BACKEND}"`,
    `local INTERVAL_MS = ${SESSION_CAP_CHECK_INTERVAL_S * 1000}`,
    "",
    "-- `show sess` writes an age as HAProxy's human time: 59s, 4m59s, 1h5m, 1d2h (two units at most).",
    "local UNIT_SECONDS = { d = 86400, h = 3600, m = 60, s = 1 }",
    "local function seconds(age)",
    "  local total = 0",
    '  for count, unit in age:gmatch("(%d+)([dhms])") do',
    "    total = total + tonumber(count) * UNIT_SECONDS[unit]",
    "  end",
    "  return total",
    "end",
    "",
    "-- HAProxy's own lines go to stdout too (log stdout); core.log would add a copy on stderr.",
    "local function say(line)",
    `  io.stdout:write("${SESSION_CAP_LOG_PREFIX} " .. line .. "\\n")`,
    "  io.stdout:flush()",
    "end",
    "",
    "-- An answer larger than HAProxy's buffer (16 KiB: ~55 sessions) arrives whole, but its close does",
    "-- not: the read then ends at the timeout. A cut answer only leaves a session to the next check.",
    "local function runtime(command)",
    "  local socket = core.tcp()",
    `  socket:settimeout(${SESSION_CAP_READ_TIMEOUT_S})`,
    "  local connected, problem = socket:connect(RUNTIME_API)",
    "  if not connected then",
    "    socket:close()",
    "    return nil, problem",
    "  end",
    '  socket:send(command .. "\\n")',
    '  local answer, _, partial = socket:receive("*a")',
    "  socket:close()",
    "  return answer or partial",
    "end",
    "",
    "core.register_task(function()",
    "  local unreachable = false",
    "  while true do",
    "    core.msleep(INTERVAL_MS)",
    '    local sessions, problem = runtime("show sess")',
    "    if not sessions then",
    "      if not unreachable then",
    '        say("cannot reach the runtime API at " .. RUNTIME_API .. " (" .. tostring(problem) .. "): sessions are not capped until it answers")',
    "      end",
    "      unreachable = true",
    "    else",
    '      if unreachable then say("the runtime API answers again") end',
    "      unreachable = false",
    '      for id, age in sessions:gmatch("(0x%x+): [^\\n]- be=" .. BACKEND .. " [^\\n]- age=(%S+)") do',
    "        if seconds(age) > MAX_SECONDS then",
    '          local answer = runtime("shutdown session " .. id) or ""',
    '          if not answer:find("%S") then',
    '            say("ended session " .. id .. " at age " .. age .. " (maxSessionSeconds " .. MAX_SECONDS .. ")")',
    "          end",
    "        end",
    "      end",
    "    end",
    "  end",
    "end)",
    "",
  ].join("\n");
}

export function haproxyConfig(input: GuardConfigInput): string {
  const { capacity, retryAfterS } = input;
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new GuardConfigError(
      "capacity",
      `must be a whole number of sessions from 1 (got ${capacity})`,
    );
  if (!Number.isInteger(retryAfterS) || retryAfterS < 1)
    throw new GuardConfigError(
      "retryAfterS",
      `must be a whole number of seconds from 1 (got ${retryAfterS})`,
    );
  checkSessionCap(input.sessionCap);
  const server = serverLine(input);
  const health = (up: boolean) =>
    `'{"up":${up},"sessions":%[srv_conn(${SERVER_REF})],"capacity":${capacity},"draining":${up ? `%[nbsrv(${BACKEND}),bool,iif(false,true)]` : "false"}}'`;
  if (!input.voicesFile)
    throw new GuardConfigError("voicesFile", "is required: the guard always has a voices list");
  const busy = GUARD_ANSWERS.busy(retryAfterS);
  // An error answer of the backend: 503 is either the queue's 1 ms running out (two sessions at once
  // for the last slot: busy, with Retry-After) or a refused connection, which has just marked the
  // server down (`observe layer4`): unavailable, without Retry-After (empty, then removed).
  const serverUp = `srv_is_up(${SERVER_REF})`;
  const quoted = (body: unknown) => `"${JSON.stringify(body).replaceAll('"', '\\"')}"`;
  const backendError503 = `'%[${serverUp},iif(${quoted(busy)},${quoted(GUARD_ANSWERS.unavailable)})]' hdr Retry-After "%[${serverUp},iif(${retryAfterS},)]"`;
  const retryAfter = ` hdr Retry-After ${retryAfterS}`;
  const system = input.system
    ? [
        `  user ${input.system.user}`,
        `  group ${input.system.group}`,
        `  chroot ${input.system.chroot}`,
      ]
    : [];

  return [
    "# Generated by voice-edge (infra/guard/haproxyConfig.ts): the guard in front of the PersonaPlex server.",
    "global",
    "  log stdout format raw local0 info",
    `  stats socket ${input.statsSocket} mode 600 level admin`,
    "  nbthread 1",
    "  maxconn 256",
    ...system,
    ...(input.sessionCap
      ? [
          `  lua-load ${input.sessionCap.luaFile}`,
          ...[sessionCapSocket(input).statsLine ?? []].flat(),
        ]
      : []),
    "",
    "defaults",
    "  mode http",
    "  log global",
    "  option http-server-close",
    "  option dontlognull",
    "  timeout connect 3s",
    "  timeout http-request 10s",
    "  timeout client 30s",
    `  timeout server ${UPGRADE_TIMEOUT_S}s`,
    "  timeout client-fin 5s",
    "  timeout tunnel 10m",
    "  # A refused connection is a server down, answered at once: no retry a second later.",
    "  retries 0",
    "  # A session beyond capacity is refused, never queued: a waiting client would rewrite the running persona.",
    "  timeout queue 1ms",
    "",
    "frontend guard",
    `  bind ${input.listen.host}:${input.listen.port}`,
    `  log-format "${LOG_FORMAT}"`,
    "  http-request set-var(txn.start) date,utime(%Y-%m-%dT%H:%M:%SZ)",
    "  acl health path /health",
    "  acl chat path /api/chat",
    `  acl up srv_is_up(${SERVER_REF})`,
    `  acl draining nbsrv(${BACKEND}) eq 0`,
    `  acl busy srv_conn(${SERVER_REF}) ge ${capacity}`,
    `  acl queued srv_queue(${SERVER_REF}) gt 0`,
    // aiohttp splits the query on '&' only and leaves a bad escape as it is; HAProxy's url_param also
    // splits on ';' and '?', and url_dec fails on a bad escape (turning the decoded checks off).
    // So a query that the two would read differently is refused as a whole.
    "  acl query_split query -m reg [;?]",
    "  acl has_query query -m found",
    "  acl query_decodes query,url_dec -m found",
    "  acl name_encoded query -m reg (^|&)[^=&]*%",
    "  acl has_text url_param(text_prompt) -m found",
    `  acl voice_listed url_param(voice_prompt) -m str -f ${input.voicesFile}`,
    // A file name, never a path, whatever the list says: the server joins it to its voice directory.
    `  acl voice_file_name url_param(voice_prompt) -m reg '${VOICE_FILE_NAME_PCRE}'`,
    `  acl voice_short url_param(voice_prompt) -m len le ${VOICE_FILE_NAME_MAX_LENGTH}`,
    "  acl has_seed url_param(seed) -m found",
    // The server reads each option's first value after percent-decoding (a name without '=' too);
    // url_param matches the first 'name=', raw. So a repeated or encoded option is refused too.
    // (?s): a decoded %0A between the two must not hide the repeat ('.' stops at a newline otherwise).
    "  acl text_repeated query,url_dec -m reg (?s)(^|&)text_prompt(=[^&]*)?&(.*&)?text_prompt(=|&|$)",
    "  acl voice_repeated query,url_dec -m reg (?s)(^|&)voice_prompt(=[^&]*)?&(.*&)?voice_prompt(=|&|$)",
    "  acl seed_encoded query,url_dec -m reg (^|&)seed(=|&|$)",
    "  http-request set-log-level silent if health",
    `  http-request return status 200 content-type application/json lf-string ${health(true)} hdr Cache-Control no-store if health up`,
    `  http-request return status 503 content-type application/json lf-string ${health(false)} hdr Cache-Control no-store if health`,
    ...refuse(404, "not_found", `string ${json(GUARD_ANSWERS.notFound)}`, "unless chat"),
    ...refuse(
      400,
      "session_options_invalid/query",
      `string ${json(GUARD_ANSWERS.optionsInvalid())}`,
      "if query_split || has_query !query_decodes",
    ),
    ...(["text_prompt", "voice_prompt", "seed"] as const).flatMap((parameter) =>
      refuse(
        400,
        `session_options_invalid/${parameter}`,
        `string ${json(GUARD_ANSWERS.optionsInvalid(parameter))}`,
        {
          text_prompt: "if !has_text || text_repeated",
          voice_prompt: "if !voice_listed || !voice_file_name || !voice_short || voice_repeated",
          seed: "if has_seed || seed_encoded",
        }[parameter],
      ),
    ),
    // After the options' own checks, so that an encoded name that decodes to an option is named.
    ...refuse(
      400,
      "session_options_invalid/query",
      `string ${json(GUARD_ANSWERS.optionsInvalid())}`,
      "if name_encoded",
    ),
    ...refuse(503, "bridge_unavailable", `string ${json(GUARD_ANSWERS.unavailable)}`, "unless up"),
    ...refuse(503, "draining", `string ${json(busy)}`, "if draining", retryAfter),
    ...refuse(503, "bridge_busy", `string ${json(busy)}`, "if busy or queued", retryAfter),
    "  http-after-response del-header Retry-After if { res.hdr(Retry-After) -m len 0 }",
    `  default_backend ${BACKEND}`,
    "",
    `backend ${BACKEND}`,
    "  http-reuse never",
    `  option httpchk ${HEALTH_CHECK_REQUEST}`,
    "  http-check expect status 100-599",
    `  http-error status 503 content-type application/json lf-string ${backendError503}`,
    ...[502, 504].map(
      (status) =>
        `  http-error status ${status} content-type application/json string ${json(GUARD_ANSWERS.unavailable)}`,
    ),
    `  ${server}`,
    "",
  ].join("\n");
}

/** The voices pattern file: one name a line. */
export function voicesFile(voices: readonly string[]): string {
  return `${voices.join("\n")}\n`;
}

export interface VmFile {
  path: string;
  content: string;
}

export const VM_PATHS = {
  config: "/etc/haproxy/haproxy.cfg",
  voices: "/etc/haproxy/voice-edge-voices.txt",
  voicesScript: "/etc/haproxy/voice-edge-voices.sh",
  socket: "/run/haproxy/admin.sock",
  dropIn: "/etc/systemd/system/haproxy.service.d/voice-edge-guard.conf",
  sessionCapLua: "/etc/haproxy/voice-edge-session-cap.lua",
} as const;

/** `VOICE_FILE_NAME` for `grep -E` (POSIX ERE: no `(?:`, a bracketed dot instead of an escaped one). */
export const VOICE_FILE_NAME_ERE = VOICE_FILE_NAME.source
  .replaceAll("(?:", "(")
  .replaceAll("\\.", "[.]");

/**
 * The voices list rebuilt from the server's voice directory before HAProxy starts: every `*.pt`
 * file there, each checked to be a voice file name. It refuses to start (one journal line) when
 * the directory holds none, or a name that is not a file name.
 */
export function voicesScript(voicesDir: string, listPath: string = VM_PATHS.voices): string {
  return [
    "#!/bin/sh",
    "# Generated by voice-edge: the guard's voices list from the PersonaPlex server's voice directory (guard.voicesDir).",
    "set -eu",
    "export LC_ALL=C",
    `dir='${voicesDir}'`,
    `list='${listPath}'`,
    'fail() { echo "voice-edge guard: $1; HAProxy not started (guard.voicesDir)" >&2; exit 1; }',
    '[ -d "$dir" ] || fail "the voice directory $dir does not exist"',
    'next="$list.new"',
    ': > "$next"',
    'for file in "$dir"/*.pt; do',
    '  [ -f "$file" ] || continue',
    "  name=${file##*/}",
    `  if [ \${#name} -gt ${VOICE_FILE_NAME_MAX_LENGTH} ] || ! printf '%s' "$name" | grep -Ezq '${VOICE_FILE_NAME_ERE}'; then`,
    '    rm -f "$next"',
    "    fail \"$dir holds a voice file whose name is not a voice file name such as NATF0.pt: $(printf '%s' \"$name\" | tr -c '[:print:]' '?')\"",
    "  fi",
    '  printf \'%s\\n\' "$name" >> "$next"',
    "done",
    'if [ ! -s "$next" ]; then rm -f "$next"; fail "no *.pt voice file in $dir"; fi',
    'mv "$next" "$list"',
    'echo "voice-edge guard: $(wc -l < "$list") voices from $dir"',
    "",
  ].join("\n");
}

/**
 * Debian's haproxy.service, amended: the run directory for the socket, the voices list rebuilt
 * from the server's voice directory (with `voicesDir`), the config checked before start.
 */
export function systemdDropIn(voicesDir?: string): string {
  return [
    "# Generated by voice-edge: Debian's haproxy.service runs the guard (journalctl -u haproxy shows its session lines).",
    "[Unit]",
    "Description=voice-edge guard (HAProxy in front of the PersonaPlex server)",
    "",
    "[Service]",
    "RuntimeDirectory=haproxy",
    "RuntimeDirectoryPreserve=yes",
    ...(voicesDir ? [`ExecStartPre=/bin/sh ${VM_PATHS.voicesScript}`] : []),
    "ExecStartPre=/usr/sbin/haproxy -c -q -f ${CONFIG}",
    "RestartSec=2s",
    "",
  ].join("\n");
}

/** The files a GPU VM needs for its guard, from the stack's `guard` settings. */
export function vmFiles(settings: GuardSettings): VmFile[] {
  const https = parseUpstream(settings.upstream).tls;
  const input: GuardConfigInput = {
    listen: { host: "127.0.0.1", port: settings.listenPort },
    upstream: settings.upstream,
    tls: !https
      ? undefined
      : settings.upstreamInsecure
        ? { verify: "none" }
        : { verify: "ca-file", caFile: settings.upstreamCaFile },
    capacity: settings.capacity,
    retryAfterS: settings.retryAfterS,
    voicesFile: VM_PATHS.voices,
    statsSocket: VM_PATHS.socket,
    system: { user: "haproxy", group: "haproxy", chroot: "/var/lib/haproxy" },
    sessionCap:
      settings.maxSessionMinutes === undefined
        ? undefined
        : { seconds: settings.maxSessionMinutes * 60, luaFile: VM_PATHS.sessionCapLua },
  };
  return [
    { path: VM_PATHS.config, content: haproxyConfig(input) },
    ...(input.sessionCap ? [{ path: VM_PATHS.sessionCapLua, content: sessionCapLua(input) }] : []),
    settings.voicesDir
      ? { path: VM_PATHS.voicesScript, content: voicesScript(settings.voicesDir) }
      : { path: VM_PATHS.voices, content: voicesFile(settings.voices) },
    { path: VM_PATHS.dropIn, content: systemdDropIn(settings.voicesDir) },
  ];
}

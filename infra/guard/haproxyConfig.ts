/**
 * The guard's HAProxy configuration, built from typed settings: the same text runs under
 * `npm run guard` on loopback and on each GPU VM (`--print-config`). HAProxy answers every
 * refusal itself, before the upgrade reaches the PersonaPlex server.
 */
import { isIP } from "node:net";
import type { SessionOptionParameter, SessionRefusalReason } from "../../worker/src/guardAnswers";
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
  /** A pattern file with one voice file name a line; without it any non-empty voice_prompt passes. */
  voicesFile?: string;
  /** The runtime API socket (drain, ready). */
  statsSocket: string;
  /** On the VM: the account and chroot HAProxy drops to after reading its files. */
  system?: { user: string; group: string; chroot: string };
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
  optionsInvalid: (parameter: SessionOptionParameter): SessionRefusalReason => ({
    error: "session_options_invalid",
    parameter,
  }),
  busy: (retryAfterS: number): SessionRefusalReason => ({ error: "bridge_busy", retryAfterS }),
  unavailable: { error: "bridge_unavailable" } satisfies SessionRefusalReason,
} as const;

/** Health checks: a TCP connect (with the TLS handshake for https), the real server has no /health. */
const CHECK = "check inter 1s fall 2 rise 1";

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
  const server = serverLine(input);
  const health = (up: boolean) =>
    `'{"up":${up},"sessions":%[srv_conn(${SERVER_REF})],"capacity":${capacity},"draining":${up ? `%[nbsrv(${BACKEND}),bool,iif(false,true)]` : "false"}}'`;
  const voice = input.voicesFile
    ? `url_param(voice_prompt) -m str -f ${input.voicesFile}`
    : "url_param(voice_prompt) -m len gt 0";
  const busy = GUARD_ANSWERS.busy(retryAfterS);
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
    "",
    "defaults",
    "  mode http",
    "  log global",
    "  option http-server-close",
    "  option dontlognull",
    "  timeout connect 3s",
    "  timeout http-request 10s",
    "  timeout client 30s",
    "  timeout server 30s",
    "  timeout client-fin 5s",
    "  timeout tunnel 10m",
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
    "  acl has_text url_param(text_prompt) -m found",
    `  acl known_voice ${voice}`,
    "  acl has_seed url_param(seed) -m found",
    // The server reads each option's first value after percent-decoding; HAProxy's url_param matches
    // any occurrence, raw. So a repeated or encoded option, or a voice cut at ';', is refused too.
    "  acl text_repeated query,url_dec -m reg (^|&)text_prompt=.*&text_prompt=",
    "  acl voice_repeated query,url_dec -m reg (^|&)voice_prompt=.*&voice_prompt=",
    "  acl voice_cut query -m reg (^|&)voice_prompt=[^&]*;",
    "  acl seed_encoded query,url_dec -m reg (^|&)seed(=|&|$)",
    "  http-request set-log-level silent if health",
    `  http-request return status 200 content-type application/json lf-string ${health(true)} hdr Cache-Control no-store if health up`,
    `  http-request return status 503 content-type application/json lf-string ${health(false)} hdr Cache-Control no-store if health`,
    ...refuse(404, "not_found", `string ${json(GUARD_ANSWERS.notFound)}`, "unless chat"),
    ...(["text_prompt", "voice_prompt", "seed"] as const).flatMap((parameter) =>
      refuse(
        400,
        `session_options_invalid/${parameter}`,
        `string ${json(GUARD_ANSWERS.optionsInvalid(parameter))}`,
        {
          text_prompt: "if !has_text || text_repeated",
          voice_prompt: "if !known_voice || voice_repeated || voice_cut",
          seed: "if has_seed || seed_encoded",
        }[parameter],
      ),
    ),
    ...refuse(503, "bridge_unavailable", `string ${json(GUARD_ANSWERS.unavailable)}`, "unless up"),
    ...refuse(503, "draining", `string ${json(busy)}`, "if draining", retryAfter),
    ...refuse(503, "bridge_busy", `string ${json(busy)}`, "if busy or queued", retryAfter),
    `  default_backend ${BACKEND}`,
    "",
    `backend ${BACKEND}`,
    "  http-reuse never",
    // The frontend has checked that the server is up: a 503 here is the queue's 1 ms running out
    // (two sessions arriving at once for the last slot), so it says busy, with Retry-After.
    `  http-error status 503 content-type application/json string ${json(busy)}${retryAfter}`,
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
  socket: "/run/haproxy/admin.sock",
  dropIn: "/etc/systemd/system/haproxy.service.d/voice-edge-guard.conf",
} as const;

/** Debian's haproxy.service, amended: the run directory for the socket, the config checked before start. */
export const SYSTEMD_DROP_IN = [
  "# Generated by voice-edge: Debian's haproxy.service runs the guard (journalctl -u haproxy shows its session lines).",
  "[Unit]",
  "Description=voice-edge guard (HAProxy in front of the PersonaPlex server)",
  "",
  "[Service]",
  "RuntimeDirectory=haproxy",
  "RuntimeDirectoryPreserve=yes",
  "ExecStartPre=/usr/sbin/haproxy -c -q -f ${CONFIG}",
  "RestartSec=2s",
  "",
].join("\n");

/** The files a GPU VM needs for its guard, from the stack's `guard` settings. */
export function vmFiles(settings: GuardSettings): VmFile[] {
  const https = parseUpstream(settings.upstream).tls;
  const config = haproxyConfig({
    listen: { host: "127.0.0.1", port: settings.listenPort },
    upstream: settings.upstream,
    tls: !https
      ? undefined
      : settings.upstreamInsecure
        ? { verify: "none" }
        : { verify: "ca-file", caFile: settings.upstreamCaFile },
    capacity: settings.capacity,
    retryAfterS: settings.retryAfterS,
    voicesFile: settings.voices ? VM_PATHS.voices : undefined,
    statsSocket: VM_PATHS.socket,
    system: { user: "haproxy", group: "haproxy", chroot: "/var/lib/haproxy" },
  });
  return [
    { path: VM_PATHS.config, content: config },
    ...(settings.voices ? [{ path: VM_PATHS.voices, content: voicesFile(settings.voices) }] : []),
    { path: VM_PATHS.dropIn, content: SYSTEMD_DROP_IN },
  ];
}

/**
 * What `npm run guard` finds at its upstream before HAProxy starts, at the protocol level: one HTTP
 * request over plain TCP or TLS, as the upstream's scheme says, and the other when that fails. A
 * definite mismatch (a TLS port given as http://, plain HTTP given as https://, a certificate the CA
 * file does not verify) refuses to start: every session would get 1014. Nothing listening, or a
 * server that does not answer in time, starts anyway with a warning.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect as tcpConnect, isIP, type Socket } from "node:net";
import {
  checkServerIdentity,
  connect as tlsConnect,
  type Certificate,
  type DetailedPeerCertificate,
  type TLSSocket,
} from "node:tls";

/** Per connection: connect, handshake and the first line of the answer each within it. */
export const PROBE_TIMEOUT_MS = 3_000;

export interface ProbeResult {
  /** `ok`: it answered as configured; `warn`: start anyway; `refuse`: a misconfiguration. */
  verdict: "ok" | "warn" | "refuse";
  /** One line saying what was found (and for `refuse` what to pass instead). */
  line: string;
}

export interface ProbeTarget {
  /** As the user gave it: http(s)://host:port */
  upstream: string;
  /** For an https upstream: the CA file to verify against, or none (`--upstream-insecure`). */
  caFile?: string;
}

type Exchange =
  | { kind: "unreachable"; code: string }
  | { kind: "handshake-failed"; message: string }
  | {
      kind: "answered";
      /** The first bytes (up to the first line) the server sent; empty when it closed without any. */
      bytes: Buffer;
      timedOut: boolean;
      peer?: { authorized: boolean; error?: string; certificate: DetailedPeerCertificate };
    };

interface Address {
  host: string;
  port: number;
  /** A DNS name: sent as SNI and checked against the certificate, as HAProxy's verifyhost does. */
  name?: string;
}

function addressOf(upstream: string): Address & { tls: boolean } {
  const url = new URL(upstream);
  const tls = url.protocol === "https:";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return {
    host,
    port: Number(url.port || (tls ? 443 : 80)),
    tls,
    name: isIP(host) ? undefined : host,
  };
}

const REQUEST = (host: string) =>
  `GET / HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: voice-edge-guard-probe\r\nConnection: close\r\n\r\n`;

/** Sends one GET over `socket` once it is open (TLS: after the handshake) and collects the answer's first line. */
function exchange(socket: Socket, address: Address, tls: boolean): Promise<Exchange> {
  return new Promise((resolve) => {
    let bytes = Buffer.alloc(0);
    let connected = false;
    let opened = false;
    let settled = false;
    let peer: Extract<Exchange, { kind: "answered" }>["peer"];
    const done = (result: Exchange) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const answered = (timedOut: boolean) => done({ kind: "answered", bytes, timedOut, peer });
    const timer = setTimeout(() => {
      if (connected) answered(true);
      else done({ kind: "unreachable", code: `no connection within ${PROBE_TIMEOUT_MS / 1000} s` });
    }, PROBE_TIMEOUT_MS);
    socket.once("connect", () => (connected = true));
    socket.once(tls ? "secureConnect" : "connect", () => {
      opened = true;
      if (tls) {
        const secure = socket as TLSSocket;
        peer = {
          authorized: secure.authorized,
          error: secure.authorizationError ? String(secure.authorizationError) : undefined,
          certificate: secure.getPeerCertificate(true),
        };
      }
      socket.write(REQUEST(address.name ?? address.host));
    });
    socket.on("data", (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]).subarray(0, 256);
      if (bytes.includes("\n") || bytes.length >= 256) answered(false);
    });
    socket.once("end", () => answered(false));
    socket.once("close", () => answered(false));
    socket.once("error", (error: NodeJS.ErrnoException) => {
      if (opened) answered(false);
      else if (connected && tls) done({ kind: "handshake-failed", message: error.message });
      else done({ kind: "unreachable", code: error.code ?? error.message });
    });
  });
}

function plainExchange(address: Address): Promise<Exchange> {
  return exchange(tcpConnect(address.port, address.host), address, false);
}

function tlsExchange(address: Address, ca?: Buffer): Promise<Exchange> {
  const socket = tlsConnect({
    host: address.host,
    port: address.port,
    servername: address.name,
    ca,
    rejectUnauthorized: false,
  });
  return exchange(socket, address, true);
}

const statusOf = (bytes: Buffer) =>
  /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(bytes.toString("latin1"))?.[1];

/** A TLS record's first byte: handshake (0x16) or alert (0x15). */
const looksLikeTls = (bytes: Buffer) =>
  bytes.length > 0 && (bytes[0] === 0x16 || bytes[0] === 0x15);

const shown = (bytes: Buffer) =>
  JSON.stringify(
    bytes
      .subarray(0, 24)
      .toString("latin1")
      .replace(/[^\x20-\x7e]/g, "."),
  );

function downLine(upstream: string, why: string): ProbeResult {
  return {
    verdict: "warn",
    line: `upstream ${upstream}: ${why}; starting anyway: sessions get 503 bridge_unavailable (1014 at the page) until it answers`,
  };
}

function unreachable(upstream: string, code: string): ProbeResult {
  return downLine(
    upstream,
    code === "ECONNREFUSED" ? "nothing listens (connection refused)" : `not reachable (${code})`,
  );
}

/** `CN=…` or the first name the certificate's subject or issuer has. */
function nameOf(entity: Certificate | undefined): string {
  // Node gives a repeated attribute (two OU, say) as an array.
  const names = (entity ?? {}) as unknown as Record<string, string | string[] | undefined>;
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
  return first(names.CN) ?? first(names.O) ?? first(names.OU) ?? "an unnamed CA";
}

const pemBlocks = (text: string) =>
  text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/** Every certificate in a PEM file (none for a file without a CERTIFICATE block). */
function certificatesIn(file: string): X509Certificate[] {
  return pemBlocks(readFileSync(file, "utf8")).map((pem) => new X509Certificate(pem));
}

/** The last certificate of the chain the server sent (its own when it sent only that). */
function topOfChain(certificate: DetailedPeerCertificate): DetailedPeerCertificate {
  let top = certificate;
  for (let i = 0; i < 10; i++) {
    const next = top.issuerCertificate;
    if (!next || next.fingerprint256 === top.fingerprint256) break;
    top = next;
  }
  return top;
}

const selfSigned = (certificate: DetailedPeerCertificate) =>
  JSON.stringify(certificate.subject) === JSON.stringify(certificate.issuer);

function verificationRefusal(
  upstream: string,
  caFile: string,
  error: string | undefined,
  certificate: DetailedPeerCertificate,
): ProbeResult {
  const given = certificatesIn(caFile).map((cert) => cert.fingerprint256);
  const top = topOfChain(certificate);
  const issuer = nameOf(top.issuer);
  const mkcert = /mkcert/i.test(JSON.stringify(top.issuer));
  const rootToGive = mkcert
    ? `pass --upstream-ca "$(mkcert -CAROOT)/rootCA.pem" (mkcert's root CA)`
    : `pass --upstream-ca <the certificate of "${issuer}">, the CA that issued it`;
  if (!selfSigned(top) && given.includes(certificate.fingerprint256))
    return {
      verdict: "refuse",
      line: `--upstream-ca ${caFile} is the server's own certificate, issued by "${issuer}": HAProxy verifies it only against the CA that issued it: ${rootToGive}`,
    };
  const what = `the certificate of ${upstream} (${nameOf(certificate.subject)}, issued by "${issuer}")`;
  return {
    verdict: "refuse",
    line: selfSigned(top)
      ? `${what} does not verify against --upstream-ca ${caFile} (${error}): it is self-signed: pass that certificate itself (the server's --ssl <dir>/cert.pem)`
      : `${what} does not verify against --upstream-ca ${caFile} (${error}): ${rootToGive}`,
  };
}

function answerLine(upstream: string, bytes: Buffer, timedOut: boolean, over: string) {
  const status = statusOf(bytes);
  if (status)
    return {
      verdict: "ok" as const,
      line: `upstream ${upstream} answers ${over} (status ${status} for GET /)`,
    };
  if (timedOut && bytes.length === 0)
    return downLine(
      upstream,
      `accepts connections but sent no answer to GET / within ${PROBE_TIMEOUT_MS / 1000} s (hung?)`,
    );
  if (bytes.length === 0)
    return downLine(upstream, `closed the connection without answering GET /`);
  return {
    verdict: "refuse" as const,
    line: `--upstream ${upstream} answers something that is not ${over} (first bytes ${shown(bytes)}): is it the PersonaPlex server?`,
  };
}

async function probeHttp(upstream: string, address: Address): Promise<ProbeResult> {
  const plain = await plainExchange(address);
  if (plain.kind !== "answered")
    return unreachable(upstream, plain.kind === "unreachable" ? plain.code : plain.message);
  if (statusOf(plain.bytes) || (plain.timedOut && plain.bytes.length === 0))
    return answerLine(upstream, plain.bytes, plain.timedOut, "HTTP");
  if (plain.bytes.length === 0 || looksLikeTls(plain.bytes)) {
    const secure = await tlsExchange(address);
    if (secure.kind === "answered") {
      const https = upstream.replace(/^http:/, "https:");
      return {
        verdict: "refuse",
        line: `--upstream ${upstream} answers TLS: use --upstream ${https} with --upstream-ca <file> or --upstream-insecure`,
      };
    }
  }
  return answerLine(upstream, plain.bytes, plain.timedOut, "HTTP");
}

async function probeHttps(
  upstream: string,
  address: Address,
  caFile: string | undefined,
): Promise<ProbeResult> {
  const secure = await tlsExchange(address, caFile ? readFileSync(caFile) : undefined);
  if (secure.kind === "unreachable") return unreachable(upstream, secure.code);
  if (secure.kind === "handshake-failed") {
    const plain = await plainExchange(address);
    const status = plain.kind === "answered" ? statusOf(plain.bytes) : undefined;
    if (status)
      return {
        verdict: "refuse",
        line: `--upstream ${upstream} answers plain HTTP (status ${status}), not TLS: use --upstream ${upstream.replace(/^https:/, "http:")} without --upstream-ca/--upstream-insecure`,
      };
    return {
      verdict: "refuse",
      line: `--upstream ${upstream}: the TLS handshake fails (${secure.message})`,
    };
  }
  const peer = secure.peer;
  if (!peer) return answerLine(upstream, secure.bytes, secure.timedOut, "HTTPS");
  let verified = "not verified (--upstream-insecure)";
  if (caFile) {
    // Node's altname error comes after a chain that verified: the name is the question, and HAProxy
    // checks a name only when the upstream has one (for an IP address the chain alone).
    if (!peer.authorized && peer.error !== "ERR_TLS_CERT_ALTNAME_INVALID")
      return verificationRefusal(upstream, caFile, peer.error, peer.certificate);
    const mismatch = address.name ? checkServerIdentity(address.name, peer.certificate) : undefined;
    if (mismatch)
      return {
        verdict: "refuse",
        line: `--upstream ${upstream}: its certificate is not for ${address.name} (${mismatch.message.replace(/^Hostname\/IP does not match certificate's altnames: /, "")})`,
      };
    verified = `verified against ${caFile}`;
  }
  const answer = answerLine(upstream, secure.bytes, secure.timedOut, "HTTPS");
  return answer.verdict === "ok"
    ? {
        verdict: "ok",
        line: `${answer.line}; its certificate (${nameOf(peer.certificate.subject)}, issued by "${nameOf(topOfChain(peer.certificate).issuer)}") ${verified}`,
      }
    : answer;
}

/** One probe of `target`, bounded by PROBE_TIMEOUT_MS per connection (at most two connections). */
export async function probeUpstream(target: ProbeTarget): Promise<ProbeResult> {
  const address = addressOf(target.upstream);
  return address.tls
    ? probeHttps(target.upstream, address, target.caFile)
    : probeHttp(target.upstream, address);
}

/** What keeps `file` from being a CA file: no certificate in it, or one that does not parse. */
export function caFileProblem(file: string): string | undefined {
  let certificates: X509Certificate[];
  try {
    certificates = certificatesIn(file);
  } catch (error) {
    return `cannot be read as PEM certificates (${(error as Error).message})`;
  }
  return certificates.length === 0
    ? "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    : undefined;
}

import { execFileSync } from "node:child_process";
import { join } from "node:path";

export interface CertificateFiles {
  /** PEM certificate (a self-signed one is also the CA a client trusts to connect). */
  cert: string;
  key: string;
}

const openssl = (args: string[]) =>
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });

/**
 * A self-signed certificate for localhost and 127.0.0.1 (as the real PersonaPlex server's
 * `--ssl` runs with one), made with openssl in `dir` as `<name>.pem` and `<name>-key.pem`.
 * Throws openssl's error (`code: "ENOENT"` when openssl is not installed).
 */
export function selfSignedCertificate(dir: string, name = "cert", days = 7): CertificateFiles {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  openssl([
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", String(days)],
    ...["-keyout", files.key, "-out", files.cert, "-subj", "/CN=localhost"],
    ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
  ]);
  return files;
}

/**
 * A local certificate authority as mkcert makes one (`rootCA.pem` and `rootCA-key.pem`, CA:TRUE,
 * subject `O=<organization>`, `CN=<commonName>`), to sign server certificates with
 * `certificateSignedBy`.
 */
export function certificateAuthority(
  dir: string,
  subject = { organization: "mkcert development CA", commonName: "mkcert test@voice-edge" },
  days = 7,
): CertificateFiles {
  const files = { cert: join(dir, "rootCA.pem"), key: join(dir, "rootCA-key.pem") };
  openssl([
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", String(days)],
    ...["-keyout", files.key, "-out", files.cert],
    ...["-subj", `/O=${subject.organization}/CN=${subject.commonName}`],
    ...["-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
  return files;
}

/**
 * A server certificate for `altNames` (default localhost and 127.0.0.1) signed by `ca` (CA:FALSE,
 * as mkcert's `cert.pem`): it verifies against `ca.cert`, not against itself. Files `<name>.pem`,
 * `<name>-key.pem`.
 */
export function certificateSignedBy(
  ca: CertificateFiles,
  dir: string,
  name = "cert",
  days = 7,
  altNames = "DNS:localhost,IP:127.0.0.1",
): CertificateFiles {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  openssl([
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", String(days)],
    ...["-CA", ca.cert, "-CAkey", ca.key],
    ...["-keyout", files.key, "-out", files.cert, "-subj", "/CN=localhost"],
    ...["-addext", `subjectAltName=${altNames}`],
    ...["-addext", "basicConstraints=critical,CA:FALSE"],
    ...["-addext", "extendedKeyUsage=serverAuth"],
  ]);
  return files;
}

import { execFileSync } from "node:child_process";
import { join } from "node:path";

export interface CertificateFiles {
  /** PEM certificate: a client trusts it as its CA to connect. */
  cert: string;
  key: string;
}

/**
 * A self-signed certificate for localhost and 127.0.0.1 (as the real PersonaPlex server's
 * `--ssl` runs with one), made with openssl in `dir` as `<name>.pem` and `<name>-key.pem`.
 * Throws openssl's error (`code: "ENOENT"` when openssl is not installed).
 */
export function selfSignedCertificate(dir: string, name = "cert", days = 7): CertificateFiles {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", String(days)],
      ...["-keyout", files.key, "-out", files.cert, "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return files;
}

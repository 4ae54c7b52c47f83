import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";

export interface JwksServer {
  url: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** PEM of the public key: what an attacker would use as an HMAC secret in key confusion. */
  publicPem: string;
  requests: number;
  close(): Promise<void>;
}

/** A loopback JWKS endpoint with one RS256 key (kid "test-rs256"). */
export async function startJwksServer(): Promise<JwksServer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: "test-rs256", alg: "RS256", use: "sig" };
  const spki = Buffer.from(await crypto.subtle.exportKey("spki", publicKey as unknown as globalThis.CryptoKey)).toString("base64");
  const publicPem = `-----BEGIN PUBLIC KEY-----\n${spki.match(/.{1,64}/g)!.join("\n")}\n-----END PUBLIC KEY-----\n`;
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    state.requests++;
    if (req.url !== "/jwks.json") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/jwks.json`,
    privateKey,
    publicJwk,
    publicPem,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

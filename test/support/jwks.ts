import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { AUDIENCE, ISSUER } from "./edge";

/** How the endpoint answers: the key set, HTTP 500, never, or the key set after `slowMs`. */
export type JwksMode = "serve" | "fail" | "hang" | "slow";

export interface JwksServer {
  url: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** PEM of the public key: what an attacker would use as an HMAC secret in key confusion. */
  publicPem: string;
  requests: number;
  mode: JwksMode;
  /** How long a `slow` answer waits (default 300 ms): long enough for concurrent requests to overlap. */
  slowMs: number;
  /** Replaces the published key with a new one (kid "test-rs256-2"); `sign` then uses it. */
  rotate(): Promise<void>;
  /** An RS256 token from the test issuer for the test audience, signed with the current key. */
  sign(claims?: Record<string, unknown>, kid?: string): Promise<string>;
  close(): Promise<void>;
}

async function rs256Key(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const spki = Buffer.from(
    await crypto.subtle.exportKey("spki", publicKey as unknown as globalThis.CryptoKey),
  ).toString("base64");
  const publicPem = `-----BEGIN PUBLIC KEY-----\n${spki.match(/.{1,64}/g)!.join("\n")}\n-----END PUBLIC KEY-----\n`;
  return { privateKey, publicJwk, publicPem };
}

/** A loopback JWKS endpoint with one RS256 key (kid "test-rs256") that can be made to fail or hang. */
export async function startJwksServer(): Promise<JwksServer> {
  const state = {
    requests: 0,
    mode: "serve" as JwksMode,
    slowMs: 300,
    key: await rs256Key("test-rs256"),
  };
  const hung = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    state.requests++;
    if (state.mode === "hang") return void hung.add(req.socket);
    if (req.url !== "/jwks.json" || state.mode === "fail") {
      res.writeHead(req.url === "/jwks.json" ? 500 : 404).end();
      return;
    }
    const body = JSON.stringify({ keys: [state.key.publicJwk] });
    const answer = () => res.writeHead(200, { "Content-Type": "application/json" }).end(body);
    if (state.mode === "slow") setTimeout(answer, state.slowMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/jwks.json`,
    get privateKey() {
      return state.key.privateKey;
    },
    get publicJwk() {
      return state.key.publicJwk;
    },
    get publicPem() {
      return state.key.publicPem;
    },
    get requests() {
      return state.requests;
    },
    get mode() {
      return state.mode;
    },
    get slowMs() {
      return state.slowMs;
    },
    set slowMs(ms: number) {
      state.slowMs = ms;
    },
    set mode(mode: JwksMode) {
      state.mode = mode;
      if (mode !== "hang") for (const socket of hung) socket.destroy();
    },
    async rotate() {
      state.key = await rs256Key("test-rs256-2");
    },
    sign(claims = {}, kid = state.key.publicJwk.kid) {
      return new SignJWT({
        iss: ISSUER,
        aud: AUDIENCE,
        sub: "bob",
        exp: Math.floor(Date.now() / 1000) + 300,
        ...claims,
      })
        .setProtectedHeader({ alg: "RS256", kid })
        .sign(state.key.privateKey);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The runtime's floor: the least any Worker design can cost in the same runtime — a pass-through
 * Worker with no authentication and no configuration, returning the bridge's socket. The edge is
 * judged against it (the peers mostly measure workerd itself against nginx or HAProxy).
 */
import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { cpuSecondsPrecise } from "../test/support/processes";
import { handshakes, type Percentiles, type Target } from "./measure";
import { BEARER_PROTOCOL_PREFIX } from "../worker/src/headers";
import { WS_PATH } from "../worker/src/routes";
import { startWorkerd } from "./workerdProcess";

/** The authenticated edge every bench measures: one allowed origin, HS256 with this secret (and JWKS keys when given). */
export const BENCH_AUTH = {
  secret: "bench-secret-0123456789abcdefghijklmnop",
  issuer: "https://bench.local",
  audience: "voice-edge",
  origin: "https://app.bench.local",
} as const;

export function benchEdgeBindings(bridgeUrl: string, jwksUrl?: string): Record<string, unknown> {
  return {
    BRIDGE_URL: bridgeUrl,
    EDGE_CONFIG: {
      auth: {
        mode: "jwt",
        algorithms: jwksUrl ? ["HS256", "RS256", "ES256"] : ["HS256"],
        issuer: BENCH_AUTH.issuer,
        audience: BENCH_AUTH.audience,
        ...(jwksUrl ? { jwksUrl } : {}),
      },
      allowedOrigins: [BENCH_AUTH.origin],
      allowMissingOrigin: false,
    },
    JWT_SECRET: BENCH_AUTH.secret,
  };
}

/** An HS256 token the bench edges accept; `subject` names the visitor (the line counts by subject). */
export function hs256BenchToken(subject = "bench"): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(subject)
    .setIssuer(BENCH_AUTH.issuer)
    .setAudience(BENCH_AUTH.audience)
    .setIssuedAt()
    .setExpirationTime("2h")
    .sign(new TextEncoder().encode(BENCH_AUTH.secret));
}

/** Where the stand-in bridge (and the peers in front of it) take WebSocket upgrades. */
export const BENCH_BRIDGE_PATH = "/api/chat";

export function benchBridgeUrl(bridge: { origin: string }): string {
  return `${bridge.origin}${BENCH_BRIDGE_PATH}`;
}

/** Session options the edge and the guard admit (both refuse a missing text_prompt or voice_prompt before any upgrade). */
export const GUARD_OPTIONS = "text_prompt=bench&voice_prompt=NATF2.pt";

/**
 * A browser's upgrade to the edge on `port`: the allowed Origin, the token as a `bearer.` subprotocol.
 * The floor is sent the very same request, so both parse and forward the same bytes.
 */
export function benchEdgeTarget(port: number | string, jwt: string): Target {
  return {
    url: `ws://127.0.0.1:${port}${WS_PATH}?bench=1&${GUARD_OPTIONS}`,
    protocols: ["voice.v1", `${BEARER_PROTOCOL_PREFIX}${jwt}`],
    headers: { Origin: BENCH_AUTH.origin },
  };
}

/** The floor Worker, uploaded as it is: forwards the upgrade to BRIDGE_URL and returns the bridge's response. */
export const FLOOR_WORKER = `export default {
  fetch(request, env) {
    return fetch(env.BRIDGE_URL + new URL(request.url).search, { headers: request.headers });
  },
};
`;

/** Process CPU of `pid` per upgrade over `count` sequential handshakes, in µs. */
export async function cpuPerUpgrade(
  pid: number,
  target: Target,
  count: number,
): Promise<{ micros: number; handshake: Percentiles }> {
  const before = cpuSecondsPrecise(pid);
  const handshake = await handshakes(target, count);
  return { micros: ((cpuSecondsPrecise(pid) - before) * 1e6) / count, handshake };
}

export interface ColdStart {
  /** From spawning workerd to the first 101 answered, ms. */
  toFirst101Ms: number;
  /** workerd's CPU time until then, ms: start-up, bundle compile, first requests. */
  cpuMs: number;
}

/** Starts a fresh workerd with `code`, then opens one WebSocket: the isolate's whole start-up. */
export async function coldStart(
  code: string,
  compatibilityDate: string,
  bindings: Record<string, unknown>,
  target: (port: number) => Target,
): Promise<ColdStart> {
  const started = performance.now();
  const edge = await startWorkerd({ code, compatibilityDate, bindings, pollMs: 2 });
  try {
    await handshakes(target(edge.port), 1);
    return {
      toFirst101Ms: performance.now() - started,
      cpuMs: cpuSecondsPrecise(edge.process.pid!) * 1000,
    };
  } finally {
    await edge.stop();
  }
}

export interface BenchKeySet {
  url: string;
  sign(alg: "RS256" | "ES256", claims: { iss: string; aud: string; sub: string }): Promise<string>;
  close(): Promise<void>;
}

/** A loopback JWKS with an RS256 and an ES256 key, so the bench can time both kinds of cached key. */
export async function startBenchKeySet(): Promise<BenchKeySet> {
  const keys: Record<string, { privateKey: CryptoKey; jwk: JWK }> = {};
  for (const alg of ["RS256", "ES256"] as const) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    keys[alg] = {
      privateKey,
      jwk: { ...(await exportJWK(publicKey)), kid: `bench-${alg.toLowerCase()}`, alg, use: "sig" },
    };
  }
  const body = JSON.stringify({ keys: Object.values(keys).map((k) => k.jwk) });
  const server: Server = createServer((_req, res) =>
    res.writeHead(200, { "Content-Type": "application/json" }).end(body),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    sign: (alg, claims) =>
      new SignJWT({})
        .setProtectedHeader({ alg, kid: keys[alg].jwk.kid })
        .setIssuer(claims.iss)
        .setAudience(claims.aud)
        .setSubject(claims.sub)
        .setIssuedAt()
        .setExpirationTime("2h")
        .sign(keys[alg].privateKey),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

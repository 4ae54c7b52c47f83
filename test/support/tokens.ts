import { SignJWT, type JWTPayload } from "jose";
import { AUDIENCE, ISSUER, TEST_SECRET } from "./edge";
import type { JwksServer } from "./jwks";

export function hs256(
  claims: JWTPayload & { sub?: string } = {},
  options: { secret?: string; alg?: string; ttl?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "alice",
    iat: now,
    exp: now + (options.ttl ?? 300),
    ...claims,
  })
    .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

const base64url = (value: object | string) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A JWT with `alg: none` and an empty signature, the classic downgrade. */
export function unsignedToken(claims: JWTPayload = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ iss: ISSUER, aud: AUDIENCE, sub: "mallory", exp: now + 300, ...claims })}.`;
}

const now = () => Math.floor(Date.now() / 1000);

export type BadTokenCase = [name: string, make: () => Promise<string> | string, code: string];

/** Every kind of bad token, with the 401 code the edge must answer; RS256 cases use the JWKS server `jwks()` returns when they run. */
export function badTokenCases(jwks: () => JwksServer): BadTokenCase[] {
  const hmacKey = new TextEncoder().encode(TEST_SECRET);
  return [
    ["expired", () => hs256({ exp: now() - 120 }), "token_expired"],
    ["not yet valid", () => hs256({ nbf: now() + 120 }), "token_not_yet_valid"],
    ["from the wrong issuer", () => hs256({ iss: "https://evil.example" }), "token_issuer_invalid"],
    ["for the wrong audience", () => hs256({ aud: "another-service" }), "token_audience_invalid"],
    [
      "signed with another secret",
      () => hs256({}, { secret: "not-the-secret-not-the-secret-not-the-secret" }),
      "token_signature_invalid",
    ],
    ["with alg none", () => unsignedToken(), "token_algorithm_not_allowed"],
    [
      "with an algorithm the stack does not allow (HS512)",
      () => hs256({}, { alg: "HS512" }),
      "token_algorithm_not_allowed",
    ],
    [
      "HS256-signed with the RSA public key as the secret (key confusion)",
      () => hs256({}, { secret: jwks().publicPem }),
      "token_signature_invalid",
    ],
    [
      "RS256 with a key id the JWKS does not have",
      () => jwks().sign({}, "unknown-kid"),
      "token_key_unknown",
    ],
    [
      "RS256 with a tampered payload",
      async () => {
        const [header, , signature] = (await jwks().sign()).split(".");
        return `${header}.${base64url({ iss: ISSUER, aud: AUDIENCE, sub: "root", exp: now() + 300 })}.${signature}`;
      },
      "token_signature_invalid",
    ],
    [
      "without exp",
      () =>
        new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "alice" })
          .setProtectedHeader({ alg: "HS256" })
          .sign(hmacKey),
      "token_claims_invalid",
    ],
    [
      "without sub",
      () =>
        new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: now() + 60 })
          .setProtectedHeader({ alg: "HS256" })
          .sign(hmacKey),
      "token_claims_invalid",
    ],
    [
      "whose sub would break a header line",
      () => hs256({ sub: "admin\r\nX-Voice-Subject: root" }),
      "token_claims_invalid",
    ],
    ["that is not a JWT", () => "not-a-jwt", "token_malformed"],
    ["with two segments", () => "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", "token_malformed"],
    [
      "with a header that is not JSON",
      () => `${Buffer.from("{nope").toString("base64url")}.e30.c2ln`,
      "token_malformed",
    ],
  ];
}

export const TRANSPORTS = ["authorization", "subprotocol", "cookie", "query"] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** How a client sends `token` to `url` in each transport (the test edge's cookie and query names), offering voice.v1. */
export function carryToken(
  url: string,
  token: string,
  transport: Transport,
): { url: string; protocols: string[]; headers: Record<string, string> } {
  const protocols = ["voice.v1"];
  switch (transport) {
    case "authorization":
      return { url, protocols, headers: { Authorization: `Bearer ${token}` } };
    case "subprotocol":
      return { url, protocols: [...protocols, `bearer.${token}`], headers: {} };
    case "cookie":
      return { url, protocols, headers: { Cookie: `theme=dark; voice_token=${token}` } };
    case "query":
      return {
        url: `${url}${url.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(token)}`,
        protocols,
        headers: {},
      };
  }
}

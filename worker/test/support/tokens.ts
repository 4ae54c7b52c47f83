import { SignJWT, type JWTPayload } from "jose";
import { AUDIENCE, ISSUER, TEST_SECRET } from "./edge";

export function hs256(claims: JWTPayload & { sub?: string } = {}, options: { secret?: string; alg?: string; ttl?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "alice", iat: now, exp: now + (options.ttl ?? 300), ...claims })
    .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

const base64url = (value: object | string) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A JWT with `alg: none` and an empty signature, the classic downgrade. */
export function unsignedToken(claims: JWTPayload = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ iss: ISSUER, aud: AUDIENCE, sub: "mallory", exp: now + 300, ...claims })}.`;
}

import { SignJWT } from "jose";

export interface DevTokenClaims {
  subject: string;
  lifetimeSeconds: number;
  issuer?: string;
  audience?: string;
}

/**
 * An HS256 JWT as a website's backend mints one for its page: `sub`, `iat` now, `exp`, and the
 * stack's issuer and audience, signed with the UTF-8 bytes of `secret` exactly as given.
 */
export async function signDevToken(claims: DevTokenClaims, secret: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + claims.lifetimeSeconds);
  if (claims.issuer) jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

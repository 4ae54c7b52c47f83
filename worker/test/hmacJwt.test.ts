import { jwtVerify, SignJWT, type JWTPayload } from "jose";
import { describe, expect, it } from "vitest";
import { protectedHeader, verifyHmacJwt } from "../src/auth/hmacJwt";
import { classify } from "../src/auth/verify";
import { EdgeError } from "../src/errors";

/** The HS* path against jose, its reference: the same verdict and the same error for every case. */

const SECRET = "the-secret-for-hmac-tests-0123456789abcdef";
const OTHER = "another-secret-for-hmac-tests-0123456789ab";
const RULES = { issuer: "https://issuer.test", audience: "voice-edge", clockToleranceSeconds: 30 };
const NOW = 1_800_000_000;
const keyFor = (secret: string, hash = "SHA-256") =>
  crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash }, false, [
    "verify",
  ]);
const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

async function sign(
  claims: JWTPayload,
  header: Record<string, unknown> = {},
  secret = SECRET,
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", ...header } as { alg: string })
    .sign(new TextEncoder().encode(secret));
}
const good = (extra: JWTPayload = {}) => ({
  iss: RULES.issuer,
  aud: RULES.audience,
  sub: "alice",
  iat: NOW - 10,
  exp: NOW + 300,
  ...extra,
});

async function resign(token: string, mutate: (parts: string[]) => string[]): Promise<string> {
  const parts = mutate(token.split("."));
  const mac = await crypto.subtle.sign(
    "HMAC",
    await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    ),
    new TextEncoder().encode(`${parts[0]}.${parts[1]}`),
  );
  return `${parts[0]}.${parts[1]}.${Buffer.from(mac).toString("base64url")}`;
}

const cases: [string, () => Promise<string>][] = [
  ["a valid token", () => sign(good())],
  ["a valid token with an audience list", () => sign(good({ aud: ["other", RULES.audience] }))],
  ["expired", () => sign(good({ exp: NOW - 60 }))],
  ["expired within the tolerance", () => sign(good({ exp: NOW - 10 }))],
  ["expiring exactly at now minus the tolerance", () => sign(good({ exp: NOW - 30 }))],
  ["not yet valid", () => sign(good({ nbf: NOW + 120 }))],
  ["not yet valid within the tolerance", () => sign(good({ nbf: NOW + 20 }))],
  ["the wrong issuer", () => sign(good({ iss: "https://evil.test" }))],
  ["no issuer", () => sign(good({ iss: undefined }))],
  ["the wrong audience", () => sign(good({ aud: "another" }))],
  ["an audience list without ours", () => sign(good({ aud: ["a", "b"] }))],
  ["no audience", () => sign(good({ aud: undefined }))],
  ["no exp", () => sign(good({ exp: undefined }))],
  ["no sub", () => sign(good({ sub: undefined }))],
  [
    "exp as a string",
    () => resign("x.x.x", () => [b64({ alg: "HS256" }), b64({ ...good(), exp: "soon" })]),
  ],
  [
    "nbf as a string",
    () => resign("x.x.x", () => [b64({ alg: "HS256" }), b64({ ...good(), nbf: "now" })]),
  ],
  [
    "iat as a string",
    () => resign("x.x.x", () => [b64({ alg: "HS256" }), b64({ ...good(), iat: "then" })]),
  ],
  [
    "expired and from the wrong issuer",
    () => sign(good({ exp: NOW - 600, iss: "https://evil.test" })),
  ],
  ["signed with another secret", () => sign(good(), {}, OTHER)],
  [
    "a tampered payload",
    async () => {
      const [h, , s] = (await sign(good())).split(".");
      return `${h}.${b64({ ...good(), sub: "root" })}.${s}`;
    },
  ],
  [
    "a payload that is not an object",
    () => resign("x.x.x", () => [b64({ alg: "HS256" }), b64("[1,2]")]),
  ],
  [
    "a payload that is not JSON",
    () => resign("x.x.x", () => [b64({ alg: "HS256" }), b64("not json")]),
  ],
  [
    "a critical header extension",
    () => resign("x.x.x", () => [b64({ alg: "HS256", crit: ["x-ext"], "x-ext": 1 }), b64(good())]),
  ],
  [
    "the b64 header without crit (ignored)",
    () => resign("x.x.x", () => [b64({ alg: "HS256", b64: false }), b64(good())]),
  ],
  [
    "a signature that is not base64url",
    async () => `${(await sign(good())).split(".").slice(0, 2).join(".")}.***`,
  ],
  ["four segments", async () => `${await sign(good())}.x`],
];

async function hmacVerdict(token: string): Promise<string> {
  try {
    await verifyHmacJwt(token, protectedHeader(token), [await keyFor(SECRET)], RULES, NOW);
    return "ok";
  } catch (error) {
    expect(error).toBeInstanceOf(EdgeError);
    return (error as EdgeError).code;
  }
}

async function joseVerdict(token: string): Promise<string> {
  try {
    await jwtVerify(token, await keyFor(SECRET), {
      algorithms: ["HS256"],
      issuer: RULES.issuer,
      audience: RULES.audience,
      clockTolerance: 30,
      requiredClaims: ["exp", "sub"],
      currentDate: new Date(NOW * 1000),
    });
    return "ok";
  } catch (error) {
    return classify(error).code;
  }
}

describe("the HS* path gives jose's verdict", () => {
  it.each(cases)("for %s", async (_name, make) => {
    const token = await make();
    expect(await hmacVerdict(token)).toBe(await joseVerdict(token));
  });

  it("accepts a token signed with the second key it is given (the rotation window), and only then", async () => {
    const token = await sign(good(), {}, OTHER);
    await expect(
      verifyHmacJwt(
        token,
        protectedHeader(token),
        [await keyFor(SECRET), await keyFor(OTHER)],
        RULES,
        NOW,
      ),
    ).resolves.toMatchObject({ sub: "alice" });
    await expect(
      verifyHmacJwt(token, protectedHeader(token), [await keyFor(SECRET)], RULES, NOW),
    ).rejects.toMatchObject({ code: "token_signature_invalid" });
  });

  it("refuses a header that is not JSON as malformed", () => {
    expect(() => protectedHeader("bm90IGpzb24.e30.x")).toThrow(EdgeError);
  });
});

import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { KeySetUnavailable, lastGoodRemoteKeySet } from "../src/auth/keySet";
import { startJwksServer, type JwksMode, type JwksServer } from "../../test/support/jwks";

const HOUR = 60 * 60 * 1000;
const COOLDOWN = 30_000;
const TIMEOUT = 400;

let jwks: JwksServer;
let kept: number[];
let keptErrors: unknown[];

beforeAll(async () => {
  jwks = await startJwksServer();
});

afterAll(() => jwks?.close());

beforeEach(() => {
  jwks.mode = "serve";
  kept = [];
  keptErrors = [];
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.parse("2026-01-01T00:00:00Z"));
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

function keySet(): JWTVerifyGetKey {
  const onStaleKeysKept = (ageMs: number, error: unknown) => {
    kept.push(ageMs);
    keptErrors.push(error);
  };
  return lastGoodRemoteKeySet(jwks.url, {
    timeoutMs: TIMEOUT,
    maxAgeMs: HOUR,
    cooldownMs: COOLDOWN,
    onStaleKeysKept,
  });
}

/** Valid for a day, so advancing the clock past the cache age does not expire it. */
const token = (kid?: string) => jwks.sign({ exp: Math.floor(Date.now() / 1000) + 24 * 3600 }, kid);
const verify = async (getKey: JWTVerifyGetKey, jwt: string) =>
  (await jwtVerify(jwt, getKey, { algorithms: ["RS256"] })).payload.sub;

/** A key set that verified a token once, then its cache age passed with the JWKS in `mode`. */
async function heldKeysPastTheirAge(mode: JwksMode) {
  const keys = keySet();
  const jwt = await token();
  await verify(keys, jwt);
  jwks.mode = mode;
  advance(HOUR + 1);
  return { keys, jwt, before: jwks.requests };
}

describe("the remote key set keeps serving its last good keys", () => {
  it("fetches the key set once and reuses it within its age", async () => {
    const keys = keySet();
    const before = jwks.requests;
    for (let i = 0; i < 3; i++) expect(await verify(keys, await token())).toBe("bob");
    expect(jwks.requests - before).toBe(1);
  });

  it("keeps verifying with the held keys when the refresh after the cache age gets HTTP 500, retrying once per cooldown", async () => {
    const { keys, jwt, before } = await heldKeysPastTheirAge("fail");
    expect(await verify(keys, jwt)).toBe("bob");
    expect(jwks.requests - before).toBe(1);
    expect(kept).toEqual([HOUR + 1]);
    advance(COOLDOWN - 1);
    expect(await verify(keys, jwt)).toBe("bob");
    expect(jwks.requests - before).toBe(1);
    advance(1);
    expect(await verify(keys, jwt)).toBe("bob");
    expect(jwks.requests - before).toBe(2);
  });

  it("keeps verifying when the refresh hangs: only the refreshing request waits, and no longer than the fetch bound", async () => {
    const timeouts = vi.spyOn(AbortSignal, "timeout");
    const { keys, jwt, before } = await heldKeysPastTheirAge("hang");
    expect(await verify(keys, jwt)).toBe("bob");
    // The refresh ended when its own bound fired: AbortSignal.timeout(TIMEOUT) raised the TimeoutError.
    expect(timeouts.mock.calls.at(-1)).toEqual([TIMEOUT]);
    expect(keptErrors).toEqual([expect.objectContaining({ name: "TimeoutError" })]);
    expect(jwks.requests - before).toBe(1);
    // The next request does not wait for the JWKS at all: it asks it nothing.
    expect(await verify(keys, jwt)).toBe("bob");
    expect(jwks.requests - before).toBe(1);
    expect(keptErrors).toHaveLength(1);
    expect(timeouts).toHaveBeenCalledTimes(2);
  });

  it("takes a rotated key set at the first successful refresh and drops the retired key", async () => {
    const keys = keySet();
    const retired = await token();
    await verify(keys, retired);
    await jwks.rotate();
    advance(HOUR + 1);
    expect(await verify(keys, await token())).toBe("bob");
    await expect(verify(keys, retired)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
  });

  it("looks for an unknown key id at most once per cooldown", async () => {
    const keys = keySet();
    await verify(keys, await token());
    const before = jwks.requests;
    const stranger = await token("someone-else");
    await expect(verify(keys, stranger)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(jwks.requests - before).toBe(0);
    advance(COOLDOWN);
    await expect(verify(keys, stranger)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(jwks.requests - before).toBe(1);
    await expect(verify(keys, stranger)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(jwks.requests - before).toBe(1);
  });

  it("says the keys are unavailable when looking for an unknown key id fails, not that the token is bad", async () => {
    const keys = keySet();
    await verify(keys, await token());
    jwks.mode = "fail";
    advance(COOLDOWN);
    await expect(verify(keys, await token("someone-else"))).rejects.toBeInstanceOf(
      KeySetUnavailable,
    );
  });

  it("fails when no key set was ever fetched and the JWKS answers HTTP 500", async () => {
    jwks.mode = "fail";
    await expect(verify(keySet(), await token())).rejects.toBeInstanceOf(KeySetUnavailable);
  });

  it("with no key held, does not ask a failed JWKS again within the cooldown: requests in between fail at once", async () => {
    jwks.mode = "fail";
    const keys = keySet();
    const jwt = await token();
    const before = jwks.requests;
    for (let i = 0; i < 5; i++)
      await expect(verify(keys, jwt)).rejects.toBeInstanceOf(KeySetUnavailable);
    expect(jwks.requests - before).toBe(1);
    jwks.mode = "serve";
    advance(COOLDOWN - 1);
    await expect(verify(keys, jwt)).rejects.toBeInstanceOf(KeySetUnavailable);
    advance(1);
    expect(await verify(keys, jwt)).toBe("bob");
    expect(jwks.requests - before).toBe(2);
  });

  it("counts the cooldown from when a failed fetch ended, not from when it started", async () => {
    jwks.mode = "hang";
    const keys = keySet();
    const jwt = await token();
    const before = jwks.requests;
    const failing = verify(keys, jwt);
    // The fetch takes its whole bound; let the clock say it took 20 s of the 30 s cooldown.
    advance(20_000);
    await expect(failing).rejects.toMatchObject({ name: "TimeoutError" });
    jwks.mode = "serve";
    advance(COOLDOWN - 20_000 + 1);
    await expect(verify(keys, jwt)).rejects.toBeInstanceOf(KeySetUnavailable);
    expect(jwks.requests - before).toBe(1);
    advance(20_000);
    expect(await verify(keys, jwt)).toBe("bob");
  });

  it("with no key held, shares one fetch among concurrent requests", async () => {
    jwks.mode = "slow";
    jwks.slowMs = 100;
    const keys = keySet();
    const before = jwks.requests;
    const subjects = await Promise.all(
      Array.from({ length: 10 }, async () => verify(keys, await token())),
    );
    expect(subjects).toEqual(Array(10).fill("bob"));
    expect(jwks.requests - before).toBe(1);
  });

  it("fails within the fetch bound when no key set was ever fetched and the JWKS hangs", async () => {
    jwks.mode = "hang";
    const timeouts = vi.spyOn(AbortSignal, "timeout");
    const before = jwks.requests;
    await expect(verify(keySet(), await token())).rejects.toMatchObject({ name: "TimeoutError" });
    expect(timeouts.mock.calls).toEqual([[TIMEOUT]]);
    expect(jwks.requests - before).toBe(1);
  });
});

describe("why: jose's createRemoteJWKSet alone", () => {
  it("refuses every token once its cache age has passed while the JWKS is down", async () => {
    const keys = createRemoteJWKSet(new URL(jwks.url), {
      cacheMaxAge: HOUR,
      cooldownDuration: COOLDOWN,
      timeoutDuration: TIMEOUT,
    });
    const jwt = await token();
    await verify(keys, jwt);
    jwks.mode = "fail";
    advance(HOUR + 1);
    await expect(verify(keys, jwt)).rejects.toThrow(/Expected 200 OK/);
  });
});

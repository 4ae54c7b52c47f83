import { APIError } from "cloudflare";
import { describe, expect, it } from "vitest";
import { loadStackSettings } from "../config/stackFiles";
import { idSubjectOf } from "./ids";
import { apiFailure, isForbidden, isNotRouted, isZeroTrustNotEnabled } from "./result";

const apiError = (status: number, code: number, message: string) =>
  APIError.generate(
    status,
    { success: false, errors: [{ code, message }], messages: [], result: null },
    undefined,
    new Headers(),
  );

describe("Access's answer on an account without Zero Trust", () => {
  it.each([
    // as the real API answers (cloudflare/workers-sdk#3573): code 9999, the key, then a sentence
    [403, 9999, "access.api.error.not_enabled: Access is not enabled.", true],
    // the prefix with whatever sentence follows it
    [403, 9999, "access.api.error.not_enabled: Access is not enabled. Enable it first.", true],
    // the bare key, as older answers and other stand-ins give it, under other codes too
    [403, 9999, "access.api.error.not_enabled", true],
    [400, 12130, "access.api.error.not_enabled", true],
    // code 9999 naming the same condition in other words
    [403, 9999, "Access is not enabled for this account", true],
    // a 403 that is about the token
    [403, 9109, "Unauthorized to access requested resource", false],
    [403, 10000, "Authentication error", false],
    // code 9999 about something else
    [400, 9999, "access.api.error.invalid_request", false],
  ])("%i %i %j: not enabled %s", (status, code, message, notEnabled) => {
    const error = apiError(status, code, message);
    expect(isZeroTrustNotEnabled(error)).toBe(notEnabled);
    expect(isForbidden(error)).toBe(status === 403 && !notEnabled);
  });
});

describe("an ID Cloudflare cannot route (7003)", () => {
  const prod = loadStackSettings("prod");
  const error = apiError(
    400,
    7003,
    "Could not route to /client/v4/zones/023e105f4ecef8ad9ca31a8372d0c353/dns_records, perhaps your object identifier is invalid?",
  );

  it("is recognised by its code", () => {
    expect(isNotRouted(error)).toBe(true);
    expect(isNotRouted(apiError(404, 10003, "could not find entrypoint ruleset"))).toBe(false);
  });

  it("names the stack file's key for that ID, not a retry", () => {
    const result = apiFailure(
      "dns",
      error,
      "the zone's DNS records",
      undefined,
      idSubjectOf("zone", prod, "prod"),
    );
    expect(result).toEqual({
      check: "dns",
      status: "problem",
      message: expect.stringContaining(
        `no zone ${prod.zone.id} exists that this token can see`,
      ) as string,
      action:
        "check voice-edge:zone → id in Pulumi.prod.yaml (dashboard → mycosoft.com → Overview, the API section: Zone ID), or give the token access to that zone",
    });
  });
});

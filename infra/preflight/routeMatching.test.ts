import { describe, expect, it } from "vitest";
import { parseRoutePattern, routeOverlap } from "./routeMatching";

describe("routeOverlap: whether two Workers route patterns share a URL, and which one serves it", () => {
  it.each([
    // the review's case: another script's route reaches into this stack's
    ["*mycosoft.com/voice*", "mycosoft.com/voice/*", "https://mycosoft.com/voice/", "b"],
    ["mycosoft.com/voice/*", "mycosoft.com/voice/*", "https://mycosoft.com/voice/", undefined],
    ["mycosoft.com/*", "mycosoft.com/voice/*", "https://mycosoft.com/voice/", "b"],
    ["*/*", "mycosoft.com/voice/*", "https://mycosoft.com/voice/", "b"],
    // Cloudflare's own examples (Matching behavior)
    ["www.example.com/*", "*.example.com/*", "https://www.example.com/", "a"],
    ["example.com/hello/*", "example.com/*", "https://example.com/hello/", "a"],
    // Cloudflare's known issues: the hostname decides first; X* wins over X/*
    ["*.example.com/a", "a.example.com/*", "https://a.example.com/a", "b"],
    ["example.com/images/*", "example.com/images*", "https://example.com/images/", "b"],
    // a longer wildcard suffix is the more specific host
    ["*example.com/voice/*", "*.example.com/voice/*", "https://www.example.com/voice/", "b"],
    // an exact path over a wildcard one; no path is "/"
    ["example.com", "example.com/*", "https://example.com/", "a"],
    // the scheme narrows what matches, but does not make a pattern more specific
    ["https://example.com/voice/*", "example.com/voice/*", "https://example.com/voice/", undefined],
    ["http://example.com/voice/*", "example.com/voice/*", "http://example.com/voice/", undefined],
    // hostnames are case-insensitive
    ["EXAMPLE.com/voice/*", "example.com/voice/*", "https://example.com/voice/", undefined],
  ])("%s and %s share %s; the one that serves it: %s", (a, b, url, winner) => {
    expect(routeOverlap(a, b)).toEqual({
      overlaps: true,
      url,
      ...(winner ? { winner } : {}),
    });
  });

  it.each([
    ["*.example.com/*", "example.com/*"],
    ["http://example.com/*", "https://example.com/*"],
    ["example.com/Voice/*", "example.com/voice/*"],
    ["example.com/voice", "example.com/voice/*"],
    ["staging.example.com/voice/*", "example.com/voice/*"],
    ["example.com/voicemail", "example.com/voice/*"],
    ["*.staging.example.com/*", "www.example.com/*"],
  ])("%s and %s share no URL", (a, b) => {
    expect(routeOverlap(a, b)).toEqual({ overlaps: false });
    expect(routeOverlap(b, a)).toEqual({ overlaps: false });
  });

  it("gives the same answer whichever pattern comes first", () => {
    expect(routeOverlap("mycosoft.com/voice/*", "*mycosoft.com/voice*")).toEqual({
      overlaps: true,
      url: "https://mycosoft.com/voice/",
      winner: "a",
    });
  });

  it("reads a pattern's scheme, hostname and path", () => {
    expect(parseRoutePattern("https://*.Example.com/images/*")).toEqual({
      scheme: "https",
      host: ".example.com",
      hostWildcard: true,
      path: "/images/",
      pathWildcard: true,
    });
    expect(parseRoutePattern("example.com")).toEqual({
      host: "example.com",
      hostWildcard: false,
      path: "/",
      pathWildcard: false,
    });
  });
});

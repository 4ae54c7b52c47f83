import { describe, expect, it } from "vitest";
import { loadStackSettings } from "../../infra/config/stackFiles";
import { BRIDGE_NAME, MAX_BRIDGES, parseBindings } from "../../worker/src/bindings";
import { UsageError } from "./cli";
import { localEdgeBindings } from "./localBindings";
import { bridgeSource, fleetNames, namedBridges } from "./localFleet";

const GUARD = "http://127.0.0.1:8999/api/chat";
const OTHER = "http://127.0.0.1:9000/api/chat";
const DEV_SECRET = "dev-secret-0123456789-abcdefghijklmnop";

function mistake(flags: Parameters<typeof bridgeSource>[0], env?: string): string {
  try {
    bridgeSource(flags, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error("no usage error");
}

describe("where npm run dev finds its bridges", () => {
  it.each([
    [{ bridgeUrls: [] }, undefined, { kind: "standin" }],
    [{ bridgeUrls: [] }, "", { kind: "standin" }],
    [{ bridgeUrls: [] }, GUARD, { kind: "env", url: GUARD }],
    [{ bridges: "3", bridgeUrls: [] }, "", { kind: "fleet", count: 3 }],
    [{ bridges: String(MAX_BRIDGES), bridgeUrls: [] }, undefined, { kind: "fleet", count: 20 }],
    [{ bridgeUrls: [GUARD] }, undefined, { kind: "given", urls: [GUARD] }],
    [{ bridgeUrls: [GUARD, OTHER] }, "", { kind: "given", urls: [GUARD, OTHER] }],
  ] as const)("reads %j with BRIDGE_URL=%j", (flags, env, source) => {
    expect(bridgeSource({ ...flags, bridgeUrls: [...flags.bridgeUrls] }, env)).toEqual(source);
  });

  it.each(["0", "21", "-1", "2.5", "two", ""])("refuses --bridges %j by its value", (count) => {
    expect(mistake({ bridges: count, bridgeUrls: [] })).toBe(
      `--bridges "${count}" must be a whole number from 1 to 20`,
    );
  });

  it("refuses --bridges together with --bridge-url", () => {
    expect(mistake({ bridges: "2", bridgeUrls: [GUARD] })).toMatch(
      /^--bridges and --bridge-url exclude each other/,
    );
  });

  it.each([
    [{ bridges: "2", bridgeUrls: [] }, "--bridges"],
    [{ bridgeUrls: [GUARD] }, "--bridge-url"],
  ])("refuses %j while BRIDGE_URL is set", (flags, flag) => {
    expect(mistake(flags, OTHER)).toBe(
      `BRIDGE_URL is set and ${flag} given: use one of the two (unset BRIDGE_URL, or pass its URL as --bridge-url)`,
    );
  });

  it.each([
    ["ws://127.0.0.1:8999/api/chat", /scheme ws: is not fetchable from a Worker/],
    ["localhost:8999", /scheme localhost: is not fetchable/],
    ["127.0.0.1:8999", /must be an absolute URL/],
    ["not a url", /must be an absolute URL/],
    ["http://127.0.0.1:8999/api/chat?voice_prompt=x", /must not carry a query string/],
    ["https://10.0.0.5/api/chat", /is an IP address/],
  ])("refuses --bridge-url %j with the Worker's own reason", (url, reason) => {
    const message = mistake({ bridgeUrls: [GUARD, url] });
    expect(message.startsWith(`--bridge-url "${url}": `)).toBe(true);
    expect(message).toMatch(reason);
  });

  it("refuses the same bridge twice and more than 20", () => {
    expect(mistake({ bridgeUrls: [GUARD, "HTTP://127.0.0.1:8999/api/chat"] })).toBe(
      '--bridge-url "HTTP://127.0.0.1:8999/api/chat" is given twice: give each bridge once',
    );
    const many = Array.from({ length: 21 }, (_, i) => `http://127.0.0.1:${9000 + i}/api/chat`);
    expect(mistake({ bridgeUrls: many })).toBe(
      "--bridge-url is given 21 times: the edge takes at most 20 bridges",
    );
  });
});

describe("the local fleet's names and bindings", () => {
  it("names bridges bridge-1 … bridge-20, valid bridge names", () => {
    const names = fleetNames(MAX_BRIDGES);
    expect(names[0]).toBe("bridge-1");
    expect(names.at(-1)).toBe("bridge-20");
    expect(names.every((name) => BRIDGE_NAME.test(name))).toBe(true);
  });

  it("binds given bridges as BRIDGES in the order given, which the Worker's schema accepts", () => {
    const local = localEdgeBindings(loadStackSettings("staging"), {
      bridges: { fleet: namedBridges([OTHER, GUARD]) },
      port: 8787,
      devSecret: DEV_SECRET,
    });
    expect(local.bindings.BRIDGES).toEqual([
      { name: "bridge-1", url: OTHER },
      { name: "bridge-2", url: GUARD },
    ]);
    expect(local.bindings).not.toHaveProperty("BRIDGE_URL");
    const parsed = parseBindings(local.bindings);
    expect(parsed.ok && parsed.bindings.bridges).toEqual([
      { name: "bridge-1", url: OTHER, healthUrl: "http://127.0.0.1:9000/health" },
      { name: "bridge-2", url: GUARD, healthUrl: "http://127.0.0.1:8999/health" },
    ]);
  });

  it("binds one bridge as BRIDGE_URL, as before", () => {
    const local = localEdgeBindings(loadStackSettings("staging"), {
      bridges: { url: GUARD },
      port: 8787,
      devSecret: DEV_SECRET,
    });
    expect(local.bindings.BRIDGE_URL).toBe(GUARD);
    expect(local.bindings).not.toHaveProperty("BRIDGES");
    expect(parseBindings(local.bindings).ok).toBe(true);
  });

  it("drops the stack's one bridgeHealthUrl for a fleet, and says so", () => {
    const config = loadStackSettings("staging");
    const withHealth = {
      ...config,
      edge: { ...config.edge, bridgeHealthUrl: "https://voice-origin.example.com/health" },
    };
    const local = localEdgeBindings(withHealth, {
      bridges: { fleet: namedBridges([GUARD, OTHER]) },
      port: 8787,
      devSecret: DEV_SECRET,
    });
    expect(local.bindings.EDGE_CONFIG).not.toHaveProperty("bridgeHealthUrl");
    expect(local.overrides).toContain(
      "bridgeHealthUrl https://voice-origin.example.com/health → none (each local bridge's health is /health on its origin)",
    );
    expect(parseBindings(local.bindings).ok).toBe(true);
  });
});

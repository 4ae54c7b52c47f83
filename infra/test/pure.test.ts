import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { child, childName } from "../childNames";
import { defaultAlertTypes, PLAN_LIMITS, ZONE_PLANS } from "../config/planLimits";
import { fieldsUsed, rateLimitExpression } from "../rateLimitExpression";
import { CATCH_ALL_SERVICE, tunnelCnameTarget, tunnelIngress } from "../tunnelIngress";
import { workerBindings } from "../workerBindings";
import { EDGE_BINDING_KINDS } from "./expectedBindings";
import { routePattern } from "../worker";

describe("rateLimitExpression", () => {
  it.each([
    [{ paths: ["/voice/health"], hosts: [] }, '(http.request.uri.path eq "/voice/health")'],
    [
      { paths: ["/voice/health"], hosts: ["mycosoft.com"] },
      '(http.request.uri.path eq "/voice/health" and http.host in {"mycosoft.com"})',
    ],
    [{ paths: ['/a"b\\c'], hosts: [] }, '(http.request.uri.path eq "/a\\"b\\\\c")'],
    // The voice socket's path brings the line socket's and the web client's with it, once each.
    [
      { paths: ["/voice/ws"], hosts: [] },
      '(http.request.uri.path eq "/voice/ws" or http.request.uri.path eq "/voice/line" or http.request.uri.path eq "/voice/api/chat")',
    ],
    [
      { paths: ["/voice/line", "/voice/ws"], hosts: [] },
      '(http.request.uri.path eq "/voice/line" or http.request.uri.path eq "/voice/ws" or http.request.uri.path eq "/voice/api/chat")',
    ],
    [
      { paths: ["/voice/api/chat", "/voice/ws"], hosts: [] },
      '(http.request.uri.path eq "/voice/api/chat" or http.request.uri.path eq "/voice/ws" or http.request.uri.path eq "/voice/line")',
    ],
    [
      { paths: ["/voice/ws", "/voice/health"], hosts: ["mycosoft.com"] },
      '((http.request.uri.path eq "/voice/ws" or http.request.uri.path eq "/voice/line" or http.request.uri.path eq "/voice/api/chat" or http.request.uri.path eq "/voice/health") and http.host in {"mycosoft.com"})',
    ],
  ])("writes %j as %s", (match, expression) => {
    expect(rateLimitExpression(match)).toBe(expression);
  });

  it("never uses a regex operator, which only Business and Enterprise have", () => {
    expect(
      rateLimitExpression({ paths: ["/voice/ws"], hosts: ["a.example", "b.example"] }),
    ).not.toMatch(/matches|~/);
  });

  it("reports the Host field only when hosts are listed", () => {
    expect(fieldsUsed({ paths: ["/x"], hosts: [] })).toEqual(["path"]);
    expect(fieldsUsed({ paths: ["/x"], hosts: ["h.example"] })).toEqual(["path", "host"]);
  });
});

describe("plan limits", () => {
  it("grow monotonically from Free to Enterprise", () => {
    for (let i = 1; i < ZONE_PLANS.length; i++) {
      const [lower, higher] = [PLAN_LIMITS[ZONE_PLANS[i - 1]], PLAN_LIMITS[ZONE_PLANS[i]]];
      expect(higher.rateLimitRules).toBeGreaterThanOrEqual(lower.rateLimitRules);
      for (const period of lower.periods) expect(higher.periods).toContain(period);
      for (const timeout of lower.mitigationTimeouts)
        expect(higher.mitigationTimeouts).toContain(timeout);
      for (const alert of lower.alertTypes) expect(higher.alertTypes).toContain(alert);
    }
  });

  it("give the Free plan one 10 s rule on the path, and the Worker's probe for want of a Cloudflare 5XX alert", () => {
    expect(PLAN_LIMITS.free).toMatchObject({
      rateLimitRules: 1,
      periods: [10],
      mitigationTimeouts: [10],
      fields: ["path"],
      regex: false,
    });
    expect(defaultAlertTypes("free")).toEqual([
      "tunnel_health_event",
      "expiring_service_token_alert",
      "bridge_probe",
    ]);
    expect(defaultAlertTypes("pro")).toEqual([
      "tunnel_health_event",
      "expiring_service_token_alert",
      "health_check_status_notification",
    ]);
    expect(defaultAlertTypes("enterprise")).toContain("http_alert_origin_error");
  });

  it("default to alert types the plan offers", () => {
    for (const plan of ZONE_PLANS)
      for (const type of defaultAlertTypes(plan))
        expect(PLAN_LIMITS[plan].alertTypes).toContain(type);
  });
});

describe("tunnel ingress", () => {
  it("sends the origin hostname to the bridge and ends with a catch-all 404", () => {
    expect(tunnelIngress("voice-origin.mycosoft.com", "http://192.168.0.188:8999/")).toEqual([
      { hostname: "voice-origin.mycosoft.com", service: "http://192.168.0.188:8999" },
      { service: CATCH_ALL_SERVICE },
    ]);
    expect(CATCH_ALL_SERVICE).toBe("http_status:404");
    expect(tunnelCnameTarget("abc")).toBe("abc.cfargotunnel.com");
  });

  it("gives the bridge's rule the origin TLS settings that are set, under the provider's names", () => {
    const [bridge, catchAll] = tunnelIngress("o.example.com", "https://localhost:8998", {
      caPool: "/etc/ca.pem",
      originServerName: undefined,
    });
    expect(bridge).toEqual({
      hostname: "o.example.com",
      service: "https://localhost:8998",
      originRequest: { caPool: "/etc/ca.pem" },
    });
    expect(catchAll).toEqual({ service: CATCH_ALL_SERVICE });
    expect(tunnelIngress("o.example.com", "https://localhost:8998", {})[0]).not.toHaveProperty(
      "originRequest",
    );
  });
});

describe("workerBindings", () => {
  const edge = {
    auth: { mode: "off" as const },
    allowedOrigins: [],
    allowMissingOrigin: true,
    forwardHeaders: [],
    forwardCookies: [],
    bridgeConnectTimeoutMs: 10_000,
    admissionTimeoutMs: 20_000,
    healthTimeoutMs: 2_000,
    jwksTimeoutMs: 2_000,
  };

  it("types settings as json, secrets as secret_text and the rest as plain text, keeping secret outputs secret", async () => {
    const bindings = workerBindings({
      BRIDGE_URL: "https://voice-origin.example.com/api/chat",
      BRIDGES: undefined,
      EDGE_CONFIG: edge,
      JWT_SECRET: pulumi.secret("s".repeat(32)),
      JWT_SECRET_PREVIOUS: undefined,
      BRIDGE_ACCESS_CLIENT_ID: pulumi.secret("id"),
      BRIDGE_ACCESS_CLIENT_SECRET: pulumi.secret("secret"),
    });
    expect(bindings.map((b) => [b.name, b.type])).toEqual(EDGE_BINDING_KINDS);
    expect(JSON.parse(bindings[1].json as string)).toEqual(edge);
    for (const binding of bindings.filter((b) => b.type === "secret_text")) {
      expect(await (binding.text as unknown as { isSecret: Promise<boolean> }).isSecret).toBe(true);
    }
  });

  it("leaves out a binding with no value", () => {
    const bindings = workerBindings({
      BRIDGE_URL: "https://o.example.com/api/chat",
      BRIDGES: undefined,
      EDGE_CONFIG: edge,
      JWT_SECRET: undefined,
      JWT_SECRET_PREVIOUS: undefined,
      BRIDGE_ACCESS_CLIENT_ID: "i",
      BRIDGE_ACCESS_CLIENT_SECRET: "s",
    });
    expect(bindings.map((b) => b.name)).not.toContain("JWT_SECRET");
  });

  it("routes every path under /voice/ on the public hostname", () => {
    expect(routePattern("mycosoft.com")).toBe("mycosoft.com/voice/*");
  });
});

describe("child names", () => {
  it.each([
    ["voice-edge", "worker", "voice-edge-worker"],
    ["support-voice", "zone-ssl", "support-voice-zone-ssl"],
  ])("names %s's %s child %s", (component, suffix, name) => {
    expect(childName(component, suffix)).toBe(name);
  });

  it("keeps the component's options, adds the caller's, and aliases the former fixed name", () => {
    const parent = {} as pulumi.Resource;
    expect(
      child({ name: "voice-edge", opts: { parent } }, "tunnel-config", "bridge-tunnel-config", {
        dependsOn: [parent],
      }),
    ).toEqual({
      name: "voice-edge-tunnel-config",
      opts: { parent, dependsOn: [parent], aliases: [{ name: "bridge-tunnel-config" }] },
    });
  });
});

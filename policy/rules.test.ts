import { describe, expect, it } from "vitest";
import {
  bindingViolations,
  compatibilityDateViolations,
  dnsRecordViolations,
  notificationViolations,
  parseRateLimitExpression,
  parseRoutePattern,
  routeViolations,
  zoneSettingViolations,
} from "./rules";
import { rateLimitExpression } from "../infra/rateLimitExpression";

describe("zone settings", () => {
  it.each([
    [{ settingId: "websockets", value: "on" }],
    [{ settingId: "ssl", value: "strict" }],
    [{ settingId: "always_use_https", value: "on" }],
    [{ settingId: "min_tls_version", value: "1.0" }],
  ])("accepts %j", (props) => expect(zoneSettingViolations(props)).toEqual([]));

  it.each([
    [
      { settingId: "websockets", value: "off" },
      'zone setting websockets must be "on" for the voice service, not "off"',
    ],
    [
      { settingId: "ssl", value: "full" },
      'zone setting ssl must be "strict" for the voice service, not "full"',
    ],
    [
      { settingId: "ssl", value: "flexible" },
      'zone setting ssl must be "strict" for the voice service, not "flexible"',
    ],
    [
      { settingId: "always_use_https", value: "off" },
      'zone setting always_use_https must be "on" for the voice service, not "off"',
    ],
  ])("refuses %j", (props, message) => expect(zoneSettingViolations(props)).toEqual([message]));
});

describe("DNS records", () => {
  it("accepts proxied A, AAAA and CNAME records and leaves TXT alone", () => {
    expect(dnsRecordViolations({ name: "a", type: "CNAME", proxied: true })).toEqual([]);
    expect(dnsRecordViolations({ name: "a", type: "AAAA", proxied: true })).toEqual([]);
    expect(dnsRecordViolations({ name: "a", type: "TXT" })).toEqual([]);
  });

  it.each([false, undefined])("refuses a CNAME whose proxied is %s", (proxied) => {
    expect(
      dnsRecordViolations({ name: "voice-origin.mycosoft.com", type: "CNAME", proxied }),
    ).toEqual([
      "DNS record voice-origin.mycosoft.com (CNAME) must be proxied: unproxied, it exposes its target and skips the Worker, WAF and Access",
    ]);
  });
});

describe("Worker bindings", () => {
  it("accepts secret-looking names bound as secret_text, and plain settings as anything", () => {
    expect(
      bindingViolations([
        { name: "JWT_SECRET", type: "secret_text" },
        { name: "BRIDGE_ACCESS_CLIENT_ID", type: "secret_text" },
        { name: "BRIDGE_URL", type: "plain_text" },
        { name: "EDGE_CONFIG", type: "json" },
      ]),
    ).toEqual([]);
  });

  it.each([
    "JWT_SECRET",
    "API_TOKEN",
    "DB_PASSWORD",
    "PRIVATE_JWK",
    "STRIPE_API_KEY",
    "BRIDGE_ACCESS_CLIENT_ID",
  ])("refuses %s as plain_text", (name) => {
    expect(bindingViolations([{ name, type: "plain_text" }])).toEqual([
      `binding ${name} looks secret but is plain_text: use secret_text so the value is encrypted and never shown`,
    ]);
  });
});

describe("notification policies", () => {
  it("accepts a policy with an email or a webhook", () => {
    expect(
      notificationViolations({ name: "p", mechanisms: { emails: [{ id: "ops@example.com" }] } }),
    ).toEqual([]);
    expect(notificationViolations({ name: "p", mechanisms: { webhooks: [{ id: "w" }] } })).toEqual(
      [],
    );
  });

  it.each([{}, { emails: [] }, { emails: [], webhooks: [] }])(
    "refuses mechanisms %j",
    (mechanisms) => {
      expect(notificationViolations({ name: "tunnel", mechanisms })).toEqual([
        "notification policy tunnel has no mechanism: nobody would be told",
      ]);
    },
  );
});

describe("compatibility date (advisory)", () => {
  const now = new Date("2026-11-25T12:00:00Z");
  it("is quiet for a date less than a year old", () => {
    expect(compatibilityDateViolations("2026-04-01", now)).toEqual([]);
    expect(compatibilityDateViolations("2025-11-25", now)).toEqual([]);
  });
  it("speaks up for a date more than a year old", () => {
    expect(compatibilityDateViolations("2025-11-24", now)).toEqual([
      "the Worker's compatibility date 2025-11-24 is 366 days old (more than 365): review the runtime changes since and move it forward",
    ]);
  });
});

describe("routes covered by rate limits", () => {
  const pathOnly = { expression: rateLimitExpression({ paths: ["/voice/ws"], hosts: [] }) };
  const prodOnly = {
    expression: rateLimitExpression({ paths: ["/voice/ws"], hosts: ["mycosoft.com"] }),
  };

  it("reads back the expressions the program writes (a rule counting /voice/ws counts /voice/line and /voice/api/chat too)", () => {
    expect(parseRateLimitExpression(pathOnly.expression)).toEqual({
      paths: ["/voice/ws", "/voice/line", "/voice/api/chat"],
      hosts: null,
    });
    expect(parseRateLimitExpression(prodOnly.expression)).toEqual({
      paths: ["/voice/ws", "/voice/line", "/voice/api/chat"],
      hosts: ["mycosoft.com"],
    });
    expect(parseRoutePattern("mycosoft.com/voice/*")).toEqual({
      host: "mycosoft.com",
      pathPrefix: "/voice/",
    });
  });

  it("accepts a route whose WebSocket path a rule covers", () => {
    expect(routeViolations(["mycosoft.com/voice/*"], [pathOnly])).toEqual([]);
    expect(routeViolations(["mycosoft.com/voice/*"], [prodOnly])).toEqual([]);
  });

  it("accepts a route listed as covered by the zone-owning stack", () => {
    expect(
      routeViolations(
        ["voice-staging.mycosoft.com/voice/*"],
        [],
        ["voice-staging.mycosoft.com/voice/*"],
      ),
    ).toEqual([]);
  });

  it("refuses a route with no rule, a rule on another path, or a rule for other hosts", () => {
    const message = (p: string) =>
      `Worker route ${p} is not covered by any rate-limit rule in this stack (nor listed as covered by the zone-owning stack)`;
    expect(routeViolations(["mycosoft.com/voice/*"], [])).toEqual([
      message("mycosoft.com/voice/*"),
    ]);
    expect(
      routeViolations(
        ["mycosoft.com/voice/*"],
        [{ expression: rateLimitExpression({ paths: ["/login"], hosts: [] }) }],
      ),
    ).toEqual([message("mycosoft.com/voice/*")]);
    expect(routeViolations(["voice-staging.mycosoft.com/voice/*"], [prodOnly])).toEqual([
      message("voice-staging.mycosoft.com/voice/*"),
    ]);
  });
});

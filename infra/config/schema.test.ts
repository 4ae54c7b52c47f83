import { describe, expect, it } from "vitest";
import { runProgram, type DeclaredResource } from "../../tools/lib/mockProgram";
import { loadStackSettings, projectValues, readStackFile } from "../../tools/lib/stackFile";
import { parseStackSecrets, parseStackSettings, StackConfigError } from "./schema";

const prod = () => projectValues(readStackFile("prod"));
const SECRETS = { jwtSecret: "j".repeat(40), tunnelSecret: Buffer.alloc(32, 1).toString("base64") };
const zone = (changes: Record<string, unknown>) => ({ ...(prod().zone as object), ...changes });

function settingsError(values: Record<string, unknown>): string {
  try {
    parseStackSettings("prod", "Pulumi.prod.yaml", values);
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as Error).message;
  }
  throw new Error("expected the config to be refused");
}

describe("the real stack files", () => {
  it.each(["staging", "prod"])("Pulumi.%s.yaml passes the schema", (stack) => {
    const settings = loadStackSettings(stack);
    expect(settings.edge.auth.mode).toBe("jwt");
    expect(() => parseStackSecrets(stack, `Pulumi.${stack}.yaml`, settings, SECRETS)).not.toThrow();
  });
});

describe("bad settings are refused with the key, the stack file and what is allowed", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["an unknown plan", { zone: zone({ plan: "premium" }) }, /voice-edge:zone → plan: Invalid option: expected one of "free"\|"pro"\|"business"\|"enterprise"/],
    ["a zone ID of the wrong form", { zone: zone({ id: "my-zone" }) }, /voice-edge:zone → id: must be the zone ID: 32 lowercase hex/],
    ["a period the Free plan lacks", { rateLimit: { rules: [{ period: 60 }] } }, /voice-edge:rateLimit → rules\.0\.period: 60 s is not available on the free plan \(allowed: 10\)/],
    ["a period no plan has", { rateLimit: { rules: [{ period: 30 }] } }, /voice-edge:rateLimit → rules\.0\.period: must be one of 10, 60, 120, 300, 600, 3600 seconds/],
    ["a mitigation timeout the Free plan lacks", { rateLimit: { rules: [{ mitigationTimeout: 3600 }] } }, /rules\.0\.mitigationTimeout: 3600 s is not available on the free plan \(allowed: 10\)/],
    ["more rules than the Free plan allows", { rateLimit: { rules: [{}, { path: "/voice/health" }] } }, /voice-edge:rateLimit → rules: has 2 rules; the free plan allows 1/],
    ["the Host field on the Free plan", { rateLimit: { rules: [{ hosts: ["mycosoft.com"] }] } }, /rules\.0\.hosts: the host field is not available .* on the free plan \(allowed: path\)/],
    ["a Pro period on Pro is fine but 120 s is not", { zone: zone({ plan: "pro" }), rateLimit: { rules: [{ period: 120 }] } }, /120 s is not available on the pro plan \(allowed: 10, 60\)/],
    ["an Enterprise alert on Free", { alerts: { emails: ["ops@mycosoft.com"], types: ["http_alert_origin_error"] } }, /voice-edge:alerts → types\.0: http_alert_origin_error is not available on the free plan \(allowed: tunnel_health_event\)/],
    ["no alert mechanism", { alerts: { emails: [] } }, /voice-edge:alerts: needs at least one mechanism: emails or webhookUrl/],
    ["an http webhook", { alerts: { webhookUrl: "http://hooks.example.com" } }, /voice-edge:alerts → webhookUrl: must be an https:\/\/ URL/],
    ["rate limits in a stack that does not own the zone", { zone: zone({ owner: false }) }, /voice-edge:rateLimit: only the stack with zone.owner: true/],
    ["a public hostname outside the zone", { publicHostname: "voice.example.org" }, /voice-edge:publicHostname: voice.example.org is not in zone mycosoft.com/],
    ["the origin hostname equal to the public one", { tunnel: { originHostname: "mycosoft.com", bridgeService: "http://192.168.0.188:8999" } }, /voice-edge:tunnel → originHostname: must differ from publicHostname/],
    ["a ws:// bridge service", { tunnel: { originHostname: "voice-origin.mycosoft.com", bridgeService: "ws://192.168.0.188:8999" } }, /voice-edge:tunnel → bridgeService: must be an http:\/\/ or https:\/\/ URL/],
    ["a zone setting the service fixes", { zone: zone({ extraSettings: { ssl: "flexible" } }) }, /voice-edge:zone → extraSettings\.ssl: is fixed by the service \(ssl: strict\)/],
    ["auth left out", { edge: { allowedOrigins: ["https://mycosoft.com"] } }, /voice-edge:edge → auth: must be \{ mode: "jwt", algorithms: \[\.\.\.\] \} or \{ mode: "off" \} \(auth is never off by omission\)/],
    ["alg none", { edge: { auth: { mode: "jwt", algorithms: ["none"] }, allowedOrigins: ["https://mycosoft.com"] } }, /voice-edge:edge → auth\.algorithms\.0: Invalid option: expected one of "HS256"/],
    ["no origins and no origin-less clients", { edge: { auth: { mode: "off" }, allowedOrigins: [] } }, /voice-edge:edge → allowedOrigins: is empty and allowMissingOrigin is false/],
    ["a misspelt key", { workerNmae: "x" }, /voice-edge:: unknown key\(s\) "workerNmae"/],
    ["a compatibility date that is not a date", { compatibilityDate: "April 2026" }, /voice-edge:compatibilityDate: must be a date written YYYY-MM-DD/],
    ["a secret written into the stack file", { jwtSecret: "oops-in-plaintext" }, /voice-edge:jwtSecret: is a secret; set it with `pulumi config set --secret voice-edge:jwtSecret`/],
  ];

  it.each(cases)("refuses %s", (_name, changes, message) => {
    const text = settingsError({ ...prod(), ...changes });
    expect(text).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
    expect(text).toMatch(message);
  });

  it("never repeats a secret's value in a message", () => {
    const settings = loadStackSettings("prod");
    const attempt = () => parseStackSecrets("prod", "Pulumi.prod.yaml", settings, { jwtSecret: "short-secret-value", tunnelSecret: "not base64 at all!" });
    expect(attempt).toThrow(/voice-edge:jwtSecret: must be at least 32 characters/);
    expect(attempt).toThrow(/voice-edge:tunnelSecret: must be at least 32 random bytes in base64/);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain("short-secret-value");
      expect((error as Error).message).not.toContain("not base64 at all");
    }
  });

  it("requires jwtSecret when an HS algorithm is allowed, naming the command that sets it", () => {
    expect(() => parseStackSecrets("prod", "Pulumi.prod.yaml", loadStackSettings("prod"), { tunnelSecret: SECRETS.tunnelSecret })).toThrow(
      /voice-edge:jwtSecret: is required because edge.auth.algorithms includes HS256; set it with `pulumi config set --secret voice-edge:jwtSecret`/,
    );
  });
});

describe("the program refuses invalid config before declaring anything", () => {
  it("fails on a bad plan without declaring a single resource", async () => {
    const declared: DeclaredResource[] = [];
    await expect(runProgram("prod", { secrets: SECRETS, declared, override: { "voice-edge:zone": zone({ plan: "gold" }) } })).rejects.toThrow(/voice-edge:zone → plan/);
    expect(declared).toEqual([]);
  });

  it("fails when a secret was set without --secret", async () => {
    const declared: DeclaredResource[] = [];
    await expect(runProgram("prod", { secrets: SECRETS, plaintext: ["jwtSecret"], declared })).rejects.toThrow(
      /voice-edge:jwtSecret: is stored in plaintext; set it again with `pulumi config set --secret voice-edge:jwtSecret`/,
    );
    expect(declared).toEqual([]);
  });

  it("fails when the tunnel secret is missing", async () => {
    const declared: DeclaredResource[] = [];
    await expect(runProgram("staging", { secrets: { jwtSecret: SECRETS.jwtSecret }, declared })).rejects.toThrow(/voice-edge:tunnelSecret: .*pulumi config set --secret voice-edge:tunnelSecret/);
    expect(declared).toEqual([]);
  });
});

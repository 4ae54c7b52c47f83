import { describe, expect, it } from "vitest";
import { runProgramOffline } from "../offlineRun";
import { oneResource as one, RESOURCE_TYPES as T } from "../resourceTypes";
import { refusal } from "./programRun";

const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 5).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
  "cloudflare:apiToken": "cf-token-for-tests",
};
const ORIGIN = "voice-origin.mycosoft.com";
const CATCH_ALL = { service: "http_status:404" };

/** Prod's stack with its tunnel key replaced by `tunnel` (the origin hostname kept). */
const withTunnel = (tunnel: Record<string, unknown>) => ({
  secrets: SECRETS,
  override: {
    "voice-edge:tunnel": { name: "voice-bridge-prod", originHostname: ORIGIN, ...tunnel },
  },
});

async function tunnelConfigOf(tunnel: Record<string, unknown>) {
  const run = await runProgramOffline("prod", withTunnel(tunnel));
  return one(run, T.tunnelConfig, "voice-edge-tunnel-config").inputs;
}

describe("the tunnel's ingress", () => {
  it("points at the guard on the VM, http://localhost:8999, when the stack leaves bridgeService out", async () => {
    const inputs = await tunnelConfigOf({});
    expect(inputs.config).toEqual({
      ingresses: [{ hostname: ORIGIN, service: "http://localhost:8999" }, CATCH_ALL],
    });
  });

  it.each([
    ["noTlsVerify", { noTlsVerify: true }],
    ["caPool", { caPool: "/etc/cloudflared/personaplex-ca.pem" }],
    ["originServerName", { originServerName: "localhost" }],
    [
      "caPool with originServerName",
      { caPool: "/etc/cloudflared/personaplex-ca.pem", originServerName: "bridge.internal" },
    ],
  ])(
    "gives the bridge's rule, and only it, the stack's originRequest: %s",
    async (_, originRequest) => {
      const inputs = await tunnelConfigOf({
        bridgeService: "https://localhost:8998",
        originRequest,
      });
      expect(inputs.config).toEqual({
        ingresses: [
          { hostname: ORIGIN, service: "https://localhost:8998", originRequest },
          CATCH_ALL,
        ],
      });
    },
  );

  it.each([
    {
      what: "a TLS setting with an http:// service, naming both keys",
      tunnel: { originRequest: { noTlsVerify: true } },
      says: [
        "voice-edge:tunnel → originRequest.noTlsVerify: is a TLS setting and applies only to an https:// tunnel.bridgeService (bridgeService is http://localhost:8999)",
      ],
    },
    {
      what: "each TLS setting with an explicit http:// service",
      tunnel: {
        bridgeService: "http://localhost:8998",
        originRequest: { caPool: "/etc/ca.pem", originServerName: "localhost" },
      },
      says: [
        "voice-edge:tunnel → originRequest.caPool: is a TLS setting and applies only to an https:// tunnel.bridgeService (bridgeService is http://localhost:8998)",
        "voice-edge:tunnel → originRequest.originServerName: is a TLS setting and applies only",
      ],
    },
    {
      what: "an unknown originRequest key, by its name",
      tunnel: { bridgeService: "https://localhost:8998", originRequest: { noTLSVerify: true } },
      says: [
        "voice-edge:tunnel → originRequest.noTLSVerify: unknown key; known: noTlsVerify, caPool, originServerName",
      ],
    },
    {
      what: "a relative caPool",
      tunnel: {
        bridgeService: "https://localhost:8998",
        originRequest: { caPool: "certs/ca.pem" },
      },
      says: [
        "voice-edge:tunnel → originRequest.caPool: must be an absolute path to a PEM file on the bridge's VM",
      ],
    },
    {
      what: "an originServerName that is not a hostname",
      tunnel: {
        bridgeService: "https://localhost:8998",
        originRequest: { originServerName: "https://localhost" },
      },
      says: ["voice-edge:tunnel → originRequest.originServerName: must be a lowercase hostname"],
    },
    {
      what: "noTlsVerify that is not a boolean",
      tunnel: { bridgeService: "https://localhost:8998", originRequest: { noTlsVerify: "yes" } },
      says: ["voice-edge:tunnel → originRequest.noTlsVerify: "],
    },
    {
      what: "a CA pool nobody reads because noTlsVerify is on",
      tunnel: {
        bridgeService: "https://localhost:8998",
        originRequest: { noTlsVerify: true, caPool: "/etc/ca.pem" },
      },
      says: [
        "voice-edge:tunnel → originRequest.caPool: is never read while originRequest.noTlsVerify is true",
      ],
    },
  ])("refuses $what", async ({ tunnel, says }) => {
    const message = await refusal("prod", withTunnel(tunnel));
    for (const part of says) expect(message).toContain(part);
  });
});

import { describe, expect, it } from "vitest";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STACK_DIR_ENV, stackDirectory } from "../infra/config/stackFiles";
import { runProgramOffline } from "../infra/offlineRun";
import { runInProcess } from "../test/support/runInProcess";
import { alertSummary, fleetSummary, lineSummary } from "./plan";

function plan(...args: string[]) {
  return planIn(undefined, ...args);
}

/** `npm run plan` (in this process) reading the stack files in `stackDir` (VOICE_EDGE_STACK_DIR), or the default ones. */
function planIn(stackDir: string | undefined, ...args: string[]) {
  return runInProcess("plan", args, {
    env: stackDir === undefined ? {} : { [STACK_DIR_ENV]: stackDir },
  });
}

describe("npm run plan", () => {
  it.each(["prod", "staging"])(
    "prints what stack %s declares, saying no API was called and secrets are masked",
    async (stack) => {
      const result = await plan("--stack", stack);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(
        `voice-edge plan for stack "${stack}" (Pulumi.${stack}.yaml)`,
      );
      expect(result.stdout).toContain("No Cloudflare API was called");
      expect(result.stdout).toContain(`pulumi preview --stack ${stack}`);
      expect(result.stdout).toMatch(
        /\+ VoiceEdge {2}voice-edge {3}\(voice-edge:index:VoiceEdge\)\n(?: {4}.*\n|\n)*? {4}\+ WorkersScript {2}voice-edge-worker/,
      );
      expect(result.stdout).toMatch(
        new RegExp(
          `bridges \\(1\\):\n {4}bridge: voice-origin(-staging)?\\.mycosoft\\.com → http://localhost:8999 \\(tunnel voice-bridge-${stack}\\)\n`,
        ),
      );
      expect(result.stdout).toMatch(/JWT_SECRET \(secret_text\) = "\[secret\]"/);
      expect(result.stdout).toMatch(/tunnelSecret: \[secret\]/);
      expect(result.stdout).toMatch(/connectorToken: "\[secret\]"/);
      // Both stacks are on the Free plan: their 5XX alert is the Worker's probe.
      expect(result.stdout).toContain(
        "bridge_probe: the edge Worker probes every bridge every minute through its tunnel and POSTs the webhook after 3 consecutive failures of one, and after 30 minutes with no bridge free → webhook",
      );
      expect(result.stdout).toMatch(
        /tunnel_health_event: the tunnel to the voice bridge is degraded or down → emails, webhooks/,
      );
    },
  );

  it("prints the same resources as a JSON array of {type, name, inputs} with --json", async () => {
    const result = await plan("--stack", "prod", "--json");
    expect(result.code, result.stderr).toBe(0);
    const resources = JSON.parse(result.stdout) as {
      type: string;
      name: string;
      inputs: Record<string, unknown>;
    }[];
    expect(resources).toHaveLength(21);
    for (const resource of resources)
      expect(Object.keys(resource).sort()).toEqual(["inputs", "name", "type"]);
    const tunnel = resources.find((r) => r.name === "voice-edge-tunnel")!;
    expect(tunnel.inputs.tunnelSecret).toBe("[secret]");
  });

  it("shows each bridge of a fleet: its hostname, the service its tunnel reaches, its tunnel", async () => {
    const { resources, outputs } = await runProgramOffline("staging", {
      override: {
        "voice-edge:tunnel": undefined,
        "voice-edge:bridges": [
          { name: "gpu-1", originHostname: "voice-gpu-1.mycosoft.com" },
          {
            name: "gpu-2",
            originHostname: "voice-gpu-2.mycosoft.com",
            service: "https://localhost:8998",
          },
        ],
      },
    });
    expect(fleetSummary(resources, outputs)).toEqual([
      "gpu-1: voice-gpu-1.mycosoft.com → http://localhost:8999 (tunnel voice-edge-staging-gpu-1)",
      "gpu-2: voice-gpu-2.mycosoft.com → https://localhost:8998 (tunnel voice-edge-staging-gpu-2)",
    ]);
  });

  it("says the line is off for a stack without voice-edge:line, in its own section", async () => {
    const result = await plan("--stack", "prod");
    expect(result.stdout).toContain(
      "\nline:\n    off (voice-edge:line.enabled is false): the edge admits as it always has\n",
    );
  });

  it("shows the line when it is on: its script and class, its settings, the migrations a first up carries", async () => {
    const code = "export class FleetLine {}\nexport default {};\n";
    const { resources } = await runProgramOffline("prod", {
      override: { "voice-edge:line": { enabled: true, maxWaiting: 200 } },
      lineBundle: { code, sizeBytes: code.length, sha256: "0".repeat(64), path: "line.mjs" },
    });
    resources.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
    expect(lineSummary(resources)).toEqual([
      "voice-edge-prod-line: the coordinator, Durable Object class FleetLine, bound to the edge Worker as LINE",
      "settings (LINE_CONFIG): holdSeconds 15, maxWaiting 200, maxSessionsPerSubject 1, rejoinGraceSeconds 30",
      "migrations this upload carries: up to v1 (newSqliteClasses FleetLine); offline, no live tag is read, so this is a first `up`: `pulumi up` reads the script's migration tag and sends only what is pending",
    ]);
    // The line script sorts before the edge's: the bridge watch's line still reads the edge's settings.
    expect(alertSummary(resources)).toContain(
      "bridge_probe: the edge Worker probes every bridge every minute through its tunnel and POSTs the webhook after 3 consecutive failures of one, and after 30 minutes with no bridge free → webhook",
    );
  });

  it("shows the alerts on what users feel when a share is set, and nothing of them otherwise", async () => {
    const LINE_CODE = "export class FleetLine {}\nexport default {};\n";
    const { resources } = await runProgramOffline("prod", {
      secrets: {
        jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
        tunnelSecret: Buffer.alloc(32, 2).toString("base64"),
        alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
        analyticsReadToken: "analytics-read-token",
      },
      override: {
        "voice-edge:analytics": { dataset: "voice_edge_prod" },
        "voice-edge:line": { enabled: true },
        "voice-edge:alerts": {
          emails: ["ops@mycosoft.com"],
          turnedAwayShare: 0.2,
          waitedLongerThanS: 120,
          waitedShare: 0.25,
        },
      },
      lineBundle: {
        code: LINE_CODE,
        sizeBytes: LINE_CODE.length,
        sha256: "0".repeat(64),
        path: "line.mjs",
      },
    });
    expect(alertSummary(resources)).toContain(
      "what users feel: every minute the edge Worker asks dataset voice_edge_prod (SQL API, the secret ANALYTICS_READ_TOKEN) and POSTs the webhook once when 20 % or more of visitors were turned away, or when 25 % or more of ended waits in line were longer than 120 s over the last 15 minutes (with at least 10) → webhook",
    );
    const off = await runProgramOffline("prod");
    expect(alertSummary(off.resources).join("\n")).not.toContain("what users feel");
  });

  it("warns of a zone no stack file owns, and of a zone owner without a rate limit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "voice-edge-plan-gaps-"));
    try {
      copyFileSync(join(stackDirectory(), "Pulumi.staging.yaml"), join(dir, "Pulumi.solo.yaml"));
      const solo = await planIn(dir, "--stack", "solo");
      expect(solo.code, solo.stderr).toBe(0);
      expect(solo.stdout).toContain(
        "\nwarning: no stack file here owns zone mycosoft.com (voice-edge:zone.owner: true): this stack declares neither its zone settings",
      );
      const prod = readFileSync(join(stackDirectory(), "Pulumi.prod.yaml"), "utf8");
      const withoutRateLimit = prod.replace(/\n {2}voice-edge:rateLimit:\n(?: {4}.*\n)+/, "\n");
      expect(withoutRateLimit).not.toContain("voice-edge:rateLimit");
      writeFileSync(join(dir, "Pulumi.owner.yaml"), withoutRateLimit);
      const owner = await planIn(dir, "--stack", "owner");
      expect(owner.code, owner.stderr).toBe(0);
      expect(owner.stdout).toContain(
        "\nwarning: Pulumi.owner.yaml owns zone mycosoft.com but sets no voice-edge:rateLimit: nothing limits how often one client may open /voice/ws, /voice/line or /voice/api/chat",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("names the known stacks when asked for an unknown one", async () => {
    const result = await plan("--stack", "qa");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "no stack file Pulumi.qa.yaml: the stacks here are prod, staging",
    );
  });
});

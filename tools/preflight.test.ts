import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keptRateLimitRuleSchema } from "../infra/config/schema";
import { recordComment } from "../infra/dns";
import { managedRuleRef } from "../infra/rateLimitExpression";
import { routePattern } from "../infra/worker";
import {
  startCloudflareApiStandIn,
  type StandInScenario,
} from "../test/support/cloudflareApiStandIn";
import { copyOfFixtureStacks, FIXTURE_STACK_DIR, stackDirEnv } from "../test/support/fixtureStacks";
import { REQUIRED_TOKEN_PERMISSIONS } from "../infra/preflight/permissions";
import { SHOW_TABLES } from "../infra/preflight/analytics";
import { PROJECT_ROOT, loadStackSettings, stackFileName } from "../infra/config/stackFiles";
import type { CommandRun } from "../test/support/runCommand";
import { runInProcess } from "../test/support/runInProcess";
import type { StackSettings } from "../infra/config/schema";

const TOKEN = "stand-in-token-0123456789abcdefghijklmnop";
const TOKEN_ID = "ed17574386854bf78a67040be0a770b0";
const TUNNEL_ID = "c1744f8b-faa1-48a4-9e5c-02ac921467fa";
const ENTRY_POINT_ID = "2f2feab2026849078ba485f918791bdc";
/** The IDs the stack files below hold instead of the placeholders of the fixture stack files. */
const ACCOUNT_ID = "9a7806061c88ada191ed06f989cc3dac";
const ZONE_ID = "023e105f4ecef8ad9ca31a8372d0c353";
const PLACEHOLDER = "00000000000000000000000000000000";
const withIds = (settings: StackSettings): StackSettings => ({
  ...settings,
  accountId: ACCOUNT_ID,
  zone: { ...settings.zone, id: ZONE_ID },
});
const prod = withIds(loadStackSettings("prod"));
const staging = withIds(loadStackSettings("staging"));

/**
 * A stack directory whose stack files (the fixtures') hold real-looking IDs: preflight sends no
 * request with the placeholders the fixtures hold (one test runs it on those, on purpose).
 */
let stackDir: string;
/** A stack directory holding the prod stack (real-looking IDs) on a Pro zone. */
let proStacks: string;
/** A stack directory holding the prod stack (real-looking IDs) with the waiting line on. */
let lineStacks: string;
/** A stack directory holding the prod stack (real-looking IDs) with an Analytics Engine dataset. */
let analyticsStacks: string;
const DATASET = "voice_edge_prod";
beforeAll(() => {
  stackDir = copyOfFixtureStacks("voice-edge-preflight-");
  proStacks = mkdtempSync(join(tmpdir(), "voice-edge-preflight-pro-"));
  lineStacks = mkdtempSync(join(tmpdir(), "voice-edge-preflight-line-"));
  analyticsStacks = mkdtempSync(join(tmpdir(), "voice-edge-preflight-analytics-"));
  for (const stack of ["prod", "staging"]) {
    const text = readFileSync(join(stackDir, stackFileName(stack)), "utf8");
    const withRealIds = text
      .replace(`voice-edge:accountId: "${PLACEHOLDER}"`, `voice-edge:accountId: "${ACCOUNT_ID}"`)
      .replace(`id: "${PLACEHOLDER}"`, `id: "${ZONE_ID}"`);
    expect(withRealIds).not.toContain(PLACEHOLDER);
    writeFileSync(join(stackDir, stackFileName(stack)), withRealIds);
    // The same stack on a Pro zone, whose two rate-limiting rules leave room to carry one.
    if (stack === "prod") {
      writeFileSync(
        join(proStacks, stackFileName("prod")),
        withRealIds.replace("plan: free", "plan: pro"),
      );
      writeFileSync(
        join(lineStacks, stackFileName("prod")),
        `${withRealIds.trimEnd()}\n  voice-edge:line:\n    enabled: true\n`,
      );
      writeFileSync(
        join(analyticsStacks, stackFileName("prod")),
        `${withRealIds.trimEnd()}\n  voice-edge:analytics:\n    dataset: ${DATASET}\n`,
      );
    }
  }
});
afterAll(() => {
  rmSync(stackDir, { recursive: true, force: true });
  rmSync(proStacks, { recursive: true, force: true });
  rmSync(lineStacks, { recursive: true, force: true });
  rmSync(analyticsStacks, { recursive: true, force: true });
});

/** Everything as a stack that already deployed once would find it: every check answers ok. */
function prodScenario(): StandInScenario {
  return {
    accountId: prod.accountId,
    token: {
      value: TOKEN,
      id: TOKEN_ID,
      owner: "user",
      permissionGroups: REQUIRED_TOKEN_PERMISSIONS.map((p) => p.group),
    },
    zone: { id: prod.zone.id, name: prod.zone.name, plan: prod.zone.plan },
    zeroTrust: true,
    ssl: "strict",
    records: [
      {
        type: "A",
        name: prod.publicHostname,
        content: "203.0.113.10",
        proxied: true,
        comment: "the website",
      },
      { type: "TXT", name: prod.publicHostname, content: "v=spf1 -all" },
      { type: "MX", name: prod.publicHostname, content: "mail.mycosoft.com" },
      {
        type: "CNAME",
        name: prod.tunnel!.originHostname,
        content: `${TUNNEL_ID}.cfargotunnel.com`,
        proxied: true,
        comment: recordComment(prod, "tunnel to the bridge"),
      },
    ],
    routes: [{ pattern: routePattern(prod.publicHostname), script: prod.workerName }],
    tunnels: [{ id: TUNNEL_ID, name: prod.tunnel!.name! }],
    pageSize: 2,
  };
}

function stagingScenario(): StandInScenario {
  return {
    ...prodScenario(),
    records: [
      {
        type: "AAAA",
        name: staging.publicHostname,
        content: "100::",
        proxied: true,
        comment: recordComment(staging, "Worker route only"),
      },
      {
        type: "CNAME",
        name: staging.tunnel!.originHostname,
        content: `${TUNNEL_ID}.cfargotunnel.com`,
        proxied: true,
        comment: recordComment(staging, "tunnel to the bridge"),
      },
    ],
    routes: [{ pattern: routePattern(staging.publicHostname), script: staging.workerName }],
    tunnels: [{ id: TUNNEL_ID, name: staging.tunnel!.name! }],
  };
}

const foreignRule = {
  id: "3a03d665bac047339bb530ecb439a90d",
  ref: "site_login_limit",
  description: "login attempts per IP",
  expression: '(http.request.uri.path eq "/login")',
  action: "block",
  enabled: true,
  action_parameters: {
    response: { status_code: 429, content_type: "text/plain", content: "slow down" },
  },
  ratelimit: {
    characteristics: ["ip.src", "cf.colo.id"],
    period: 10,
    requests_per_period: 5,
    mitigation_timeout: 10,
  },
  version: "1",
  last_updated: "2026-01-01T00:00:00Z",
};
const ownRule = {
  ...foreignRule,
  id: "8c7d1f1a2b3c4d5e6f708192a3b4c5d6",
  ref: managedRuleRef(0),
  description: "voice",
  expression: '(http.request.uri.path eq "/voice/ws")',
  action_parameters: undefined,
};

/**
 * Runs the command (in this process) on the stack files with real-looking IDs, or on the fixtures
 * themselves (`FIXTURE_STACK_DIR`), with no token, API base URL or debug flag but those given.
 */
function preflight(
  args: string[],
  env: Record<string, string | undefined>,
  stacks = stackDir,
): Promise<CommandRun> {
  return runInProcess("preflight", args, {
    env: {
      CLOUDFLARE_API_TOKEN: undefined,
      CLOUDFLARE_BASE_URL: undefined,
      VOICE_EDGE_DEBUG: undefined,
      ...stackDirEnv(stacks),
      ...env,
    },
  });
}

/** Runs the CLI against a fresh stand-in with this scenario; preflight never sends a write. */
async function against(
  scenario: StandInScenario,
  args: string[],
  token = TOKEN,
  stacks = stackDir,
): Promise<CommandRun & { requests: string[]; sqlQueries: string[] }> {
  const standIn = await startCloudflareApiStandIn(scenario);
  try {
    const run = await preflight(
      args,
      { CLOUDFLARE_API_TOKEN: token, CLOUDFLARE_BASE_URL: standIn.url },
      stacks,
    );
    expect(standIn.writes).toEqual([]);
    return { ...run, requests: standIn.requests, sqlQueries: standIn.sqlQueries };
  } finally {
    await standIn.close();
  }
}

const lines = (run: CommandRun) => run.stdout.trim().split("\n");
const line = (run: CommandRun, prefix: string) => lines(run).find((l) => l.startsWith(prefix));
const noStackTrace = (run: CommandRun) =>
  expect(`${run.stdout}${run.stderr}`).not.toMatch(/^\s+at /m);

describe.sequential(
  "npm run preflight against the stand-in Cloudflare API",
  { timeout: 120_000 },
  () => {
    it("passes a prod stack whose account is as its last deploy left it, paginating the DNS records", async () => {
      const run = await against(prodScenario(), ["--stack", "prod", "--tunnel-id", TUNNEL_ID]);
      expect(run.stderr).toBe("");
      expect(lines(run).map((l) => l.split(":")[0])).toEqual([
        "ok       token",
        "ok       zero-trust",
        "ok       zone",
        "ok       rate-limit",
        "ok       dns",
        "ok       worker-route",
        "ok       tunnel",
        "ok       ssl",
      ]);
      expect(line(run, "ok       zone:")).toBe(
        "ok       zone: mycosoft.com (free plan, matches zone.plan)",
      );
      expect(run.requests.some((r) => r.includes("/dns_records") && r.includes("page=2"))).toBe(
        true,
      );
      expect(run.code).toBe(0);
    });

    it("passes a staging stack (worker-only DNS, not the zone owner)", async () => {
      const run = await against(stagingScenario(), [
        "--stack",
        "staging",
        "--tunnel-id",
        TUNNEL_ID,
      ]);
      expect(line(run, "ok       rate-limit:")).toContain(
        "the owner stack of mycosoft.com manages the http_ratelimit entry point",
      );
      expect(lines(run).every((l) => l.startsWith("ok "))).toBe(true);
      expect(run.code).toBe(0);
    });

    it("prints a JSON array and nothing else with --json", async () => {
      const run = await against(prodScenario(), [
        "--stack",
        "prod",
        "--tunnel-id",
        TUNNEL_ID,
        "--json",
      ]);
      const results = JSON.parse(run.stdout) as {
        check: string;
        status: string;
        message: string;
      }[];
      expect(results.map((r) => r.check)).toEqual([
        "token",
        "zero-trust",
        "zone",
        "rate-limit",
        "dns",
        "worker-route",
        "tunnel",
        "ssl",
      ]);
      expect(results.every((r) => r.status === "ok" && r.message.length > 0)).toBe(true);
      expect(run.code).toBe(0);
    });

    it("names each permission the token's policies lack", async () => {
      const scenario = prodScenario();
      scenario.token.permissionGroups = REQUIRED_TOKEN_PERMISSIONS.map((p) => p.group).filter(
        (g) => g !== "Zone WAF Write" && g !== "Notifications Write",
      );
      const run = await against(scenario, ["--stack", "prod", "--tunnel-id", TUNNEL_ID]);
      expect(line(run, "problem  token:")).toMatch(
        /lacks 2 required permission\(s\): "Zone WAF Write" \(Zone → Zone WAF → Edit\), "Notifications Write" \(Account → Notifications → Edit\) → edit the token/,
      );
      expect(run.code).toBe(1);
    });

    it("probes each area when an account-owned token may not read its own policies, and warns that edit rights are unconfirmed", async () => {
      const scenario = prodScenario();
      scenario.token = { value: TOKEN, id: TOKEN_ID, owner: "account" };
      scenario.failures = {
        scripts: { status: 403, code: 10000, message: "Authentication error" },
      };
      const run = await against(scenario, ["--stack", "prod", "--tunnel-id", TUNNEL_ID]);
      expect(line(run, "problem  token:")).toMatch(
        /account-owned token .* cannot read 1 area\(s\) it needs: "Workers Scripts Write"/,
      );
      const warned = line(run, "warning  token:");
      expect(warned).toMatch(
        /edit rights could not be confirmed.* → check in the dashboard that it may make each write of the next `pulumi up` — /,
      );
      for (const write of [
        '"Zone Settings Write": ZoneSetting min_tls_version, ZoneSetting websockets, ZoneSetting ssl, ZoneSetting always_use_https;',
        '"DNS Write": DnsRecord CNAME voice-origin.mycosoft.com',
        '"Workers Routes Write": WorkersRoute mycosoft.com/voice/*',
        '"Zone WAF Write": UrlNormalizationSettings voice-edge-url-normalization, Ruleset http_ratelimit;',
        '"Workers Scripts Write": WorkersScript voice-edge-prod',
        '"Cloudflare Tunnel Write": ZeroTrustTunnelCloudflared voice-bridge-prod',
        '"Access: Service Tokens Write": ZeroTrustAccessServiceToken ',
        '"D1 Write": D1Database voice-edge-prod-bridge-watch',
      ])
        expect(warned).toContain(write);
      expect(run.requests).toContain(`GET /client/v4/accounts/${prod.accountId}/tokens/verify`);
      expect(run.code).toBe(1);
    });

    it("stops at the first line when there is no token", async () => {
      const run = await preflight(["--stack", "prod"], {});
      expect(lines(run)).toHaveLength(1);
      expect(lines(run)[0]).toMatch(
        /^problem  token: CLOUDFLARE_API_TOKEN is not set → create an API token/,
      );
      expect(run.code).toBe(1);
    });

    it("names the placeholder IDs of a stack file and sends no request with them", async () => {
      const placeholders = [
        `problem  ids: voice-edge:accountId in Pulumi.prod.yaml is still the placeholder ${PLACEHOLDER}: no request was sent with it → put your account's ID there (dashboard → mycosoft.com → Overview, the API section: Account ID)`,
        `problem  ids: voice-edge:zone → id in Pulumi.prod.yaml is still the placeholder ${PLACEHOLDER}: no request was sent with it → put your zone's ID there (dashboard → mycosoft.com → Overview, the API section: Zone ID)`,
      ];
      const checks = await against(prodScenario(), ["--stack", "prod"], TOKEN, FIXTURE_STACK_DIR);
      const carry = await against(
        prodScenario(),
        ["--stack", "prod", "--carry-rules"],
        TOKEN,
        FIXTURE_STACK_DIR,
      );
      for (const run of [checks, carry]) {
        expect(lines(run)).toEqual(placeholders);
        expect(run.requests).toEqual([]);
        expect(run.code).toBe(1);
      }
    });

    it("names the stack file's ID when Cloudflare cannot route it (400, code 7003)", async () => {
      const run = await against(
        {
          ...prodScenario(),
          accountId: "5c0ffee5c0ffee5c0ffee5c0ffee5c0f",
          zone: {
            id: "7e11a1e57e11a1e57e11a1e57e11a1e5",
            name: prod.zone.name,
            plan: prod.zone.plan,
          },
        },
        ["--stack", "prod", "--tunnel-id", TUNNEL_ID],
      );
      expect(line(run, "problem  zero-trust:")).toBe(
        `problem  zero-trust: Cloudflare cannot route the request for the account's Zero Trust organization (7003 Could not route to /client/v4/accounts/${ACCOUNT_ID}/access/organizations, perhaps your object identifier is invalid?): no account ${ACCOUNT_ID} exists that this token can see → check voice-edge:accountId in Pulumi.prod.yaml (dashboard → mycosoft.com → Overview, the API section: Account ID), or give the token access to that account`,
      );
      expect(line(run, "problem  tunnel:")).toMatch(
        new RegExp(
          `no account ${ACCOUNT_ID} exists .* → check voice-edge:accountId in Pulumi\\.prod\\.yaml`,
        ),
      );
      expect(line(run, "problem  zone:")).toMatch(
        new RegExp(`no zone with ID ${ZONE_ID} is visible to this token → put the zone's ID`),
      );
      for (const check of ["dns", "worker-route", "ssl"])
        expect(line(run, `problem  ${check}:`)).toMatch(
          new RegExp(
            `no zone ${ZONE_ID} exists .* → check voice-edge:zone → id in Pulumi\\.prod\\.yaml`,
          ),
        );
      expect(run.stdout).not.toContain("run preflight again");
      noStackTrace(run);
      expect(run.code).toBe(1);
    });

    it("gives one line for a wrong token (401, code 1000)", async () => {
      const run = await against(prodScenario(), ["--stack", "prod"], "wrong-token");
      expect(lines(run)).toEqual([
        "problem  token: Cloudflare refused the token (1000 Invalid API Token) → set CLOUDFLARE_API_TOKEN to a valid, active API token",
      ]);
      noStackTrace(run);
      expect(run.code).toBe(1);
    });

    it("gives one line when the API is unreachable", async () => {
      const port = await closedPort();
      const run = await preflight(["--stack", "prod"], {
        CLOUDFLARE_API_TOKEN: TOKEN,
        CLOUDFLARE_BASE_URL: `http://127.0.0.1:${port}/client/v4`,
      });
      expect(lines(run)).toHaveLength(1);
      expect(lines(run)[0]).toMatch(
        /^problem  token: cannot reach the Cloudflare API \(ECONNREFUSED\)/,
      );
      noStackTrace(run);
      expect(run.code).toBe(1);
    });

    it("gives one line when Cloudflare rate-limits (429)", async () => {
      const run = await against({ ...prodScenario(), rateLimited: true }, ["--stack", "prod"]);
      expect(lines(run)).toHaveLength(1);
      expect(lines(run)[0]).toMatch(
        /^problem  token: Cloudflare rate-limited the request .* \(971 Please wait/,
      );
      noStackTrace(run);
      expect(run.code).toBe(1);
    });

    it("gives one line for the area the token may not read (403)", async () => {
      const run = await against(
        {
          ...prodScenario(),
          failures: { routes: { status: 403, code: 10000, message: "Authentication error" } },
        },
        ["--stack", "prod", "--tunnel-id", TUNNEL_ID],
      );
      expect(line(run, "problem  worker-route:")).toBe(
        'problem  worker-route: the token may not read the zone\'s Worker routes (10000 Authentication error) → give the token "Workers Routes Write" (Zone → Workers Routes → Edit) on this zone',
      );
      expect(lines(run).filter((l) => l.startsWith("problem"))).toHaveLength(1);
      noStackTrace(run);
      expect(run.code).toBe(1);
    });

    it("names the dashboard step when the account has no Zero Trust organization", async () => {
      const run = await against({ ...prodScenario(), zeroTrust: false }, [
        "--stack",
        "prod",
        "--tunnel-id",
        TUNNEL_ID,
      ]);
      expect(line(run, "problem  zero-trust:")).toMatch(
        /no Zero Trust organization .* → Cloudflare dashboard → Zero Trust: choose a team name and the Free plan \(one time; the API cannot do it\)$/,
      );
      expect(line(run, "ok       token:")).toBeDefined();
      expect(run.stdout).not.toContain("Access: Apps and Policies Write");
      expect(run.code).toBe(1);
    });

    it("does not take Access's not-enabled answer to the token's probes for a missing permission", async () => {
      const scenario = { ...prodScenario(), zeroTrust: false };
      scenario.token = { value: TOKEN, id: TOKEN_ID, owner: "user" };
      const run = await against(scenario, ["--stack", "prod", "--tunnel-id", TUNNEL_ID]);
      expect(line(run, "ok       token:")).toMatch(/can read every area the stack uses/);
      expect(lines(run).filter((l) => l.startsWith("problem"))).toEqual([
        expect.stringMatching(/^problem  zero-trust: the account has no Zero Trust organization/),
      ]);
      expect(run.code).toBe(1);
    });

    it("reports a zone whose name and plan differ from the stack file", async () => {
      const run = await against(
        { ...prodScenario(), zone: { id: prod.zone.id, name: "example.com", plan: "pro" } },
        ["--stack", "prod", "--tunnel-id", TUNNEL_ID],
      );
      expect(line(run, "problem  zone: zone")).toMatch(
        /is example\.com, the stack says zone\.name: mycosoft\.com → correct voice-edge:zone → name .* in Pulumi\.prod\.yaml/,
      );
      expect(line(run, "problem  zone: example.com")).toMatch(
        /on the pro plan, the stack says zone\.plan: free → set voice-edge:zone → plan: pro in Pulumi\.prod\.yaml/,
      );
      expect(run.code).toBe(1);
    });

    it.each(
      [
        {
          title:
            "reports a rate-limit rule on a Free zone that the stack cannot carry, with the fixes that fit the plan",
          rules: [foreignRule],
          prefix: "problem  rate-limit:",
          says: new RegExp(
            [
              '1 rule\\(s\\) this stack neither manages nor carries .*site_login_limit "login attempts per IP"',
              "carrying it does not fit: the free plan allows 1 rate-limiting rule\\(s\\), and this stack would need 2 \\(1 of its own, 1 to carry\\)",
              ` → delete that rule \\(dashboard → mycosoft\\.com → Security → WAF → Rate limiting rules\\), then set voice-edge:rateLimit → adoptRulesetId: ${ENTRY_POINT_ID} in Pulumi\\.prod\\.yaml`,
              "; or keep that rule and remove voice-edge:rateLimit from Pulumi\\.prod\\.yaml",
              "; or move mycosoft\\.com to the pro plan",
            ].join(".*"),
          ),
          code: 1,
        },
        {
          title:
            "asks for adoptRulesetId when the zone's entry point holds none of the project's rules",
          rules: [],
          prefix: "problem  rate-limit:",
          says: new RegExp(
            `Cloudflare refuses to create a second one → set voice-edge:rateLimit → adoptRulesetId: ${ENTRY_POINT_ID}`,
          ),
          code: 1,
        },
        {
          title: "passes an entry point that holds only the project's own rules",
          rules: [ownRule],
          prefix: "ok       rate-limit:",
          // a string: toMatch checks that the line contains it
          says: `entry point ${ENTRY_POINT_ID}: 1 rule(s) of this project, 0 carried`,
          code: 0,
        },
      ].map((c) => [c.title, c] as const),
    )("%s", async (_title, { rules, prefix, says, code }) => {
      const run = await against(
        { ...prodScenario(), rateLimitEntryPoint: { id: ENTRY_POINT_ID, rules } },
        ["--stack", "prod", "--tunnel-id", TUNNEL_ID],
      );
      expect(line(run, prefix)).toMatch(says);
      expect(run.code).toBe(code);
    });

    it("names, with --carry-rules on the Free plan, the fixes that fit instead of a block the schema would refuse", async () => {
      const run = await against(
        { ...prodScenario(), rateLimitEntryPoint: { id: ENTRY_POINT_ID, rules: [foreignRule] } },
        ["--stack", "prod", "--carry-rules"],
      );
      expect(run.code).toBe(1);
      expect(run.stdout).not.toContain("keepRules");
      expect(line(run, "problem  carry-rules:")).toMatch(
        /holds 1 rule\(s\) that are not this project's; carrying it does not fit: the free plan allows 1 rate-limiting rule\(s\), and this stack would need 2 .* → delete that rule .*; or keep that rule and remove voice-edge:rateLimit from Pulumi\.prod\.yaml .*; or move mycosoft\.com to the pro plan/,
      );
    });

    it("prints, with --carry-rules, a keepRules block the stack schema accepts and the ruleset to adopt", async () => {
      const run = await against(
        { ...prodScenario(), rateLimitEntryPoint: { id: ENTRY_POINT_ID, rules: [foreignRule] } },
        ["--stack", "prod", "--carry-rules"],
        TOKEN,
        proStacks,
      );
      expect(run.code).toBe(0);
      const block = parse(run.stdout) as { keepRules: unknown[]; adoptRulesetId: string };
      // Pasted into the stack, the schema accepts it, rule count and all.
      const prodpro = readFileSync(join(proStacks, stackFileName("prod")), "utf8");
      const pasted = prodpro.replace(
        "  voice-edge:rateLimit:\n",
        `  voice-edge:rateLimit:\n    adoptRulesetId: ${block.adoptRulesetId}\n    keepRules: ${JSON.stringify(block.keepRules)}\n`,
      );
      expect(pasted).not.toBe(prodpro);
      const pastedRoot = mkdtempSync(join(tmpdir(), "voice-edge-pasted-"));
      try {
        writeFileSync(join(pastedRoot, stackFileName("prod")), pasted);
        expect(loadStackSettings("prod", pastedRoot).rateLimit?.keepRules).toHaveLength(1);
      } finally {
        rmSync(pastedRoot, { recursive: true, force: true });
      }
      expect(block.adoptRulesetId).toBe(ENTRY_POINT_ID);
      expect(block.keepRules.map((rule) => keptRateLimitRuleSchema.parse(rule))).toEqual([
        {
          ref: "site_login_limit",
          description: "login attempts per IP",
          expression: '(http.request.uri.path eq "/login")',
          action: "block",
          enabled: true,
          actionParameters: {
            response: { statusCode: 429, contentType: "text/plain", content: "slow down" },
          },
          ratelimit: {
            characteristics: ["ip.src", "cf.colo.id"],
            period: 10,
            requestsPerPeriod: 5,
            mitigationTimeout: 10,
          },
        },
      ]);
    });

    it("reports records at the origin hostname that this project did not create", async () => {
      const scenario = prodScenario();
      scenario.records = scenario.records.map((r) =>
        r.name === prod.tunnel!.originHostname ? { ...r, comment: "made by hand" } : r,
      );
      const run = await against(scenario, ["--stack", "prod", "--tunnel-id", TUNNEL_ID]);
      expect(line(run, "problem  dns:")).toMatch(
        /voice-origin\.mycosoft\.com already has 1 record\(s\) this project did not create: CNAME .*\(comment "made by hand"\) → delete them .* or choose another voice-edge:tunnel → originHostname/,
      );
      expect(run.code).toBe(1);
    });

    it("reports a public hostname without a proxied record when publicDns is existing", async () => {
      const scenario = prodScenario();
      scenario.records = scenario.records.map((r) =>
        r.type === "A" ? { ...r, proxied: false } : r,
      );
      const run = await against(scenario, ["--stack", "prod", "--tunnel-id", TUNNEL_ID]);
      expect(line(run, "problem  dns:")).toMatch(
        /publicDns: existing, but mycosoft\.com has only .*, not proxied: .* → turn on the proxy \(orange cloud\)/,
      );
      expect(run.code).toBe(1);
    });

    it("reports the public hostname's route bound to another Worker", async () => {
      const run = await against(
        {
          ...prodScenario(),
          routes: [{ pattern: routePattern(prod.publicHostname), script: "someone-elses-worker" }],
        },
        ["--stack", "prod", "--tunnel-id", TUNNEL_ID],
      );
      expect(line(run, "problem  worker-route:")).toBe(
        `problem  worker-route: the route ${routePattern(prod.publicHostname)} is bound to script someone-elses-worker, not voice-edge-prod → delete that route (dashboard → mycosoft.com → Workers Routes) or choose another voice-edge:publicHostname in Pulumi.prod.yaml`,
      );
      expect(run.code).toBe(1);
    });

    it("reports another script's route whose pattern overlaps the stack's", async () => {
      const scenario = prodScenario();
      scenario.routes.push({ pattern: "*mycosoft.com/voice*", script: "voice-legacy" });
      const run = await against(scenario, ["--stack", "prod", "--tunnel-id", TUNNEL_ID]);
      expect(line(run, "problem  worker-route:")).toBe(
        "problem  worker-route: the route *mycosoft.com/voice* (script voice-legacy) matches URLs of mycosoft.com/voice/* too (e.g. https://mycosoft.com/voice/); mycosoft.com/voice/* is the more specific, so `pulumi up` would take them from voice-legacy, which is routed to them on purpose → delete or narrow that route (dashboard → mycosoft.com → Workers Routes) or choose another voice-edge:publicHostname in Pulumi.prod.yaml",
      );
      expect(run.code).toBe(1);
    });

    it("reports a more specific route of another script inside the stack's, and warns of a site-wide one", async () => {
      const scenario = prodScenario();
      scenario.routes.push(
        { pattern: "mycosoft.com/voice/ws", script: "someone-elses-worker" },
        { pattern: "*mycosoft.com/*", script: "website" },
      );
      const run = await against(scenario, ["--stack", "prod", "--tunnel-id", TUNNEL_ID]);
      expect(line(run, "problem  worker-route:")).toMatch(
        /the route mycosoft\.com\/voice\/ws \(script someone-elses-worker\) .* and is the more specific: Cloudflare runs script someone-elses-worker there, not voice-edge-prod → delete or narrow that route/,
      );
      expect(line(run, "warning  worker-route:")).toMatch(
        /the route \*mycosoft\.com\/\* \(script website\) matches URLs of mycosoft\.com\/voice\/\* too .* so after `pulumi up` website no longer serves them → check that website serves nothing under mycosoft\.com\/voice\/\*/,
      );
      expect(run.code).toBe(1);
    });

    it("reports a tunnel with the stack's tunnel name that is not the stack's, and how to name the stack's own", async () => {
      const run = await against(prodScenario(), ["--stack", "prod"]);
      expect(line(run, "problem  tunnel:")).toMatch(
        /a tunnel named voice-bridge-prod already exists .* Cloudflare refuses a second tunnel with the same name; .* --tunnel-id \$\(pulumi stack output tunnelId --stack prod\) → delete it .* or set voice-edge:tunnel → name/,
      );
      expect(run.code).toBe(1);
    });

    describe("with the line on", () => {
      const withLine = (scenario: Partial<StandInScenario>) =>
        against(
          { ...prodScenario(), ...scenario },
          ["--stack", "prod", "--tunnel-id", TUNNEL_ID],
          TOKEN,
          lineStacks,
        );

      it("says a first up creates the line script and applies v1, after every other check", async () => {
        const run = await withLine({ scripts: [{ id: prod.workerName, classes: [] }] });
        expect(lines(run).at(-1)).toBe(
          "ok       line: no script voice-edge-prod-line yet: `pulumi up` creates it and applies migration v1 (SQLite-backed FleetLine, on every Workers plan)",
        );
        expect(run.code).toBe(0);
      });

      it("says a later up migrates nothing once v1 is live", async () => {
        const run = await withLine({
          scripts: [{ id: "voice-edge-prod-line", migrationTag: "v1", classes: ["FleetLine"] }],
        });
        expect(line(run, "ok       line:")).toBe(
          "ok       line: voice-edge-prod-line has migration tag v1, the latest: `pulumi up` uploads the bundle with no migration",
        );
      });

      it("reports a live tag this checkout does not know", async () => {
        const run = await withLine({
          scripts: [{ id: "voice-edge-prod-line", migrationTag: "v3", classes: ["FleetLine"] }],
        });
        expect(line(run, "problem  line:")).toMatch(
          /^problem {2}line: the line script voice-edge-prod-line carries Durable Object migration tag "v3", which this program's LINE_MIGRATIONS \(v1\) does not know: deploy from the checkout that applied it → run `pulumi up` from that checkout, or choose another voice-edge:workerName in Pulumi\.prod\.yaml$/,
        );
        expect(run.code).toBe(1);
      });

      it("warns of a script of that name without a migration tag: not this stack's", async () => {
        const run = await withLine({ scripts: [{ id: "voice-edge-prod-line", classes: [] }] });
        expect(line(run, "warning  line:")).toContain(
          "a script voice-edge-prod-line exists without a Durable Object migration tag",
        );
        expect(run.code).toBe(0);
      });

      it("lists the line script among the writes to confirm when the token may not read its own policies", async () => {
        const run = await withLine({
          token: { value: TOKEN, id: TOKEN_ID, owner: "account" },
          scripts: [],
        });
        expect(line(run, "warning  token:")).toContain(
          '"Workers Scripts Write": WorkersScript voice-edge-prod-line, WorkersScript voice-edge-prod,',
        );
      });

      it("names the permission when the token may not read the account's scripts", async () => {
        const run = await withLine({
          failures: { scripts: { status: 403, code: 10000, message: "Authentication error" } },
        });
        expect(line(run, "problem  line:")).toBe(
          "problem  line: the token may not read the account's Worker scripts (the line script's migration tag) (10000 Authentication error) → give the token \"Workers Scripts Write\" (Account → Workers Scripts → Edit) on this account",
        );
        expect(run.code).toBe(1);
      });
    });

    describe("with an Analytics Engine dataset", () => {
      const withDataset = (scenario: Partial<StandInScenario>) =>
        against(
          { ...prodScenario(), ...scenario },
          ["--stack", "prod", "--tunnel-id", TUNNEL_ID],
          TOKEN,
          analyticsStacks,
        );

      it("says Analytics Engine is enabled and the dataset is not there yet, which the first point fixes", async () => {
        const run = await withDataset({ analyticsEngine: { enabled: true, datasets: ["other"] } });
        expect(run.sqlQueries).toEqual([SHOW_TABLES]);
        expect(lines(run).at(-1)).toBe(
          `ok       analytics: Analytics Engine is enabled; dataset ${DATASET} does not exist yet: the edge's first point creates it (nothing to do)`,
        );
        expect(run.code).toBe(0);
      });

      it("says the dataset exists once points were written", async () => {
        const run = await withDataset({ analyticsEngine: { enabled: true, datasets: [DATASET] } });
        expect(line(run, "ok       analytics:")).toBe(
          `ok       analytics: Analytics Engine is enabled; dataset ${DATASET} exists`,
        );
      });

      it("reports an account that has not enabled Analytics Engine, with the dashboard step", async () => {
        const run = await withDataset({ analyticsEngine: { enabled: false, datasets: [] } });
        expect(line(run, "problem  analytics:")).toBe(
          `problem  analytics: the account has not enabled Workers Analytics Engine (the SQL API answered 403: workers.api.error.no_access_to_analytics_engine (code 10089): Workers Analytics Engine is not enabled on this account (enable it once, in the Cloudflare dashboard)): \`pulumi up\` fails with workers.api.error.no_access_to_analytics_engine [code: 10089] while the stack binds dataset ${DATASET} → enable it once in the dashboard (Workers & Pages → Analytics Engine, https://dash.cloudflare.com/${ACCOUNT_ID}/workers/analytics-engine; the API cannot), then run preflight again; or remove voice-edge:analytics from Pulumi.prod.yaml`,
        );
        expect(run.code).toBe(1);
      });

      it("takes a 403 that says Analytics Engine is not enabled, without code 10089, for the same problem", async () => {
        const run = await withDataset({
          failures: {
            analyticsSql: {
              status: 403,
              code: 10000,
              message:
                "You need to enable Analytics Engine. Head to the Cloudflare Dashboard to enable",
            },
          },
        });
        expect(line(run, "problem  analytics:")).toContain(
          "the account has not enabled Workers Analytics Engine",
        );
        expect(run.code).toBe(1);
      });

      it("warns that it cannot tell when the token may not query the SQL API (403 without not-enabled)", async () => {
        const run = await withDataset({
          failures: {
            analyticsSql: { status: 403, code: 10000, message: "Authentication error" },
          },
        });
        expect(run.sqlQueries).toEqual([SHOW_TABLES]);
        expect(line(run, "warning  analytics:")).toBe(
          `warning  analytics: cannot tell whether Analytics Engine is enabled: the SQL API answered 403 (10000 Authentication error), so the token likely lacks "Account Analytics Read" (Account → Account Analytics → Read) (an account without Analytics Engine may answer 403 too) → add Account Analytics Read to the token, or check in the dashboard that Analytics Engine is enabled (https://dash.cloudflare.com/${ACCOUNT_ID}/workers/analytics-engine): \`pulumi up\` fails with workers.api.error.no_access_to_analytics_engine [code: 10089] until it is`,
        );
        expect(run.code).toBe(0);
      });

      it("warns, without failing, when the SQL API answers something else", async () => {
        const run = await withDataset({
          failures: { analyticsSql: { status: 500, code: 10002, message: "internal error" } },
        });
        expect(line(run, "warning  analytics:")).toMatch(
          /^warning {2}analytics: cannot tell whether Analytics Engine is enabled: the SQL API answered 500: internal error \(code 10002\) → run preflight again, or check in the dashboard/,
        );
        expect(run.code).toBe(0);
      });
    });

    it("sends no SQL query and prints no analytics line when the stack sets no dataset", async () => {
      const run = await against(
        { ...prodScenario(), analyticsEngine: { enabled: false, datasets: [] } },
        ["--stack", "prod", "--tunnel-id", TUNNEL_ID],
      );
      expect(run.requests.filter((r) => r.includes("/analytics_engine/"))).toEqual([]);
      expect(lines(run).some((l) => l.includes("analytics:"))).toBe(false);
      expect(run.code).toBe(0);
    });

    it("warns, without failing, when the zone's ssl is not strict", async () => {
      const run = await against({ ...prodScenario(), ssl: "full" }, [
        "--stack",
        "prod",
        "--tunnel-id",
        TUNNEL_ID,
      ]);
      expect(line(run, "warning  ssl:")).toMatch(
        /zone-wide — every proxied origin on mycosoft\.com, the website's too, must then present a valid certificate .* or visitors get 526 → check the website's origin certificate before `pulumi up`; `pulumi destroy` does not switch ssl back/,
      );
      expect(run.code).toBe(0);
    });
  },
);

describe("npm run preflight against an API that never answers", () => {
  it("finishes at its bound, with one line", { timeout: 60_000 }, async () => {
    const run = await against({ ...prodScenario(), hang: true }, [
      "--stack",
      "prod",
      "--timeout-ms",
      "1500",
    ]);
    // The line that names the bound comes only from the run's own deadline (--timeout-ms) firing.
    expect(lines(run)).toEqual([
      "problem  token: no answer from the Cloudflare API within 1.5 s → check the network and https://www.cloudflarestatus.com, then run preflight again",
    ]);
    // One request, the token's, left unanswered: nothing retried it and no other check went on waiting.
    expect(run.requests).toEqual([expect.stringContaining("/user/tokens/verify")]);
    noStackTrace(run);
    expect(run.code).toBe(1);
  });
});

describe.sequential("npm run preflight usage", { timeout: 120_000 }, () => {
  it.each([
    [["--stack", "prod", "--bogus"], "preflight: Unknown option '--bogus'"],
    [[], "preflight: --stack is required"],
    [["--stack", "nope"], 'preflight: unknown stack "nope": the stacks here are prod, staging'],
    [["--stack", "prod", "stray"], "preflight: Unexpected argument 'stray'"],
  ])("refuses %j with one line and the usage (exit 2)", async (args, message) => {
    const run = await preflight(args, {});
    expect(run.stderr.split("\n")[0]).toBe(message);
    expect(run.stderr).toContain("usage: npm run preflight -- --stack <name>");
    expect(run.stdout).toBe("");
    expect(run.code).toBe(2);
  });

  it("prints every option with --help (exit 0)", async () => {
    const run = await preflight(["--help"], {});
    for (const option of [
      "--stack",
      "--json",
      "--tunnel-id",
      "--carry-rules",
      "--timeout-ms",
      "--help",
    ])
      expect(run.stdout).toContain(option);
    expect(run.code).toBe(0);
  });
});

describe("the README's preflight section", () => {
  it("lists exactly the permissions REQUIRED_TOKEN_PERMISSIONS lists", () => {
    const readme = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
    const start = readme.indexOf("### Preflight: npm run preflight");
    const section = readme.slice(start, readme.indexOf("\n## ", start));
    expect(section.length).toBeGreaterThan(0);
    const listed = [...section.matchAll(/^\| *`([^`]+)` *\| *(zone|account) *\|/gm)].map((m) => [
      m[1],
      m[2],
    ]);
    expect(listed).toEqual(REQUIRED_TOKEN_PERMISSIONS.map((p) => [p.group, p.scope]));
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

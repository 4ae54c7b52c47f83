import { afterEach, describe, expect, it } from "vitest";
import type { StackSettings } from "../config/schema";
import { managedRuleRef } from "../rateLimitExpression";
import {
  startCloudflareApiStandIn,
  type StandIn,
  type StandInScenario,
} from "../../test/support/cloudflareApiStandIn";
import { loadStackSettings } from "../config/stackFiles";
import { rateLimitCheck } from "./rateLimit";
import { preflightClient } from "./run";

const TOKEN = "stand-in-token-for-the-rate-limit-check";
const ENTRY_POINT_ID = "2f2feab2026849078ba485f918791bdc";
const prod = loadStackSettings("prod");
const ownRule = {
  id: "8c7d1f1a2b3c4d5e6f708192a3b4c5d6",
  ref: managedRuleRef(0),
  expression: '(http.request.uri.path eq "/voice/ws")',
  action: "block",
  ratelimit: { characteristics: ["ip.src", "cf.colo.id"], period: 10, requests_per_period: 10 },
};
const keptRule = {
  id: "3a03d665bac047339bb530ecb439a90d",
  ref: "site_login_limit",
  expression: '(http.request.uri.path eq "/login")',
  action: "block",
  ratelimit: { characteristics: ["ip.src", "cf.colo.id"], period: 10, requests_per_period: 5 },
};

let standIn: StandIn | undefined;
afterEach(async () => standIn?.close());

async function check(
  rules: Record<string, unknown>[],
  rateLimit: Partial<NonNullable<StackSettings["rateLimit"]>>,
  plan: StackSettings["zone"]["plan"] = prod.zone.plan,
) {
  const scenario: StandInScenario = {
    accountId: prod.accountId,
    token: { value: TOKEN, id: "ed17574386854bf78a67040be0a770b0", owner: "user" },
    zone: { id: prod.zone.id, name: prod.zone.name, plan: prod.zone.plan },
    zeroTrust: true,
    ssl: "strict",
    rateLimitEntryPoint: { id: ENTRY_POINT_ID, rules },
    records: [],
    routes: [],
    tunnels: [],
  };
  standIn = await startCloudflareApiStandIn(scenario);
  const client = preflightClient({
    apiToken: TOKEN,
    baseURL: standIn.url,
    boundMs: 5_000,
    signal: new AbortController().signal,
  });
  const settings = {
    ...prod,
    zone: { ...prod.zone, plan },
    rateLimit: { ...prod.rateLimit!, ...rateLimit },
  };
  return rateLimitCheck.run({ client, stack: "prod", settings, tunnelId: async () => undefined });
}

describe("the rate-limit check with adoptRulesetId and keepRules", () => {
  it("warns to remove adoptRulesetId once the entry point holds the project's rules", async () => {
    const [result] = await check([ownRule], { adoptRulesetId: ENTRY_POINT_ID });
    expect(result).toMatchObject({
      status: "warning",
      message: expect.stringContaining("adopted"),
      action: "remove voice-edge:rateLimit → adoptRulesetId from Pulumi.prod.yaml",
    });
  });

  it("passes an entry point of carried rules that the next up adopts", async () => {
    const [result] = await check([keptRule], {
      adoptRulesetId: ENTRY_POINT_ID,
      keepRules: [
        {
          ref: "site_login_limit",
          expression: keptRule.expression,
          action: "block",
          enabled: true,
          ratelimit: {
            characteristics: ["ip.src", "cf.colo.id"],
            period: 10,
            requestsPerPeriod: 5,
          },
        },
      ],
    });
    expect(result).toMatchObject({
      status: "ok",
      message: expect.stringContaining("1 carried in keepRules; the next `pulumi up` adopts it"),
    });
  });

  it("refuses an adoptRulesetId that is not the zone's entry point", async () => {
    const [result] = await check([], { adoptRulesetId: "0123456789abcdef0123456789abcdef" });
    expect(result).toMatchObject({
      status: "problem",
      action: `set voice-edge:rateLimit → adoptRulesetId: ${ENTRY_POINT_ID} in Pulumi.prod.yaml`,
    });
  });
});

describe("the rate-limit check with a rule on the zone that is not the project's", () => {
  it("offers carrying it when the plan has room for it and the stack's own rules", async () => {
    const [result] = await check([keptRule], {}, "pro");
    expect(result).toMatchObject({
      status: "problem",
      action: expect.stringMatching(/^run `npm run preflight -- --stack prod --carry-rules`/),
    });
  });

  it("names the fixes that fit when the plan has no room to carry it", async () => {
    const [result] = await check([keptRule], {}, "free");
    expect(result.message).toContain(
      "carrying it does not fit: the free plan allows 1 rate-limiting rule(s), and this stack would need 2 (1 of its own, 1 to carry)",
    );
    expect(result.action?.split("; ")).toEqual([
      `delete that rule (dashboard → mycosoft.com → Security → WAF → Rate limiting rules), then set voice-edge:rateLimit → adoptRulesetId: ${ENTRY_POINT_ID} in Pulumi.prod.yaml for the first \`pulumi up\``,
      "or keep that rule and remove voice-edge:rateLimit from Pulumi.prod.yaml (this stack then declares no rate-limiting rules, and the voice paths are not rate-limited)",
      "or move mycosoft.com to the pro plan (and set voice-edge:zone → plan: pro), then carry that rule with --carry-rules",
    ]);
    expect(result.action).not.toContain("--carry-rules`, paste");
  });

  it("counts the rules keepRules already carries", async () => {
    const [result] = await check(
      [keptRule, { ...keptRule, id: "5b1f6e0c3d2a4b9e8f7a6c5d4e3b2a19", ref: "api_limit" }],
      {
        keepRules: [
          {
            ref: "site_login_limit",
            expression: keptRule.expression,
            action: "block",
            enabled: true,
            ratelimit: {
              characteristics: ["ip.src", "cf.colo.id"],
              period: 10,
              requestsPerPeriod: 5,
            },
          },
        ],
      },
      "pro",
    );
    expect(result.message).toContain(
      "the pro plan allows 2 rate-limiting rule(s), and this stack would need 3 (1 of its own, 1 in keepRules, 1 to carry)",
    );
    expect(result.action).toContain("or move mycosoft.com to the business plan");
  });
});

import type { Policy, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { runProgramOffline, Secret } from "../infra/offlineRun";
import { RESOURCE_TYPES as T } from "../infra/resourceTypes";
import { policyConfigFor } from "../tools/policyConfig";
import {
  compatibilityDateFresh,
  notificationsHaveMechanism,
  policies,
  secretBindingsAreSecret,
  serviceDnsProxied,
  workerRoutesRateLimited,
  zoneSettingsForVoice,
} from "./policies";

interface FakeResource {
  type: string;
  name?: string;
  props: Record<string, unknown>;
}

class NotApplicable extends Error {}

function policyResource(resource: FakeResource, config: object = {}) {
  return {
    type: resource.type,
    name: resource.name ?? "r",
    urn: `urn:pulumi:test::voice-edge::${resource.type}::${resource.name ?? "r"}`,
    props: resource.props,
    opts: {},
    stackTags: new Map<string, string>(),
    dependencies: [],
    propertyDependencies: {},
    isType: (cls: { __pulumiType?: string }) => cls.__pulumiType === resource.type,
    asType: () => resource.props,
    getConfig: () => config,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
}

/** Runs one resource policy the way the engine would, returning the violations it reported. */
async function violationsOf(
  policy: ResourceValidationPolicy,
  resource: FakeResource,
): Promise<string[]> {
  const reported: string[] = [];
  const validations = [policy.validateResource!].flat();
  for (const validate of validations) {
    try {
      await validate(policyResource(resource) as never, (message: string) =>
        reported.push(message),
      );
    } catch (error) {
      if (!(error instanceof NotApplicable)) throw error;
    }
  }
  return reported;
}

async function stackViolationsOf(
  policy: StackValidationPolicy,
  resources: FakeResource[],
  config: object = {},
): Promise<string[]> {
  const reported: string[] = [];
  await policy.validateStack(
    {
      resources: resources.map((r) => policyResource(r, config)),
      getConfig: () => config,
    } as never,
    (message: string) => reported.push(message),
  );
  return reported;
}

describe("each policy passes compliant resources and reports non-compliant ones", () => {
  const today = new Date().toISOString().slice(0, 10);
  const lastYear = new Date(Date.now() - 400 * 24 * 3600 * 1000).toISOString().slice(0, 10);
  const script = (bindingType: string) => ({
    bindings: [{ name: "JWT_SECRET", type: bindingType }],
    compatibilityDate: "2026-04-01",
  });

  it.each([
    {
      policy: zoneSettingsForVoice,
      type: T.zoneSetting,
      passes: { settingId: "ssl", value: "strict" },
      fails: { settingId: "websockets", value: "off" },
      reports: ['zone setting websockets must be "on" for the voice service, not "off"'],
    },
    {
      policy: serviceDnsProxied,
      type: T.dnsRecord,
      passes: { name: "voice-origin.mycosoft.com", type: "CNAME", proxied: true },
      fails: { name: "voice-origin.mycosoft.com", type: "CNAME", proxied: false },
      reports: [
        expect.stringMatching(/^DNS record voice-origin\.mycosoft\.com \(CNAME\) must be proxied/),
      ],
    },
    {
      policy: secretBindingsAreSecret,
      type: T.script,
      passes: script("secret_text"),
      fails: script("plain_text"),
      reports: [
        "binding JWT_SECRET looks secret but is plain_text: use secret_text so the value is encrypted and never shown",
      ],
    },
    {
      policy: notificationsHaveMechanism,
      type: T.notification,
      passes: { name: "n", mechanisms: { emails: [{ id: "ops@mycosoft.com" }] } },
      fails: { name: "n", mechanisms: {} },
      reports: ["notification policy n has no mechanism: nobody would be told"],
    },
    {
      policy: compatibilityDateFresh,
      type: T.script,
      passes: { compatibilityDate: today },
      fails: { compatibilityDate: lastYear },
      reports: [expect.stringContaining(`compatibility date ${lastYear} is `)],
    },
  ])("$policy.name", async ({ policy, type, passes, fails, reports }) => {
    expect(await violationsOf(policy, { type, props: passes })).toEqual([]);
    expect(await violationsOf(policy, { type, props: fails })).toEqual(reports);
  });

  it("worker-compatibility-date-fresh is advisory", () => {
    expect(compatibilityDateFresh.enforcementLevel).toBe("advisory");
  });

  it("ignores resources of other types", async () => {
    expect(
      await violationsOf(zoneSettingsForVoice, {
        type: T.dnsRecord,
        props: { settingId: "websockets", value: "off" },
      }),
    ).toEqual([]);
  });

  it("worker-routes-rate-limited, within the stack and through its config", async () => {
    const route = { type: T.route, props: { pattern: "mycosoft.com/voice/*" } };
    const ruleset = {
      type: T.ruleset,
      props: {
        phase: "http_ratelimit",
        rules: [{ expression: '(http.request.uri.path eq "/voice/ws")' }],
      },
    };
    expect(await stackViolationsOf(workerRoutesRateLimited, [route, ruleset])).toEqual([]);
    expect(await stackViolationsOf(workerRoutesRateLimited, [route])).toHaveLength(1);
    expect(
      await stackViolationsOf(workerRoutesRateLimited, [route], {
        coveredElsewhere: ["mycosoft.com/voice/*"],
      }),
    ).toEqual([]);
  });

  it("all mandatory but the compatibility-date rule", () => {
    expect(policies.map((p: Policy) => [p.name, p.enforcementLevel])).toEqual([
      ["zone-settings-for-voice", "mandatory"],
      ["service-dns-proxied", "mandatory"],
      ["worker-routes-rate-limited", "mandatory"],
      ["secret-bindings-are-secret-text", "mandatory"],
      ["notifications-have-a-mechanism", "mandatory"],
      ["worker-compatibility-date-fresh", "advisory"],
    ]);
  });
});

const reveal = (value: unknown): unknown =>
  value instanceof Secret
    ? reveal(value.value)
    : Array.isArray(value)
      ? value.map(reveal)
      : value && typeof value === "object"
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]))
        : value;

describe("the fixture stacks pass the whole pack", () => {
  const lineCode = "export class FleetLine {}\nexport default {};\n";
  const withLine = {
    override: { "voice-edge:line": { enabled: true } },
    lineBundle: { code: lineCode, sizeBytes: lineCode.length, sha256: "0".repeat(64), path: "" },
  };
  it.each([
    ["prod", "", {}],
    ["staging", "", {}],
    ["prod", " and the line on (its own script)", withLine],
  ])("%s%s, with its generated policy config, has no violations", async (stack, _line, options) => {
    const run = await runProgramOffline(stack, options);
    expect(run.resources.length).toBeGreaterThan(0);
    const resources: FakeResource[] = run.resources.map((r) => ({
      type: r.type,
      name: r.name,
      props: reveal(r.inputs) as Record<string, unknown>,
    }));
    const config = policyConfigFor(stack)["worker-routes-rate-limited"] as object;
    const violations: string[] = [];
    for (const policy of policies) {
      if ("validateStack" in policy)
        violations.push(
          ...(await stackViolationsOf(policy as StackValidationPolicy, resources, config)),
        );
      else
        for (const resource of resources)
          violations.push(...(await violationsOf(policy as ResourceValidationPolicy, resource)));
    }
    expect(violations).toEqual([]);
  });

  it("staging's route counts as covered only through prod's rule", () => {
    expect(policyConfigFor("staging")).toEqual({
      "worker-routes-rate-limited": { coveredElsewhere: ["voice-staging.mycosoft.com/voice/*"] },
    });
    expect(policyConfigFor("prod")).toEqual({
      "worker-routes-rate-limited": { coveredElsewhere: [] },
    });
  });
});

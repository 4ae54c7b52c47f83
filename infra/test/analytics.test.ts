import { describe, expect, it } from "vitest";
import { POINTS_BINDING, VISITOR_KEY_BINDING } from "../../worker/src/analytics/points";
import { runProgramOffline, Secret, type ProgramRun } from "../offlineRun";
import { oneResource as one, RESOURCE_TYPES as T } from "../resourceTypes";
import { EDGE_BINDING_KINDS } from "./expectedBindings";
import { bindingsOf, expectUrnsOfBefore, refusal, type WorkerBinding } from "./programRun";

const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 5).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
  "cloudflare:apiToken": "cf-token-for-tests",
};
const VISITOR_KEY = "visitor-key-0123456789-abcdefghijklmnop";

const pointsOf = (bindings: WorkerBinding[]) =>
  bindings.filter((b) => b.name === POINTS_BINDING || b.name === VISITOR_KEY_BINDING);
const lineBindings = (run: ProgramRun) =>
  (one(run, T.script, "voice-edge-line").inputs.bindings as Secret).value as WorkerBinding[];

describe("voice-edge:analytics not set (every stack file as shipped)", () => {
  it.each(["prod", "staging"])(
    "%s: no dataset bound, the edge Worker's bindings are exactly today's",
    async (stack) => {
      const run = await runProgramOffline(stack, { secrets: SECRETS });
      const bindings = bindingsOf(run);
      expect(pointsOf(bindings)).toEqual([]);
      expect(bindings.slice(0, EDGE_BINDING_KINDS.length).map((b) => [b.name, b.type])).toEqual(
        EDGE_BINDING_KINDS,
      );
    },
  );

  it.each(["prod", "staging"])(
    "%s claims each URN of the stack from before the points exactly once, and no other",
    async (stack) => {
      expectUrnsOfBefore(stack, await runProgramOffline(stack, { secrets: SECRETS }));
    },
  );
});

describe("voice-edge:analytics.dataset set", () => {
  it("binds the dataset to the edge Worker as analytics_engine, after today's bindings; no resource added", async () => {
    const off = await runProgramOffline("prod", { secrets: SECRETS });
    const run = await runProgramOffline("prod", {
      secrets: SECRETS,
      override: { "voice-edge:analytics": { dataset: "voice_edge_prod" } },
    });
    expect(run.resources.map((r) => r.urn)).toEqual(off.resources.map((r) => r.urn));
    const bindings = bindingsOf(run);
    expect(pointsOf(bindings)).toEqual([
      { name: POINTS_BINDING, type: "analytics_engine", dataset: "voice_edge_prod" },
    ]);
    expect(bindings.slice(0, -1)).toEqual(bindingsOf(off));
  });

  it("binds the visitor key as a secret_text beside it when the secret is set", async () => {
    const run = await runProgramOffline("prod", {
      secrets: { ...SECRETS, analyticsVisitorKey: VISITOR_KEY },
      override: { "voice-edge:analytics": { dataset: "voice_edge_prod" } },
    });
    expect(pointsOf(bindingsOf(run))).toEqual([
      { name: POINTS_BINDING, type: "analytics_engine", dataset: "voice_edge_prod" },
      { name: VISITOR_KEY_BINDING, type: "secret_text", text: VISITOR_KEY },
    ]);
  });

  it("binds it to the line's script too, without the visitor key", async () => {
    const run = await runProgramOffline("prod", {
      secrets: { ...SECRETS, analyticsVisitorKey: VISITOR_KEY },
      override: {
        "voice-edge:analytics": { dataset: "voice_edge_prod" },
        "voice-edge:line": { enabled: true },
      },
    });
    expect(pointsOf(lineBindings(run))).toEqual([
      { name: POINTS_BINDING, type: "analytics_engine", dataset: "voice_edge_prod" },
    ]);
    expect(pointsOf(bindingsOf(run)).map((b) => b.name)).toEqual([
      POINTS_BINDING,
      VISITOR_KEY_BINDING,
    ]);
  });

  it("leaves the line's script without it when the dataset is not set", async () => {
    const run = await runProgramOffline("prod", {
      secrets: SECRETS,
      override: { "voice-edge:line": { enabled: true } },
    });
    expect(pointsOf(lineBindings(run))).toEqual([]);
  });
});

describe("voice-edge:analytics errors name the key and the file", () => {
  it.each([
    ["a dash", "voice-edge-prod"],
    ["a leading digit", "1voice"],
    ["an empty name", ""],
    ["65 characters", `a${"b".repeat(64)}`],
  ])("refuses a dataset name with %s", async (_what, dataset) => {
    const message = await refusal("prod", {
      secrets: SECRETS,
      override: { "voice-edge:analytics": { dataset } },
    });
    expect(message).toContain("Pulumi.prod.yaml");
    expect(message).toContain(
      "voice-edge:analytics → dataset: must be 1 to 64 letters, digits and underscores, starting with a letter",
    );
  });

  it("refuses an unknown key, naming the known ones", async () => {
    const message = await refusal("prod", {
      secrets: SECRETS,
      override: { "voice-edge:analytics": { dataset: "voice_edge_prod", visitor: "x" } },
    });
    expect(message).toContain("voice-edge:analytics → visitor: unknown key; known: dataset");
  });

  it("refuses a visitor key without a dataset", async () => {
    const message = await refusal("prod", {
      secrets: { ...SECRETS, analyticsVisitorKey: VISITOR_KEY },
    });
    expect(message).toContain("Pulumi.prod.yaml");
    expect(message).toContain(
      "voice-edge:analyticsVisitorKey: is set but voice-edge:analytics.dataset is not",
    );
    expect(message).not.toContain(VISITOR_KEY);
  });

  it("refuses a short visitor key without echoing it", async () => {
    const message = await refusal("prod", {
      secrets: { ...SECRETS, analyticsVisitorKey: "short-key" },
      override: { "voice-edge:analytics": { dataset: "voice_edge_prod" } },
    });
    expect(message).toContain("voice-edge:analyticsVisitorKey: must be at least 32 characters");
    expect(message).not.toContain("short-key");
  });
});

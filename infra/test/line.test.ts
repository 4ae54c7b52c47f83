import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { WorkerBundle } from "../../worker/build";
import { LINE_BINDINGS, LINE_CLASS_NAME, lineScriptName } from "../../worker/src/line/contract";
import { loadStackSettings } from "../config/stackFiles";
import { LineScriptReadError, type LiveLineScript } from "../lineMigrations";
import { runProgramOffline, Secret, type ProgramRun, type RunOptions } from "../offlineRun";
import { inventory, oneResource as one, RESOURCE_TYPES as T } from "../resourceTypes";
import { validateLine } from "../voiceEdgeArgs";
import { EDGE_BINDING_KINDS } from "./expectedBindings";
import { bindingsOf, expectUrnsOfBefore, refusal, type WorkerBinding } from "./programRun";

const SECRETS = {
  jwtSecret: "jwt-secret-0123456789-abcdefghijklmnop",
  tunnelSecret: Buffer.alloc(32, 5).toString("base64"),
  alertWebhookUrl: "https://hooks.slack.com/services/T000/B000/test",
  "cloudflare:apiToken": "cf-token-for-tests",
};

/** A coordinator of the tests' own: any ES module exporting a class named FleetLine. */
function lineBundle(code = `export class FleetLine {}\nexport default {};\n`): WorkerBundle {
  return {
    code,
    sizeBytes: Buffer.byteLength(code),
    sha256: createHash("sha256").update(code).digest("hex"),
    path: "test-line.mjs",
  };
}
const LINE_BUNDLE = lineBundle();

function withLine(
  line: Record<string, unknown> = { enabled: true },
  options: Partial<RunOptions> = {},
  override: Record<string, unknown> = {},
): RunOptions {
  return {
    secrets: SECRETS,
    lineBundle: LINE_BUNDLE,
    ...options,
    override: { "voice-edge:line": line, ...override },
  };
}

const lineBindings = (run: ProgramRun) =>
  (one(run, T.script, "voice-edge-line").inputs.bindings as Secret).value as WorkerBinding[];
const byName = (bindings: WorkerBinding[]) => Object.fromEntries(bindings.map((b) => [b.name, b]));

describe("the line off (every stack without voice-edge:line, and enabled: false)", () => {
  it.each([
    ["prod", {}],
    ["staging", {}],
    ["prod", { "voice-edge:line": { enabled: false, maxWaiting: 50 } }],
  ])(
    "%s %j: no line script, and the edge Worker has exactly its bindings and no dependency on one",
    async (stack, override) => {
      const run = await runProgramOffline(stack, {
        secrets: SECRETS,
        override,
        // Neither is asked for when the line is off.
        liveLineScript: () => Promise.reject(new Error("the live tag was read with the line off")),
        lineBundle: { code: "", sizeBytes: 0, sha256: "", path: "" },
      });
      expect(run.resources.filter((r) => r.type === T.script).map((r) => r.name)).toEqual([
        "voice-edge-worker",
      ]);
      const bindings = bindingsOf(run);
      expect(bindings.map((b) => b.name)).not.toContain(LINE_BINDINGS.coordinator);
      expect(bindings.slice(0, EDGE_BINDING_KINDS.length).map((b) => [b.name, b.type])).toEqual(
        EDGE_BINDING_KINDS,
      );
      expect(one(run, T.script, "voice-edge-worker").dependsOn).not.toContain("voice-edge-line");
    },
  );

  it.each(["prod", "staging"])(
    "%s with enabled: false claims each URN of the stack from before the line exactly once, and no other",
    async (stack) => {
      const run = await runProgramOffline(stack, {
        secrets: SECRETS,
        override: { "voice-edge:line": { enabled: false } },
      });
      expectUrnsOfBefore(stack, run);
    },
  );

  it("is what a stack file without the key gets: enabled false, the coordinator's defaults", () => {
    expect(loadStackSettings("prod").line).toEqual({
      enabled: false,
      holdSeconds: 15,
      maxWaiting: 1000,
      maxSessionsPerSubject: 1,
      rejoinGraceSeconds: 30,
    });
  });
});

describe("the line on, on a first up (no line script in the account yet)", () => {
  let run: ProgramRun;
  let off: ProgramRun;
  beforeAll(async () => {
    run = await runProgramOffline(
      "prod",
      withLine({ enabled: true, holdSeconds: 20, maxSessionMinutes: 10 }),
    );
    off = await runProgramOffline("prod", { secrets: SECRETS });
  });

  it("adds one resource, the line script, as a child of the component", () => {
    expect(inventory(run)).toEqual([...inventory(off), "WorkersScript voice-edge-line"].sort());
    const script = one(run, T.script, "voice-edge-line");
    expect(script.parent).toBe("voice-edge");
    expect(script.urn).toBe(
      "urn:pulumi:prod::voice-edge::voice-edge:index:VoiceEdge$cloudflare:index/workersScript:WorkersScript::voice-edge-line",
    );
  });

  it("uploads the line bundle as <workerName>-line with the edge's compatibility date, and applies migration v1", () => {
    const inputs = one(run, T.script, "voice-edge-line").inputs;
    const edge = one(run, T.script, "voice-edge-worker").inputs;
    expect(inputs).toMatchObject({
      accountId: "00000000000000000000000000000000",
      scriptName: lineScriptName("voice-edge-prod"),
      content: LINE_BUNDLE.code,
      mainModule: "line.mjs",
      compatibilityDate: edge.compatibilityDate,
      migrations: { newTag: "v1", steps: [{ newSqliteClasses: [LINE_CLASS_NAME] }] },
    });
    expect(inputs.scriptName).toBe("voice-edge-prod-line");
    expect(inputs.migrations).not.toHaveProperty("oldTag");
  });

  it("binds the line's settings, the fleet and the edge's own Access service token", () => {
    const bindings = lineBindings(run);
    expect(bindings.map((b) => [b.name, b.type])).toEqual([
      [LINE_BINDINGS.settings, "json"],
      ["BRIDGES", "json"],
      ["BRIDGE_ACCESS_CLIENT_ID", "secret_text"],
      ["BRIDGE_ACCESS_CLIENT_SECRET", "secret_text"],
    ]);
    const line = byName(bindings);
    const edge = byName(bindingsOf(run));
    expect(JSON.parse(line.LINE_CONFIG.json!)).toEqual({
      holdSeconds: 20,
      maxWaiting: 1000,
      maxSessionsPerSubject: 1,
      rejoinGraceSeconds: 30,
      maxSessionMinutes: 10,
    });
    // The tunnel form's one bridge: the URLs the edge has as BRIDGE_URL and its health URL.
    expect(JSON.parse(line.BRIDGES.json!)).toEqual([
      {
        name: "bridge",
        url: edge.BRIDGE_URL.text,
        healthUrl: JSON.parse(edge.EDGE_CONFIG.json!).bridgeHealthUrl,
      },
    ]);
    expect(line.BRIDGE_ACCESS_CLIENT_ID.text).toBe(edge.BRIDGE_ACCESS_CLIENT_ID.text);
    expect(line.BRIDGE_ACCESS_CLIENT_SECRET.text).toBe(edge.BRIDGE_ACCESS_CLIENT_SECRET.text);
  });

  it("binds the edge Worker to the class in the line script, after its other bindings, and uploads it after the line script", () => {
    const edgeOff = bindingsOf(off);
    const edge = bindingsOf(run);
    expect(edge.slice(0, -1)).toEqual(edgeOff);
    expect(edge.at(-1)).toEqual({
      type: "durable_object_namespace",
      name: LINE_BINDINGS.coordinator,
      className: LINE_CLASS_NAME,
      scriptName: "voice-edge-prod-line",
    });
    expect(one(run, T.script, "voice-edge-worker").dependsOn).toContain("voice-edge-line");
  });
});

describe("the line's migrations follow the account's live tag", () => {
  const migrationsFor = async (liveLineScript: LiveLineScript) =>
    one(
      await runProgramOffline("prod", withLine({ enabled: true }, { liveLineScript })),
      T.script,
      "voice-edge-line",
    ).inputs.migrations;

  it("declares none once v1 is live (a second up, with any bundle)", async () => {
    expect(await migrationsFor({ exists: true, migrationTag: "v1" })).toBeUndefined();
  });

  it("declares all of them, without oldTag, for a script that exists without a tag", async () => {
    expect(await migrationsFor({ exists: true, migrationTag: null })).toEqual({
      newTag: "v1",
      steps: [{ newSqliteClasses: [LINE_CLASS_NAME] }],
    });
  });

  it("refuses a live tag it does not know before declaring anything", async () => {
    const message = await refusal(
      "prod",
      withLine({ enabled: true }, { liveLineScript: { exists: true, migrationTag: "v9" } }),
    );
    expect(message).toContain(
      'line.liveScript.migrationTag: the line script voice-edge-prod-line carries Durable Object migration tag "v9"',
    );
  });

  it("fails closed, declaring nothing, when the live tag cannot be read", async () => {
    const message = await refusal(
      "prod",
      withLine(
        { enabled: true },
        {
          liveLineScript: () =>
            Promise.reject(new LineScriptReadError("voice-edge-prod-line", "HTTP 403")),
        },
      ),
    );
    expect(message).toMatch(
      /^cannot read the line script voice-edge-prod-line's Durable Object migration tag \(HTTP 403\); the program declares nothing/,
    );
  });
});

describe("the line with a list of bridges", () => {
  it("gets the same BRIDGES the edge Worker gets", async () => {
    const run = await runProgramOffline(
      "prod",
      withLine(
        { enabled: true },
        {},
        {
          "voice-edge:tunnel": undefined,
          "voice-edge:bridges": [
            { name: "gpu-1", originHostname: "voice-gpu-1.mycosoft.com" },
            { name: "gpu-2", originHostname: "voice-gpu-2.mycosoft.com" },
          ],
        },
      ),
    );
    expect(byName(lineBindings(run)).BRIDGES.json).toBe(byName(bindingsOf(run)).BRIDGES.json);
    expect(JSON.parse(byName(lineBindings(run)).BRIDGES.json!)).toHaveLength(2);
  });
});

describe("line settings the stack refuses, naming the key, the file and what is allowed", () => {
  it.each([
    [
      { enabled: true, holdSeconds: 2 },
      "voice-edge:line → holdSeconds: Too small: expected number to be >=5",
    ],
    [
      { enabled: true, maxWaiting: 20_000 },
      "voice-edge:line → maxWaiting: Too big: expected number to be <=10000",
    ],
    [
      { enabled: "yes" },
      "voice-edge:line → enabled: Invalid input: expected boolean, received string",
    ],
    [
      { enabled: true, queue: 3 },
      "voice-edge:line → queue: unknown key; known: enabled, holdSeconds, maxWaiting, maxSessionsPerSubject, rejoinGraceSeconds, maxSessionMinutes",
    ],
  ])("%j", async (line, problem) => {
    const message = await refusal("prod", withLine(line));
    expect(message).toContain('Invalid configuration for stack "prod" (Pulumi.prod.yaml)');
    expect(message).toContain(problem);
  });

  it("the line without token auth: its places and bounds are per subject", async () => {
    const edge = loadStackSettings("prod").edge;
    const message = await refusal(
      "prod",
      withLine({ enabled: true }, {}, { "voice-edge:edge": { ...edge, auth: { mode: "off" } } }),
    );
    expect(message).toContain("voice-edge:line → enabled: needs edge.auth.mode: jwt (it is off)");
  });
});

describe("the component's line argument (a program of one's own)", () => {
  const settings = (enabled: boolean) => ({
    ...loadStackSettings("prod"),
    line: { ...loadStackSettings("prod").line, enabled },
  });

  it("is required with the line on and refused with it off", () => {
    expect(validateLine(settings(true), undefined).problems).toEqual([
      expect.stringMatching(
        /^line: settings\.line\.enabled is true: pass line: \{ bundle: await buildLineBundle\(\)/,
      ),
    ]);
    expect(
      validateLine(settings(false), { bundle: LINE_BUNDLE, liveScript: { exists: false } })
        .problems,
    ).toEqual(["line: settings.line.enabled is false: leave line out, or turn the line on"]);
  });

  it("names a broken bundle and live script", () => {
    expect(
      validateLine(settings(true), {
        bundle: { code: "", sha256: "x", sizeBytes: 0 },
        liveScript: { exists: true },
      }).problems,
    ).toEqual([
      "line.bundle.code: must be the bundled Worker's source (`await buildLineBundle()`)",
      "line.bundle.sha256: must be the bundle's SHA-256 in hex",
      "line.liveScript: must be { exists: false } or { exists: true, migrationTag: string | null } (`await readLiveLineScript(…)`)",
    ]);
  });
});

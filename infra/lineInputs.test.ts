import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startCloudflareApiStandIn, type StandIn } from "../test/support/cloudflareApiStandIn";
import { bundleModule } from "../worker/build";
import { accountLineInputs, answerLineInputsOffline, lineProgramInputs } from "./lineInputs";

const ACCOUNT = "b".repeat(32);
const TOKEN = "line-inputs-test-token";

describe("what `pulumi up` reads before declaring the line", () => {
  let standIn: StandIn | undefined;
  afterEach(async () => {
    vi.unstubAllEnvs();
    await standIn?.close();
    standIn = undefined;
  });

  it("reads the live tag with CLOUDFLARE_API_TOKEN when no cloudflare:apiToken is set, at CLOUDFLARE_BASE_URL", async () => {
    standIn = await startCloudflareApiStandIn({
      accountId: ACCOUNT,
      token: { value: TOKEN, id: "2".repeat(32), owner: "user" },
      zeroTrust: true,
      ssl: "strict",
      records: [],
      routes: [],
      tunnels: [],
      scripts: [{ id: "edge-line", migrationTag: "v1", classes: ["FleetLine"] }],
    });
    vi.stubEnv("CLOUDFLARE_API_TOKEN", TOKEN);
    vi.stubEnv("CLOUDFLARE_BASE_URL", standIn.url);
    await expect(accountLineInputs(undefined).liveScript(ACCOUNT, "edge-line")).resolves.toEqual({
      exists: true,
      migrationTag: "v1",
    });
    await expect(accountLineInputs(TOKEN).liveScript(ACCOUNT, "other-line")).resolves.toEqual({
      exists: false,
    });
  });

  it("stops with one line when there is no token at all", async () => {
    vi.stubEnv("CLOUDFLARE_API_TOKEN", undefined as unknown as string);
    await expect(accountLineInputs(undefined).liveScript(ACCOUNT, "edge-line")).rejects.toThrow(
      /^cannot read the line script edge-line's Durable Object migration tag: neither cloudflare:apiToken nor CLOUDFLARE_API_TOKEN is set$/,
    );
  });

  it("are the offline run's answers only while it runs", async () => {
    const offline = {
      bundle: () => Promise.reject(new Error("offline")),
      liveScript: () => Promise.resolve({ exists: false as const }),
    };
    const restore = answerLineInputsOffline(offline);
    expect(lineProgramInputs(TOKEN)).toBe(offline);
    restore();
    expect(lineProgramInputs(TOKEN)).not.toBe(offline);
  });
});

describe("bundleModule, the build the edge's and the line's bundles share", () => {
  it("bundles another entry into one ES module exporting its classes, written where asked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "voice-edge-line-bundle-"));
    try {
      writeFileSync(join(dir, "name.ts"), `export const NAME: string = "FleetLine";\n`);
      writeFileSync(
        join(dir, "entry.ts"),
        `import { NAME } from "./name";\nexport class FleetLine { name = NAME; }\nexport default { fetch: () => new Response(NAME) };\n`,
      );
      const bundle = await bundleModule(join(dir, "entry.ts"), { outfile: join(dir, "out.mjs") });
      expect(readFileSync(join(dir, "out.mjs"), "utf8")).toBe(bundle.code);
      expect(bundle.sizeBytes).toBe(Buffer.byteLength(bundle.code));
      const module = (await import(join(dir, "out.mjs"))) as { FleetLine: new () => object };
      expect(new module.FleetLine()).toEqual({ name: "FleetLine" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { moduleSwapPlugin, type ModuleSwaps } from "./moduleSwap";

// A project of its own, so these cases never depend on the Worker's source text.
const project = mkdtempSync(join(tmpdir(), "voice-edge-module-swap-"));
const files: Record<string, string> = {
  "src/index.ts":
    'import { greet } from "./greet";\nimport { name } from "./names/index";\nexport const line = greet(name);\n',
  "src/greet.ts": "export const greet = (who: string) => `hello ${who}`;\n",
  "src/names/index.ts": 'export const name = "edge";\n',
  "seams/greet.ts":
    'import { greet as real } from "../src/greet";\nexport const greet: typeof real = (who) => `stand-in for ${real(who)}`;\n',
  "seams/unused.ts": "export {};\n",
  "src/unused.ts": "export {};\n",
};
for (const [path, text] of Object.entries(files)) {
  mkdirSync(join(project, path, ".."), { recursive: true });
  writeFileSync(join(project, path), text);
}

async function bundle(swaps: ModuleSwaps, mustReach?: string[]): Promise<string> {
  const result = await build({
    entryPoints: [join(project, "src", "index.ts")],
    bundle: true,
    format: "esm",
    write: false,
    logLevel: "silent",
    plugins: [
      moduleSwapPlugin(swaps, { projectRoot: project, root: join(project, "src"), mustReach }),
    ],
  });
  const module = await import(
    `data:text/javascript,${encodeURIComponent(result.outputFiles[0].text)}`
  );
  return module.line as string;
}

describe("the ablation's module seams", () => {
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it("leaves the bundle as it is with no swaps", async () => {
    expect(await bundle({})).toBe("hello edge");
  });

  it("hands the sources' import the stand-in, and the stand-in the real module", async () => {
    expect(await bundle({ "src/greet.ts": "seams/greet.ts" })).toBe("stand-in for hello edge");
  });

  it("fails the build naming a swapped module nothing imports", async () => {
    await expect(bundle({ "src/unused.ts": "seams/unused.ts" })).rejects.toThrow(
      "nothing under src imports src/unused.ts any more",
    );
    expect(
      await bundle({ "src/greet.ts": "seams/greet.ts", "src/unused.ts": "seams/unused.ts" }, [
        "src/greet.ts",
      ]),
    ).toBe("stand-in for hello edge");
  });

  it("refuses a module or a stand-in that does not exist, by name", () => {
    const options = { projectRoot: project, root: join(project, "src") };
    expect(() => moduleSwapPlugin({ "src/gone.ts": "seams/greet.ts" }, options)).toThrow(
      "the module src/gone.ts does not exist",
    );
    expect(() => moduleSwapPlugin({ "src/greet.ts": "seams/gone.ts" }, options)).toThrow(
      "the stand-in seams/gone.ts does not exist",
    );
  });
});

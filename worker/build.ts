import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const workerDir = dirname(fileURLToPath(import.meta.url));

export const WORKER_ENTRY = join(workerDir, "src", "index.ts");
export const BUNDLE_PATH = resolve(workerDir, "..", "dist", "worker.mjs");
/** The module name the bundle is uploaded under; Pulumi's `mainModule` and Miniflare both use it. */
export const BUNDLE_MODULE_NAME = "worker.mjs";

/** The waiting line's script (`<workerName>-line`): the coordinator's Durable Object class. */
export const LINE_ENTRY = join(workerDir, "src", "line", "index.ts");
export const LINE_BUNDLE_PATH = resolve(workerDir, "..", "dist", "line.mjs");
export const LINE_BUNDLE_MODULE_NAME = "line.mjs";

/** The client kit: one ES module for pages, built from kit/voice.ts and served by the edge (worker/src/kit.ts). */
export const KIT_ENTRY = resolve(workerDir, "..", "kit", "voice.ts");
export const KIT_BUNDLE_PATH = resolve(workerDir, "..", "dist", "kit", "voice.mjs");
/** The module the Worker imports to serve the kit's bytes (declared in worker/src/voiceKitModule.d.ts). */
export const KIT_VIRTUAL_MODULE = "voice-kit:module";

export interface WorkerBundle {
  code: string;
  sizeBytes: number;
  sha256: string;
  path: string;
}

export interface BundleOptions {
  outfile?: string;
  /** Readable names, for a profile only: never uploaded. */
  unminified?: boolean;
  /** esbuild plugins for a bench variant only (`npm run bench:ablation`'s module swaps): never uploaded. */
  plugins?: Plugin[];
}

/**
 * The one build of the Worker: what Pulumi uploads, what `npm run dev` runs and what the
 * tests run are these same bytes.
 */
export function buildWorkerBundle(options: BundleOptions = {}): Promise<WorkerBundle> {
  return bundleModule(WORKER_ENTRY, {
    ...options,
    outfile: options.outfile ?? BUNDLE_PATH,
    plugins: [kitModulePlugin(), ...(options.plugins ?? [])],
  });
}

/**
 * The client kit for browsers: ES2020, not minified (sites read what they import), no dependencies.
 * With `declarations`, also `voice.d.ts` beside it (TypeScript's per-file declaration emit).
 */
export async function buildKit(
  options: { outfile?: string; declarations?: boolean } = {},
): Promise<WorkerBundle> {
  const outfile = options.outfile ?? KIT_BUNDLE_PATH;
  const result = await build({
    entryPoints: [KIT_ENTRY],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: false,
    legalComments: "inline",
    banner: {
      js: "// voice-edge client kit v1 (kit/voice.ts): a guide in docs/client-kit.md, types in voice.d.ts beside it.",
    },
    write: false,
    logLevel: "silent",
  });
  const built = await writeBundle(outfile, result.outputFiles[0].contents);
  if (options.declarations) {
    const ts = (await import("typescript")).default;
    const { outputText } = ts.transpileDeclaration(await readFile(KIT_ENTRY, "utf8"), {
      fileName: KIT_ENTRY,
      compilerOptions: { target: ts.ScriptTarget.ES2020, lib: ["lib.es2020.d.ts", "lib.dom.d.ts"] },
      reportDiagnostics: false,
    });
    await writeAtomically(outfile.replace(/\.mjs$/, ".d.ts"), new TextEncoder().encode(outputText));
  }
  return built;
}

/** Resolves KIT_VIRTUAL_MODULE to the kit's text and its SHA-256, built now: the Worker serves these bytes. */
function kitModulePlugin(): Plugin {
  return {
    name: "voice-kit-module",
    setup(builder) {
      builder.onResolve({ filter: new RegExp(`^${KIT_VIRTUAL_MODULE}$`) }, (args) => ({
        path: args.path,
        namespace: "voice-kit",
      }));
      builder.onLoad({ filter: /.*/, namespace: "voice-kit" }, async () => {
        const kit = await buildKit();
        return {
          contents: `export const KIT_MODULE_TEXT = ${JSON.stringify(kit.code)};\nexport const KIT_MODULE_SHA256 = ${JSON.stringify(kit.sha256)};\n`,
          loader: "js",
        };
      });
    },
  };
}

/** The line script's build: the same settings as the Worker's, from its own entry. */
export function buildLineBundle(options: BundleOptions = {}): Promise<WorkerBundle> {
  return bundleModule(LINE_ENTRY, { ...options, outfile: options.outfile ?? LINE_BUNDLE_PATH });
}

/** One ES module for the Workers runtime from `entry`, with the options every uploaded script shares. */
export async function bundleModule(
  entry: string,
  options: BundleOptions & { outfile: string },
): Promise<WorkerBundle> {
  const { outfile } = options;
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    minify: !options.unminified,
    legalComments: "none",
    write: false,
    logLevel: "silent",
    // The runtime's own modules (`cloudflare:workers` for the Durable Object class).
    external: ["cloudflare:*"],
    plugins: options.plugins ?? [],
  });
  return writeBundle(outfile, result.outputFiles[0].contents);
}

async function writeAtomically(outfile: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(outfile), { recursive: true });
  // Write then rename: builds running side by side (tests, Pulumi) never see a half-written bundle.
  const partial = `${outfile}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(partial, bytes);
  await rename(partial, outfile);
}

async function writeBundle(outfile: string, bytes: Uint8Array): Promise<WorkerBundle> {
  await writeAtomically(outfile, bytes);
  return {
    code: new TextDecoder().decode(bytes),
    sizeBytes: bytes.byteLength,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    path: outfile,
  };
}

export function describeBundle(built: WorkerBundle, what = "worker"): string {
  return `${what} bundle ${built.path}: ${(built.sizeBytes / 1024).toFixed(1)} KiB (${built.sizeBytes} bytes), sha256 ${built.sha256.slice(0, 16)}…`;
}

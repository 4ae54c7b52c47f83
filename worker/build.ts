import { createHash } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
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
  return bundleModule(WORKER_ENTRY, { ...options, outfile: options.outfile ?? BUNDLE_PATH });
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
  const bytes = result.outputFiles[0].contents;
  await mkdir(dirname(outfile), { recursive: true });
  // Write then rename: builds running side by side (tests, Pulumi) never see a half-written bundle.
  const partial = `${outfile}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(partial, bytes);
  await rename(partial, outfile);
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

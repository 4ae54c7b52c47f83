/**
 * Module seams for the ablation ladder: an esbuild plugin that hands the Worker's own imports of one
 * module a bench stand-in instead. Only imports made from under `root` are swapped, so a stand-in
 * can import the real module it stands in for (to re-export what it keeps).
 */
import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import type { Plugin } from "esbuild";

/** Module → stand-in, both as paths under the repository root (`worker/src/log.ts` → `bench/ablation/seams/log.ts`). */
export type ModuleSwaps = Record<string, string>;

const SOURCE_EXTENSIONS = ["", ".ts", "/index.ts"];

/**
 * Swaps every module of `swaps` for its stand-in in imports from files under `root` (the Worker's
 * sources). The build fails naming any module of `mustReach` (default: all of `swaps`) that no
 * import reached, so a moved or renamed module cannot leave a rung measuring the whole edge unnoticed.
 */
export function moduleSwapPlugin(
  swaps: ModuleSwaps,
  options: { projectRoot: string; root: string; mustReach?: string[] },
): Plugin {
  const wanted = new Map(
    Object.entries(swaps).map(([module, standIn]) => [
      resolve(options.projectRoot, module),
      resolve(options.projectRoot, standIn),
    ]),
  );
  for (const [module, standIn] of wanted) {
    if (!existsSync(module))
      throw new Error(`the module ${relative(options.projectRoot, module)} does not exist`);
    if (!existsSync(standIn))
      throw new Error(`the stand-in ${relative(options.projectRoot, standIn)} does not exist`);
  }
  const root = resolve(options.root);
  const mustReach = (options.mustReach ?? Object.keys(swaps)).map((module) =>
    resolve(options.projectRoot, module),
  );
  return {
    name: "bench-module-swaps",
    setup(build) {
      const reached = new Set<string>();
      build.onStart(() => reached.clear());
      build.onResolve({ filter: /^\./ }, (args) => {
        if (!args.importer || relative(root, args.importer).startsWith("..")) return undefined;
        for (const extension of SOURCE_EXTENSIONS) {
          const candidate = resolve(args.resolveDir, args.path) + extension;
          const standIn = wanted.get(candidate);
          if (standIn) {
            reached.add(candidate);
            return { path: standIn };
          }
        }
        return undefined;
      });
      build.onEnd((result) => {
        if (result.errors.length > 0) return;
        const unreached = mustReach.filter((module) => !reached.has(module));
        if (unreached.length > 0) {
          return {
            errors: unreached.map((module) => ({
              text: `nothing under ${relative(options.projectRoot, root)} imports ${relative(options.projectRoot, module)} any more`,
            })),
          };
        }
        return undefined;
      });
    },
  };
}

/** `npm run format [-- --check]`: Prettier (printWidth 100, .prettierrc.json) over the repository. */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { PROJECT_ROOT } from "../infra/config/stackFiles";
import { CommandFailure, defineCommand, isEntryPoint, main } from "./lib/cli";

const command = defineCommand({
  name: "format",
  options: {
    check: {
      type: "boolean",
      description: "list the files that are not formatted and exit 1, writing nothing",
    },
  },
  notes: [
    "without --check, rewrites every file that is not formatted; .prettierignore lists what is left alone",
  ],
});

export function run(args: string[]): number {
  const { check } = command.parse(args);
  const prettier = createRequire(import.meta.url).resolve("prettier/bin/prettier.cjs");
  const result = spawnSync(
    process.execPath,
    [prettier, check ? "--check" : "--write", "--log-level", "warn", "."],
    {
      cwd: PROJECT_ROOT,
      stdio: "inherit",
    },
  );
  if (result.error) throw new CommandFailure(`could not start Prettier: ${result.error.message}`);
  if (check && result.status === 0) console.log("format: every file is formatted");
  return result.status ?? 1;
}

if (isEntryPoint(import.meta.url)) void main(command, run);

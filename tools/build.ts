/** `npm run build`: writes dist/worker.mjs, the one bundle the local edge, the tests and Pulumi use. */
import { buildWorkerBundle, describeBundle } from "../worker/build";
import { defineCommand, isEntryPoint, main } from "./lib/cli";

const command = defineCommand({ name: "build", options: {} });

export async function run(args: string[]): Promise<number> {
  command.parse(args);
  const bundle = await buildWorkerBundle();
  console.log(describeBundle(bundle));
  return 0;
}

if (isEntryPoint(import.meta.url)) void main(command, run);

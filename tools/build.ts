/**
 * `npm run build`: writes dist/worker.mjs, the one bundle the local edge, the tests and Pulumi use
 * (the client kit's bytes inside it), and dist/kit/voice.mjs with its voice.d.ts.
 */
import { buildKit, buildWorkerBundle, describeBundle } from "../worker/build";
import { defineCommand, isEntryPoint, main } from "./lib/cli";

const command = defineCommand({ name: "build", options: {} });

export async function run(args: string[]): Promise<number> {
  command.parse(args);
  const bundle = await buildWorkerBundle();
  console.log(describeBundle(bundle));
  const kit = await buildKit({ declarations: true });
  console.log(describeBundle(kit, "client kit"));
  return 0;
}

if (isEntryPoint(import.meta.url)) void main(command, run);

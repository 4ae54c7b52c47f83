/** `npm run build`: writes dist/worker.mjs, the one bundle the local edge, the tests and Pulumi use. */
import { buildWorkerBundle, describeBundle } from "../worker/build";
import { defineCommand } from "./lib/cli";

const command = defineCommand({ name: "build", options: {} });
command.parse();
const bundle = await buildWorkerBundle();
console.log(describeBundle(bundle));

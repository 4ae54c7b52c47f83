import { buildWorkerBundle, describeBundle } from "../worker/build";

const bundle = await buildWorkerBundle();
console.log(describeBundle(bundle));

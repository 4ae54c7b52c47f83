import { buildLineBundle, buildWorkerBundle, describeBundle } from "../../worker/build";

/** Builds the bundle once per test run; every test then loads these bytes from dist/. */
export default async function setup(): Promise<void> {
  const [worker, line] = await Promise.all([buildWorkerBundle(), buildLineBundle()]);
  console.log(describeBundle(worker));
  console.log(describeBundle(line, "line"));
}

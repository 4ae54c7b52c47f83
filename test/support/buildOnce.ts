import { buildWorkerBundle, describeBundle } from "../../worker/build";

/** Builds the bundle once per test run; every test then loads these bytes from dist/. */
export default async function setup(): Promise<void> {
  console.log(describeBundle(await buildWorkerBundle()));
}

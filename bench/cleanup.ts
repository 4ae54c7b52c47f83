/**
 * What a bench script started and must stop on the way out — workerd and peer processes, the
 * bridge, temporary directories — undone last first, once, whether the script ends, fails or is
 * interrupted (Ctrl-C, SIGTERM).
 */
export interface Cleanup {
  add(step: () => Promise<unknown> | unknown): void;
  /** Runs the steps; every call, from any path, waits for the same single run. */
  run(): Promise<void>;
}

export function cleanupOnExit(): Cleanup {
  const steps: (() => Promise<unknown> | unknown)[] = [];
  let running: Promise<void> | undefined;
  const run = () =>
    (running ??= (async () => {
      for (const step of steps.splice(0).reverse())
        await Promise.resolve(step()).catch(() => undefined);
    })());
  for (const [signal, exitCode] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)
    process.on(signal, () => void run().then(() => process.exit(exitCode)));
  return { add: (step) => void steps.push(step), run };
}

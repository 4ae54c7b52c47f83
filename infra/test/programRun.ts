import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { runProgramOffline, Secret, type DeclaredResource, type ProgramRun } from "../offlineRun";
import { oneResource as one, RESOURCE_TYPES as T } from "../resourceTypes";

/**
 * The first rate-limit rule as the program declares it with the default values, which prod's stack
 * file also gives: 10 requests per 10 s per IP and colo on the voice paths. The description is the
 * stack's own.
 */
export const DEFAULT_VOICE_RULE = {
  ref: "voice_edge_rate_limit_1",
  action: "block",
  enabled: true,
  expression:
    '(http.request.uri.path eq "/voice/ws" or http.request.uri.path eq "/voice/line" or http.request.uri.path eq "/voice/api/chat" or http.request.uri.path eq "/voice/health")',
  ratelimit: {
    characteristics: ["ip.src", "cf.colo.id"],
    period: 10,
    requestsPerPeriod: 10,
    mitigationTimeout: 10,
  },
};

/** One of the Worker script's bindings, as the program declares it. */
export interface WorkerBinding {
  name: string;
  type: string;
  text?: unknown;
  json?: string;
}

/** The Worker script's bindings, which the program passes as one secret (they hold the secrets). */
export function bindingsOf(run: ProgramRun): WorkerBinding[] {
  const bindings = one(run, T.script, "voice-edge-worker").inputs.bindings;
  expect(bindings).toBeInstanceOf(Secret);
  return (bindings as Secret).value as WorkerBinding[];
}

/** The zone settings the run declares, by setting ID, in the API's value forms. */
export function zoneSettingValues(run: ProgramRun): Record<string, unknown> {
  return Object.fromEntries(
    run.resources
      .filter((r) => r.type === T.zoneSetting)
      .map((r) => [r.inputs.settingId, r.inputs.value]),
  );
}

/** Runs the program expecting it to fail before declaring a single resource; returns the error. */
export async function refusalError(
  stack: string,
  options: Parameters<typeof runProgramOffline>[1],
): Promise<Error> {
  const declared: DeclaredResource[] = [];
  const error = await runProgramOffline(stack, { ...options, declared }).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error, "the program should have failed").toBeInstanceOf(Error);
  expect(declared).toEqual([]);
  return error as Error;
}

/** The message of the program's refusal (see refusalError), for the test to check. */
export async function refusal(
  stack: string,
  options: Parameters<typeof runProgramOffline>[1],
): Promise<string> {
  return (await refusalError(stack, options)).message;
}

/** Each stack's resource URNs from before the children were named from the component's name. */
const URNS_BEFORE = JSON.parse(
  readFileSync(new URL("./fixtures/urnsBeforeChildNames.json", import.meta.url), "utf8"),
) as Record<string, string[]>;

/**
 * Every URN `stack` had before is claimed by exactly one resource of `run`, as its URN or an
 * alias, and no other resource is declared: `pulumi up` updates in place, adds nothing.
 */
export function expectUrnsOfBefore(stack: string, run: ProgramRun): void {
  const before = URNS_BEFORE[stack];
  const claims = (urn: string) =>
    run.resources.filter((r) => r.urn === urn || r.aliases.includes(urn)).length;
  expect(Object.fromEntries(before.map((urn) => [urn, claims(urn)]))).toEqual(
    Object.fromEntries(before.map((urn) => [urn, 1])),
  );
  expect(run.resources).toHaveLength(before.length);
}

import type { DeclaredResource } from "../offlineRun";
import { RESOURCE_TYPES, shortType } from "../resourceTypes";
import type { RequiredPermission } from "./permissions";

/** The resources of one permission group that the next `pulumi up` writes. */
export interface PlannedWrites {
  permission: RequiredPermission;
  resources: string[];
}

const text = (value: unknown) => (typeof value === "string" ? value : undefined);

/** `DnsRecord CNAME voice-origin.mycosoft.com`, `WorkersRoute mycosoft.com/voice/*`: the input a reviewer recognises it by. */
export function describeWrite(resource: DeclaredResource): string {
  const inputs = resource.inputs;
  const label =
    resource.type === RESOURCE_TYPES.dnsRecord
      ? `${text(inputs.type) ?? "?"} ${text(inputs.name) ?? resource.name}`
      : resource.type === RESOURCE_TYPES.notification
        ? text(inputs.alertType)
        : resource.type === RESOURCE_TYPES.ruleset
          ? text(inputs.phase)
          : resource.type === RESOURCE_TYPES.cron
            ? undefined
            : (text(inputs.settingId) ??
              text(inputs.pattern) ??
              text(inputs.scriptName) ??
              text(inputs.domain) ??
              text(inputs.name));
  return `${shortType(resource.type)} ${label ?? resource.name}`;
}

/** The declared resources grouped by the permission their writes need, in the permissions' order. */
export function writesByPermission(
  resources: readonly DeclaredResource[],
  permissions: readonly RequiredPermission[],
): PlannedWrites[] {
  return permissions
    .map((permission) => ({
      permission,
      resources: resources
        .filter((resource) => permission.writes.includes(resource.type))
        .map(describeWrite),
    }))
    .filter((group) => group.resources.length > 0);
}

/**
 * What the next `pulumi up` of `stack` declares: the program run offline under Pulumi's mocks (no
 * API, no CLI), without building the Worker. Pulumi is loaded only when this is called.
 */
export async function plannedResources(stack: string): Promise<DeclaredResource[]> {
  const { runProgramOffline } = await import("../offlineRun");
  const run = await runProgramOffline(stack, {
    entry: new URL("./firstUpProgram.ts", import.meta.url),
  });
  return run.resources;
}

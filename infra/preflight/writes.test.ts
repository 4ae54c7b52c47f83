import { describe, expect, it } from "vitest";
import { loadStackSettings } from "../config/stackFiles";
import { RESOURCE_TYPES } from "../resourceTypes";
import { REQUIRED_TOKEN_PERMISSIONS, requiredPermissionsFor } from "./permissions";
import { plannedResources, writesByPermission } from "./writes";

describe("the writes the next pulumi up makes, by permission group", () => {
  it("gives every resource type the program declares exactly one permission group", () => {
    const declarable = Object.values(RESOURCE_TYPES).filter(
      (type) => type !== RESOURCE_TYPES.component && type !== RESOURCE_TYPES.provider,
    );
    for (const type of declarable)
      expect(
        REQUIRED_TOKEN_PERMISSIONS.filter((p) => p.writes.includes(type)).map((p) => p.group),
        type,
      ).toHaveLength(1);
  });

  it(
    "lists each resource of the prod stack under the group its write needs",
    { timeout: 60_000 },
    async () => {
      const prod = loadStackSettings("prod");
      const resources = await plannedResources("prod");
      const groups = writesByPermission(resources, requiredPermissionsFor(prod));
      const declared = resources.filter(
        (r) => r.type !== RESOURCE_TYPES.component && r.type !== RESOURCE_TYPES.provider,
      );
      expect(groups.flatMap((g) => g.resources)).toHaveLength(declared.length);
      expect(
        Object.fromEntries(groups.map((g) => [g.permission.group, g.resources])),
      ).toMatchObject({
        "DNS Write": ["DnsRecord CNAME voice-origin.mycosoft.com"],
        "Workers Routes Write": ["WorkersRoute mycosoft.com/voice/*"],
        "Workers Scripts Write": expect.arrayContaining(["WorkersScript voice-edge-prod"]),
        "D1 Write": ["D1Database voice-edge-prod-bridge-watch"],
      });
    },
  );
});

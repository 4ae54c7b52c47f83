import { WS_PATH } from "../worker/src/routes";
import type { StackSettings } from "./config/schema";

export interface NamedStack {
  stack: string;
  settings: StackSettings;
}

/**
 * Zone-wide resources (zone settings, the one `http_ratelimit` ruleset) can be declared by only
 * one stack per zone, and that stack's rate limit must cover every environment's WebSocket path.
 */
export function zoneOwnershipProblems(stacks: NamedStack[]): string[] {
  const problems: string[] = [];
  const byZone = new Map<string, NamedStack[]>();
  for (const entry of stacks)
    byZone.set(entry.settings.zone.id + " " + entry.settings.zone.name, [
      ...(byZone.get(entry.settings.zone.id + " " + entry.settings.zone.name) ?? []),
      entry,
    ]);

  for (const members of byZone.values()) {
    const zoneName = members[0].settings.zone.name;
    const owners = members.filter((m) => m.settings.zone.owner);
    if (owners.length > 1)
      problems.push(
        `zone ${zoneName} is owned by ${owners.map((o) => o.stack).join(" and ")}: set zone.owner: true in exactly one of them`,
      );
    const [owner] = owners;
    if (!owner) continue;
    for (const member of members) {
      const covered = (owner.settings.rateLimit?.rules ?? []).some(
        (rule) =>
          rule.paths.includes(WS_PATH) &&
          (rule.hosts.length === 0 || rule.hosts.includes(member.settings.publicHostname)),
      );
      if (!covered)
        problems.push(
          `${owner.stack}'s rate limit does not cover ${member.settings.publicHostname}${WS_PATH} (stack ${member.stack})`,
        );
    }
  }
  return problems;
}

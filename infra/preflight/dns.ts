import type Cloudflare from "cloudflare";
import { originHostnamesOf } from "../config/bridges";
import { keyName } from "../config/errors";
import type { StackSettings } from "../config/schema";
import { recordComment } from "../dns";
import { stackFileName } from "../config/stackFiles";
import type { Check } from "./check";
import { requiredPermission } from "./permissions";
import { ok, problem, type CheckResult } from "./result";

const CHECK = "dns";

interface DnsRecord {
  type: string;
  name: string;
  content?: string;
  proxied?: boolean;
  comment?: string | null;
}

/** Every record at exactly `name`, across all pages (the SDK follows `page`). */
async function recordsAt(client: Cloudflare, zoneId: string, name: string): Promise<DnsRecord[]> {
  const records: DnsRecord[] = [];
  for await (const record of client.dns.records.list({ zone_id: zoneId, name: { exact: name } })) {
    const r = record as DnsRecord;
    if (r.name.toLowerCase() === name) records.push(r);
  }
  return records;
}

const describe = (records: DnsRecord[]) =>
  records
    .map((r) =>
      `${r.type} ${r.content ?? ""}${r.comment ? ` (comment "${r.comment}")` : ""}`.trim(),
    )
    .join(", ");

async function foreignRecords(
  client: Cloudflare,
  settings: StackSettings,
  hostname: string,
  comment: string,
  key: string,
  file: string,
): Promise<CheckResult | undefined> {
  const foreign = (await recordsAt(client, settings.zone.id, hostname)).filter(
    (record) => record.comment !== comment,
  );
  if (foreign.length === 0) return undefined;
  return problem(
    CHECK,
    `${hostname} already has ${foreign.length} record(s) this project did not create: ${describe(foreign)}`,
    `delete them (dashboard → ${settings.zone.name} → DNS → Records) or choose another ${key} in ${file}`,
  );
}

export const dnsCheck: Check = {
  name: CHECK,
  reading: "the zone's DNS records",
  permission: requiredPermission("DNS Write"),
  async run({ client, stack, settings }) {
    const file = stackFileName(stack);
    const results: CheckResult[] = [];
    const origins = originHostnamesOf(settings);
    for (const { path, hostname } of origins) {
      const origin = await foreignRecords(
        client,
        settings,
        hostname,
        recordComment(settings, "tunnel to the bridge"),
        keyName(path),
        file,
      );
      if (origin) results.push(origin);
    }
    if (settings.publicDns === "worker-only") {
      const publicRecords = await foreignRecords(
        client,
        settings,
        settings.publicHostname,
        recordComment(settings, "Worker route only"),
        "voice-edge:publicHostname",
        file,
      );
      if (publicRecords) results.push(publicRecords);
    } else {
      const records = await recordsAt(client, settings.zone.id, settings.publicHostname);
      const proxied = records.filter(
        (r) => ["A", "AAAA", "CNAME"].includes(r.type) && r.proxied === true,
      );
      if (proxied.length === 0) {
        const seen = records.length > 0 ? `only ${describe(records)}, not proxied` : "no record";
        results.push(
          problem(
            CHECK,
            `publicDns: existing, but ${settings.publicHostname} has ${seen}: the Worker route only runs on a proxied A, AAAA or CNAME record`,
            `turn on the proxy (orange cloud) for its record in the dashboard, or set voice-edge:publicDns: worker-only in ${file}`,
          ),
        );
      }
    }
    if (results.length > 0) return results;
    const originList = origins.map((o) => o.hostname).join(", ");
    const what =
      settings.publicDns === "worker-only"
        ? `${originList} and ${settings.publicHostname} are free or this stack's`
        : `${originList} ${origins.length > 1 ? "are" : "is"} free or this stack's; ${settings.publicHostname} is proxied`;
    return [ok(CHECK, what)];
  },
};

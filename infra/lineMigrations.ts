// Which Durable Object migrations the line script's next upload carries. The provider sends a
// script's `migrations` with every upload and never reads them back, and Cloudflare refuses a tag
// the script already has (10079) or a create over a live class (10074): so, as wrangler does, the
// program reads the script's live `migration_tag` first and declares only the migrations after it.
import type * as cloudflare from "@pulumi/cloudflare";
import type Cloudflare from "cloudflare";
import { APIError } from "cloudflare";
import { LINE_MIGRATIONS } from "../worker/src/line/contract";

/** The line script as the account holds it when the program runs. */
export type LiveLineScript = { exists: false } | { exists: true; migrationTag: string | null };

export type LineMigration = (typeof LINE_MIGRATIONS)[number];

/** A live tag the program cannot place: only the checkout that applied it knows what came before. */
export class UnknownMigrationTagError extends Error {
  constructor(scriptName: string, tag: string, known: readonly LineMigration[]) {
    super(
      `the line script ${scriptName} carries Durable Object migration tag "${tag}", which this program's LINE_MIGRATIONS (${known.map((m) => m.tag).join(", ")}) does not know: deploy from the checkout that applied it`,
    );
    this.name = "UnknownMigrationTagError";
  }
}

/**
 * The `migrations` input for the line script's next upload: every migration after the live tag,
 * as one `{oldTag, newTag, steps}` (the form wrangler uploads), or undefined when none is pending.
 * A script that does not exist yet, or exists without a tag, gets them all and no `oldTag`.
 */
export function pendingLineMigrations(
  scriptName: string,
  live: LiveLineScript,
  migrations: readonly LineMigration[] = LINE_MIGRATIONS,
): cloudflare.types.input.WorkersScriptMigrations | undefined {
  const liveTag = live.exists ? live.migrationTag : null;
  let pending = migrations;
  if (liveTag !== null) {
    const applied = migrations.findIndex((m) => m.tag === liveTag);
    if (applied < 0) throw new UnknownMigrationTagError(scriptName, liveTag, migrations);
    pending = migrations.slice(applied + 1);
  }
  if (pending.length === 0) return undefined;
  return {
    ...(liveTag === null ? {} : { oldTag: liveTag }),
    newTag: pending[pending.length - 1].tag,
    steps: pending.map(({ tag: _tag, ...step }) => step),
  };
}

const snakeCase = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function inApiWords(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(inApiWords);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [snakeCase(key), inApiWords(inner)]),
    );
  return value;
}

/** The same migrations in the API's own words: the upload's `metadata.migrations`, as the provider sends them. */
export function migrationsMetadata(
  migrations: cloudflare.types.input.WorkersScriptMigrations | undefined,
): Record<string, unknown> | undefined {
  return migrations && (inApiWords(migrations) as Record<string, unknown>);
}

/** Why the live tag could not be read: the program must not guess, so it stops before declaring anything. */
export class LineScriptReadError extends Error {
  constructor(scriptName: string, cause: string) {
    super(
      `cannot read the line script ${scriptName}'s Durable Object migration tag (${cause}); the program declares nothing rather than guess which migrations to upload: check the token (it needs "Workers Scripts Write", which reads scripts too) and the network, then run again`,
    );
    this.name = "LineScriptReadError";
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof APIError) {
    const codes = (error.errors ?? []).map((e) => `${e.code} ${e.message}`).join("; ");
    return `HTTP ${error.status ?? "no answer"}${codes ? `: ${codes}` : ""}`;
  }
  return (error as Error).message?.split("\n")[0] ?? String(error);
}

/** The line script in the account's script list (`GET /accounts/{account_id}/workers/scripts`, which carries `migration_tag`, as wrangler reads it). */
export async function findLiveLineScript(
  client: Cloudflare,
  accountId: string,
  scriptName: string,
): Promise<LiveLineScript> {
  for await (const script of client.workers.scripts.list({ account_id: accountId }))
    if (script.id === scriptName)
      return { exists: true, migrationTag: script.migration_tag || null };
  return { exists: false };
}

/** findLiveLineScript for the program: any failure is a LineScriptReadError, one line. */
export async function readLiveLineScript(
  client: Cloudflare,
  accountId: string,
  scriptName: string,
): Promise<LiveLineScript> {
  try {
    return await findLiveLineScript(client, accountId, scriptName);
  } catch (error) {
    throw new LineScriptReadError(scriptName, describeFailure(error));
  }
}

import { LINE_CLASS_NAME, LINE_MIGRATIONS, lineScriptName } from "../../worker/src/line/contract";
import { stackFileName } from "../config/stackFiles";
import {
  findLiveLineScript,
  pendingLineMigrations,
  UnknownMigrationTagError,
} from "../lineMigrations";
import type { Check } from "./check";
import { requiredPermission } from "./permissions";
import { ok, problem, warning } from "./result";

const CHECK = "line";

/**
 * With the line on: the line script as `pulumi up` will find it, read the same way the program
 * reads it (its live migration tag), and what that up will migrate. Its class is SQLite-backed,
 * which every Workers plan has (Free included): the account needs nothing else.
 */
export const lineCheck: Check = {
  name: CHECK,
  reading: "the account's Worker scripts (the line script's migration tag)",
  permission: requiredPermission("Workers Scripts Write"),
  async run({ client, stack, settings }) {
    if (!settings.line.enabled) return [];
    const name = lineScriptName(settings.workerName);
    const live = await findLiveLineScript(client, settings.accountId, name);
    let pending;
    try {
      pending = pendingLineMigrations(name, live);
    } catch (error) {
      if (!(error instanceof UnknownMigrationTagError)) throw error;
      return [
        problem(
          CHECK,
          error.message,
          `run \`pulumi up\` from that checkout, or choose another voice-edge:workerName in ${stackFileName(stack)}`,
        ),
      ];
    }
    const sqlite = `SQLite-backed ${LINE_CLASS_NAME}, on every Workers plan`;
    if (!live.exists)
      return [
        ok(
          CHECK,
          `no script ${name} yet: \`pulumi up\` creates it and applies migration ${pending?.newTag} (${sqlite})`,
        ),
      ];
    if (live.migrationTag === null)
      return [
        warning(
          CHECK,
          `a script ${name} exists without a Durable Object migration tag: this stack's line script always has one, so it is likely another Worker's`,
          `check it (dashboard → Workers & Pages → ${name}); \`pulumi up\` replaces it and applies migration ${pending?.newTag}, or choose another voice-edge:workerName in ${stackFileName(stack)}`,
        ),
      ];
    return [
      ok(
        CHECK,
        pending
          ? `${name} has migration tag ${live.migrationTag}: \`pulumi up\` applies ${LINE_MIGRATIONS.map(
              (m) => m.tag,
            )
              .slice(LINE_MIGRATIONS.findIndex((m) => m.tag === live.migrationTag) + 1)
              .join(", ")}`
          : `${name} has migration tag ${live.migrationTag}, the latest: \`pulumi up\` uploads the bundle with no migration`,
      ),
    ];
  },
};

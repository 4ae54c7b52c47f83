import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { LINE_BINDINGS, lineScriptName } from "../worker/src/line/contract";
import type { WorkerBundle } from "../worker/build";
import type { BindingName } from "../worker/src/bindings";
import { childName, type Scope } from "./childNames";
import { lineConfigOf } from "./config/line";
import type { StackSettings } from "./config/schema";
import { LINE_BUNDLE_MODULE_NAME } from "./lineInputs";
import type { OriginLock } from "./originLock";
import { fleetOf } from "./worker";
import { pointsBindings } from "./workerBindings";

/** What the line script is uploaded with: its bundle and the migrations still pending on the account. */
export interface LineDeployment {
  bundle: WorkerBundle;
  /** pendingLineMigrations(): undefined when the live script already has every tag. */
  migrations: cloudflare.types.input.WorkersScriptMigrations | undefined;
}

/**
 * The coordinator's Worker script, `<workerName>-line`: the Durable Object class and its
 * migrations live here, so the edge Worker's frequent deploys never carry migrations. It gets
 * the fleet as the `BRIDGES` list (a `tunnel` stack's one bridge too) and the Access service
 * token, the same values the edge Worker has, so it can probe the guards itself.
 */
export function lineScript(
  settings: StackSettings,
  line: LineDeployment,
  lock: OriginLock,
  scope: Scope,
): cloudflare.WorkersScript {
  const names = {
    bridges: "BRIDGES",
    accessClientId: "BRIDGE_ACCESS_CLIENT_ID",
    accessClientSecret: "BRIDGE_ACCESS_CLIENT_SECRET",
  } as const satisfies Record<string, BindingName>;
  const bindings: cloudflare.types.input.WorkersScriptBinding[] = [
    {
      name: LINE_BINDINGS.settings,
      type: "json",
      json: JSON.stringify(lineConfigOf(settings.line)),
    },
    { name: names.bridges, type: "json", json: JSON.stringify(fleetOf(settings)) },
    {
      name: names.accessClientId,
      type: "secret_text",
      text: pulumi.secret(lock.serviceToken.clientId),
    },
    {
      name: names.accessClientSecret,
      type: "secret_text",
      text: pulumi.secret(lock.serviceToken.clientSecret),
    },
  ];
  // The coordinator's points (turns, leaves) carry no visitor hash: it gets no key.
  bindings.push(...pointsBindings(settings.analytics?.dataset, undefined));
  return new cloudflare.WorkersScript(
    childName(scope.name, "line"),
    {
      accountId: settings.accountId,
      scriptName: lineScriptName(settings.workerName),
      content: line.bundle.code,
      mainModule: LINE_BUNDLE_MODULE_NAME,
      compatibilityDate: settings.compatibilityDate,
      bindings,
      ...(line.migrations ? { migrations: line.migrations } : {}),
      observability: { enabled: true },
    },
    scope.opts,
  );
}

import { keyName } from "../config/errors";
import type { StackSettings } from "../config/schema";
import { stackFileName } from "../config/stackFiles";
import { PLACEHOLDER_ID } from "../config/fields";
import { problem, type CheckResult } from "./result";

/** One of the stack's two Cloudflare IDs: the key that holds it, its value, and where to find the real one. */
export interface IdSubject {
  scope: "account" | "zone";
  key: string;
  id: string;
  file: string;
  /** Where the dashboard shows it. */
  where: string;
}

export function idSubjectOf(
  scope: "account" | "zone",
  settings: StackSettings,
  stack: string,
): IdSubject {
  const where = `dashboard → ${settings.zone.name} → Overview, the API section`;
  return scope === "account"
    ? {
        scope,
        key: keyName(["accountId"]),
        id: settings.accountId,
        file: stackFileName(stack),
        where: `${where}: Account ID`,
      }
    : {
        scope,
        key: keyName(["zone", "id"]),
        id: settings.zone.id,
        file: stackFileName(stack),
        where: `${where}: Zone ID`,
      };
}

/**
 * A problem for each ID that is still a placeholder: decided from the stack file alone, so no
 * request ever carries a placeholder ID (Cloudflare would answer 7003 "Could not route", which
 * says nothing about the stack file).
 */
export function placeholderIdProblems(settings: StackSettings, stack: string): CheckResult[] {
  return (["account", "zone"] as const)
    .map((scope) => idSubjectOf(scope, settings, stack))
    .filter((subject) => PLACEHOLDER_ID.test(subject.id))
    .map((subject) =>
      problem(
        "ids",
        `${subject.key} in ${subject.file} is still the placeholder ${subject.id}: no request was sent with it`,
        `put your ${subject.scope}'s ID there (${subject.where})`,
      ),
    );
}

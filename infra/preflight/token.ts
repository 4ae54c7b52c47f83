import type Cloudflare from "cloudflare";
import { APIError } from "cloudflare";
import type { Token, TokenPolicy } from "cloudflare/resources/shared";
import type { StackSettings } from "../config/schema";
import { describePermission, requiredPermissionsFor, type RequiredPermission } from "./permissions";
import type { DeclaredResource } from "../offlineRun";
import { idSubjectOf } from "./ids";
import {
  apiFailure,
  isForbidden,
  isNotRouted,
  ok,
  problem,
  warning,
  type CheckResult,
} from "./result";
import { writesByPermission } from "./writes";

const CHECK = "token";

export interface TokenCheck {
  results: CheckResult[];
  /** The token cannot be used at all: the other checks would only repeat the same failure. */
  fatal: boolean;
}

type Owner = "user" | "account";

/** Verifies as a user token first, then as an account-owned token (those fail `/user/tokens/verify` with 401). */
async function verify(
  client: Cloudflare,
  settings: StackSettings,
): Promise<{ id: string; status: string; owner: Owner; expiresOn?: string }> {
  try {
    const token = await client.user.tokens.verify();
    return { id: token.id, status: token.status, owner: "user", expiresOn: token.expires_on };
  } catch (userError) {
    if (!(userError instanceof APIError && userError.status === 401)) throw userError;
    try {
      const token = await client.accounts.tokens.verify({ account_id: settings.accountId });
      return { id: token.id, status: token.status, owner: "account", expiresOn: token.expires_on };
    } catch (accountError) {
      // An account-owned token verifies under its account: an account ID Cloudflare cannot route says more than the 401.
      throw isNotRouted(accountError) ? accountError : userError;
    }
  }
}

function resourceKeys(resources: TokenPolicy["resources"]): Set<string> {
  const keys = new Set<string>();
  for (const [key, value] of Object.entries(resources ?? {})) {
    keys.add(key);
    if (value && typeof value === "object")
      for (const nested of Object.keys(value)) keys.add(nested);
  }
  return keys;
}

function covers(
  policy: TokenPolicy,
  permission: RequiredPermission,
  settings: StackSettings,
): boolean {
  const keys = resourceKeys(policy.resources);
  if (permission.scope === "zone")
    return (
      keys.has(`com.cloudflare.api.account.zone.${settings.zone.id}`) ||
      keys.has("com.cloudflare.api.account.zone.*")
    );
  return (
    keys.has(`com.cloudflare.api.account.${settings.accountId}`) ||
    keys.has("com.cloudflare.api.account.*")
  );
}

/** The required groups the token's policies do not grant on this stack's zone and account. */
export function missingPermissions(token: Token, settings: StackSettings): RequiredPermission[] {
  const policies = token.policies ?? [];
  const names = (policy: TokenPolicy) =>
    new Set(policy.permission_groups.map((group) => group.name));
  return requiredPermissionsFor(settings).filter((permission) => {
    const granted = policies.some(
      (p) =>
        p.effect === "allow" && names(p).has(permission.group) && covers(p, permission, settings),
    );
    const denied = policies.some(
      (p) =>
        p.effect === "deny" && names(p).has(permission.group) && covers(p, permission, settings),
    );
    return !granted || denied;
  });
}

async function readToken(
  client: Cloudflare,
  settings: StackSettings,
  owner: Owner,
  id: string,
): Promise<Token> {
  return owner === "user"
    ? client.user.tokens.get(id)
    : client.accounts.tokens.get(id, { account_id: settings.accountId });
}

/** Reads in each area; a 403 names the group that is missing. Other failures say nothing about permissions. */
async function probe(client: Cloudflare, settings: StackSettings): Promise<RequiredPermission[]> {
  const outcomes = await Promise.all(
    requiredPermissionsFor(settings).map((permission) =>
      permission.probe(client, settings).then(
        () => undefined,
        (error: unknown) => {
          if (isForbidden(error)) return permission;
          if (error instanceof APIError && error.status !== undefined && error.status !== 429)
            return undefined;
          throw error;
        },
      ),
    ),
  );
  return outcomes.filter(
    (permission): permission is RequiredPermission => permission !== undefined,
  );
}

const listOf = (permissions: readonly RequiredPermission[]) =>
  permissions.map(describePermission).join(", ");

/**
 * The writes the next `pulumi up` makes, by permission group, as the warning lists them; the
 * group names alone when the program cannot be run offline.
 */
async function writesToCheck(
  settings: StackSettings,
  plannedResources?: () => Promise<DeclaredResource[]>,
): Promise<string> {
  const permissions = requiredPermissionsFor(settings);
  const groups = () => permissions.map((p) => `"${p.group}"`).join(", ");
  if (!plannedResources)
    return `make sure it has all of ${groups()} (the README lists where each is in the dashboard)`;
  let resources: DeclaredResource[];
  try {
    resources = await plannedResources();
  } catch {
    return `make sure it has all of ${groups()} (the README lists where each is in the dashboard; \`npm run plan\` shows what the first \`pulumi up\` writes)`;
  }
  const writes = writesByPermission(resources, permissions)
    .map(({ permission, resources }) => `"${permission.group}": ${resources.join(", ")}`)
    .join("; ");
  return `check in the dashboard that it may make each write of the next \`pulumi up\` — ${writes}`;
}

export async function checkToken(
  client: Cloudflare,
  settings: StackSettings,
  stack: string,
  plannedResources?: () => Promise<DeclaredResource[]>,
): Promise<TokenCheck> {
  let token;
  try {
    token = await verify(client, settings);
  } catch (error) {
    return {
      results: [
        apiFailure(
          CHECK,
          error,
          "the token's own status (/user/tokens/verify)",
          undefined,
          idSubjectOf("account", settings, stack),
        ),
      ],
      fatal: true,
    };
  }
  if (token.status !== "active") {
    return {
      results: [
        problem(
          CHECK,
          `the token is ${token.status}${token.expiresOn ? ` (expires_on ${token.expiresOn})` : ""}`,
          "roll or re-create it in the dashboard (My Profile → API Tokens) and update CLOUDFLARE_API_TOKEN",
        ),
      ],
      fatal: true,
    };
  }
  const described = `${token.owner === "user" ? "user" : "account-owned"} token ${token.id}, active`;

  let policies: Token | undefined;
  try {
    policies = await readToken(client, settings, token.owner, token.id);
  } catch (error) {
    if (!isForbidden(error))
      return { results: [apiFailure(CHECK, error, "the token's own policies")], fatal: false };
  }
  if (policies) {
    const missing = missingPermissions(policies, settings);
    if (missing.length === 0)
      return { results: [ok(CHECK, `${described}, has every required permission`)], fatal: false };
    return {
      results: [
        problem(
          CHECK,
          `${described}, lacks ${missing.length} required permission(s): ${listOf(missing)}`,
          `edit the token in the dashboard and add them for zone ${settings.zone.name} / account ${settings.accountId}`,
        ),
      ],
      fatal: false,
    };
  }

  let missing;
  try {
    missing = await probe(client, settings);
  } catch (error) {
    return {
      results: [
        apiFailure(CHECK, error, "one area of the account while probing the token's permissions"),
      ],
      fatal: false,
    };
  }
  const results: CheckResult[] = [];
  if (missing.length > 0) {
    results.push(
      problem(
        CHECK,
        `${described}, cannot read ${missing.length} area(s) it needs: ${listOf(missing)}`,
        "edit the token in the dashboard and add them",
      ),
    );
  } else {
    results.push(ok(CHECK, `${described}, can read every area the stack uses`));
  }
  results.push(
    warning(
      CHECK,
      "edit rights could not be confirmed: the token may not read its own policies, so only reads were tried",
      await writesToCheck(settings, plannedResources),
    ),
  );
  return { results, fatal: false };
}

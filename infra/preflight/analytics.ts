import type Cloudflare from "cloudflare";
import {
  ANALYTICS_ENGINE_NOT_ENABLED_CODE,
  describeSqlFailure,
  querySql,
  textOf,
  type SqlApiTarget,
  type SqlFailure,
} from "../../worker/src/analytics/sqlApi";
import { stackFileName } from "../config/stackFiles";
import type { Check } from "./check";
import { ANALYTICS_READ_PERMISSION, describePermission } from "./permissions";
import { ok, problem, warning } from "./result";

const CHECK = "analytics";

/** The one query preflight sends to the SQL API: it lists the account's datasets and writes nothing. */
export const SHOW_TABLES = "SHOW TABLES FORMAT JSON";

/** What `pulumi up` answers, for a stack that binds a dataset, until the account enables Analytics Engine. */
export const DEPLOY_NOT_ENABLED_ERROR = `workers.api.error.no_access_to_analytics_engine [code: ${ANALYTICS_ENGINE_NOT_ENABLED_CODE}]`;

/** Where the account enables Analytics Engine (cloudflare/cloudflare-docs#21972); the API cannot. */
export const enablePage = (accountId: string) =>
  `https://dash.cloudflare.com/${accountId}/workers/analytics-engine`;

/**
 * The SQL API's own answer for an account without Analytics Engine. Its body is not documented:
 * this takes deploys' code (10089) or their wording (`no_access_to_analytics_engine`, "not
 * enabled", "enable Analytics Engine"); a bare 401/403 says nothing either way.
 */
export function isAnalyticsEngineNotEnabled(failure: SqlFailure): boolean {
  return (
    failure.kind === "status" &&
    (failure.code === ANALYTICS_ENGINE_NOT_ENABLED_CODE ||
      /no_access_to_analytics_engine|\bnot[ _]enabled\b|\benable analytics engine\b/i.test(
        failure.message,
      ))
  );
}

/**
 * The SQL client (worker/src/analytics/sqlApi.ts) on the preflight client's token, base URL and
 * transport: its timeout per request, and the run's abort at the bound.
 */
function sqlTargetOf(client: Cloudflare, accountId: string): SqlApiTarget {
  return {
    accountId,
    token: client.apiToken ?? "",
    baseUrl: client.baseURL,
    timeoutMs: client.timeout,
    fetch: (url, init) => client.fetchWithTimeout(url, init, client.timeout, new AbortController()),
  };
}

/**
 * With `voice-edge:analytics.dataset` set: whether the account has enabled Workers Analytics
 * Engine, which `pulumi up` needs to bind the dataset (10089 until then). The only read that tells
 * is a query, `SHOW TABLES`, with the token preflight already has; it needs Account Analytics Read,
 * which a deploy token may lack, so a 401/403 that does not say "not enabled" is a warning.
 */
export const analyticsCheck: Check = {
  name: CHECK,
  reading: "the account's Analytics Engine datasets (SHOW TABLES through the SQL API)",
  async run({ client, stack, settings }) {
    const dataset = settings.analytics?.dataset;
    if (!dataset) return [];
    const page = enablePage(settings.accountId);
    const result = await querySql(sqlTargetOf(client, settings.accountId), SHOW_TABLES);
    if (result.ok) {
      const names = result.answer.data.flatMap((row) => Object.values(row).map(textOf));
      return [
        ok(
          CHECK,
          names.includes(dataset)
            ? `Analytics Engine is enabled; dataset ${dataset} exists`
            : `Analytics Engine is enabled; dataset ${dataset} does not exist yet: the edge's first point creates it (nothing to do)`,
        ),
      ];
    }
    const { failure } = result;
    if (isAnalyticsEngineNotEnabled(failure))
      return [
        problem(
          CHECK,
          `the account has not enabled Workers Analytics Engine (${describeSqlFailure(failure)}): \`pulumi up\` fails with ${DEPLOY_NOT_ENABLED_ERROR} while the stack binds dataset ${dataset}`,
          `enable it once in the dashboard (Workers & Pages → Analytics Engine, ${page}; the API cannot), then run preflight again; or remove voice-edge:analytics from ${stackFileName(stack)}`,
        ),
      ];
    if (failure.kind === "status" && (failure.status === 401 || failure.status === 403))
      return [
        warning(
          CHECK,
          `cannot tell whether Analytics Engine is enabled: the SQL API answered ${failure.status} (${failure.code === undefined ? "" : `${failure.code} `}${failure.message}), so the token likely lacks ${describePermission(ANALYTICS_READ_PERMISSION)} (an account without Analytics Engine may answer 403 too)`,
          `add ${ANALYTICS_READ_PERMISSION.group} to the token, or check in the dashboard that Analytics Engine is enabled (${page}): \`pulumi up\` fails with ${DEPLOY_NOT_ENABLED_ERROR} until it is`,
        ),
      ];
    return [
      warning(
        CHECK,
        `cannot tell whether Analytics Engine is enabled: ${describeSqlFailure(failure)}`,
        `run preflight again, or check in the dashboard that Analytics Engine is enabled (${page}): \`pulumi up\` fails with ${DEPLOY_NOT_ENABLED_ERROR} until it is`,
      ),
    ];
  },
};

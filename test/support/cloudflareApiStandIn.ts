/**
 * A stand-in for the Cloudflare API on loopback, for tests only: the read endpoints preflight
 * uses, with the envelopes, error bodies, status codes and page-number pagination of Cloudflare's
 * API reference, driven by a scenario object, and one write: a Worker script's upload with its
 * Durable Object migrations, checked against the script's live migration tag as the API does.
 * The real SDK talks to it through its base URL. One POST is a read: a query to Analytics Engine's
 * SQL API (`SHOW TABLES` only), which preflight sends to tell whether the account enabled it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface StandInRecord {
  type: string;
  name: string;
  content: string;
  proxied?: boolean;
  comment?: string | null;
}

export interface StandInError {
  status: number;
  code: number;
  message: string;
}

/** Areas a failure can be injected into: one per endpoint family. */
export type StandInArea =
  | "userVerify"
  | "accountVerify"
  | "tokenDetails"
  | "organizations"
  | "zone"
  | "ssl"
  | "entrypoint"
  | "rulesets"
  | "dns"
  | "routes"
  | "scripts"
  | "tunnels"
  | "accessApps"
  | "serviceTokens"
  | "notifications"
  | "healthchecks"
  | "d1"
  | "analyticsSql";

/**
 * A Worker script as the account holds it: its Durable Object migration tag and the classes its
 * migrations created. Uploads (`PUT …/workers/scripts/<name>`) change it, as the API does.
 */
export interface StandInScript {
  id: string;
  migrationTag?: string;
  /** Durable Object classes the script's migrations have created (each a namespace). */
  classes: string[];
}

export interface StandInScenario {
  accountId: string;
  token: {
    value: string;
    id: string;
    owner: "user" | "account";
    status?: "active" | "disabled" | "expired";
    /** Permission groups of one allow policy over the account and all its zones; unset: the token may not read itself (403). */
    permissionGroups?: string[];
  };
  /** Unset: the zone ID is unknown (404). */
  zone?: { id: string; name: string; plan: "free" | "pro" | "business" | "enterprise" };
  zeroTrust: boolean;
  ssl: string;
  rateLimitEntryPoint?: { id: string; rules: Record<string, unknown>[] };
  records: StandInRecord[];
  routes: { pattern: string; script?: string }[];
  tunnels: { id: string; name: string }[];
  /** The account's Worker scripts; uploads add and change them. Unset: none, and uploads are refused. */
  scripts?: StandInScript[];
  /** Page size of list endpoints when the client names none (Cloudflare's default is 100). */
  pageSize?: number;
  failures?: Partial<Record<StandInArea, StandInError>>;
  /**
   * Workers Analytics Engine as its SQL API answers `SHOW TABLES`: the datasets that exist (each
   * is created by its first point), or, with `enabled: false`, the account's not-enabled answer.
   * Unset: enabled, no dataset yet.
   */
  analyticsEngine?: { enabled: boolean; datasets: string[] };
  /** Every request answers 429. */
  rateLimited?: boolean;
  /** No request is ever answered. */
  hang?: boolean;
}

export interface StandIn {
  url: string;
  /** `GET /path?query` of every request, in order. */
  requests: string[];
  /** Every request that is not a GET (refused with 7003 but a script upload when `scripts` is set), SQL queries aside: preflight must send none. */
  writes: string[];
  /** The SQL of every query to the SQL API (`POST …/analytics_engine/sql`), in order. */
  sqlQueries: string[];
  close(): Promise<void>;
}

/**
 * The SQL API's answer on an account without Analytics Engine. Undocumented: a 403
 * (cloudflare/workers-sdk#9312, cloudflare/cloudflare-docs#21972) with the code and words deploys
 * fail with (`workers.api.error.no_access_to_analytics_engine [code: 10089]`, workers-sdk#5940).
 */
export const ANALYTICS_ENGINE_NOT_ENABLED: StandInError = {
  status: 403,
  code: 10089,
  message: "workers.api.error.no_access_to_analytics_engine",
};

/** As Access answers on an account without a Zero Trust organization (quoted in cloudflare/workers-sdk#3573). */
const ZERO_TRUST_NOT_ENABLED: StandInError = {
  status: 403,
  code: 9999,
  message: "access.api.error.not_enabled: Access is not enabled.",
};

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}

const success = (result: unknown, resultInfo?: unknown) => ({
  success: true,
  errors: [],
  messages: [],
  result,
  ...(resultInfo ? { result_info: resultInfo } : {}),
});
const failure = (error: StandInError) => ({
  success: false,
  errors: [{ code: error.code, message: error.message }],
  messages: [],
  result: null,
});

function paginate(response: ServerResponse, url: URL, items: unknown[], defaultSize: number): void {
  const page = Math.max(1, Number(url.searchParams.get("page") ?? 1));
  const perPage = Math.max(1, Number(url.searchParams.get("per_page") ?? defaultSize));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  send(
    response,
    200,
    success(slice, {
      page,
      per_page: perPage,
      count: slice.length,
      total_count: items.length,
      total_pages: Math.max(1, Math.ceil(items.length / perPage)),
    }),
  );
}

/** Cloudflare's answer for a path it has no route for, or whose ID it cannot route (400, 7003 and 7000). */
function notRouted(response: ServerResponse, path: string): void {
  send(response, 400, {
    success: false,
    errors: [
      {
        code: 7003,
        message: `Could not route to ${path}, perhaps your object identifier is invalid?`,
      },
      { code: 7000, message: "No route for that URI" },
    ],
    messages: [],
    result: null,
  });
}

function tokenBody(scenario: StandInScenario) {
  const { token, accountId } = scenario;
  return {
    id: token.id,
    name: "voice-edge deploy",
    status: token.status ?? "active",
    issued_on: "2026-01-01T00:00:00Z",
    modified_on: "2026-01-01T00:00:00Z",
    policies: [
      {
        id: "f267e341f3dd4697bd3b9f71dd96247f",
        effect: "allow",
        resources: {
          [`com.cloudflare.api.account.${accountId}`]: "*",
          "com.cloudflare.api.account.zone.*": "*",
        },
        permission_groups: (token.permissionGroups ?? []).map((name, index) => ({
          id: index.toString(16).padStart(32, "0"),
          name,
        })),
      },
    ],
  };
}

function scriptBody(script: StandInScript) {
  return {
    id: script.id,
    created_on: "2026-01-01T00:00:00Z",
    modified_on: "2026-01-01T00:00:00Z",
    etag: `${script.id}-etag`,
    has_modules: true,
    ...(script.migrationTag === undefined ? {} : { migration_tag: script.migrationTag }),
  };
}

interface MigrationStepMetadata {
  new_classes?: string[];
  new_sqlite_classes?: string[];
  deleted_classes?: string[];
  renamed_classes?: { from: string; to: string }[];
}

type MigrationsMetadata = MigrationStepMetadata & {
  old_tag?: string;
  new_tag?: string;
  steps?: MigrationStepMetadata[];
};

const uploadRefusal = (code: number, message: string): StandInError => ({
  status: 400,
  code,
  message,
});

/**
 * An upload's migrations against the script's live state, as the API reference words them: `old_tag`
 * is checked against the live tag (absent means "no tag yet"; 10079 when they differ), then each
 * step; a class created again over a live namespace is 10074. Returns the script after the upload.
 */
function applyUpload(
  existing: StandInScript | undefined,
  id: string,
  migrations: MigrationsMetadata | undefined,
): StandInScript | StandInError {
  const script: StandInScript = existing
    ? { ...existing, classes: [...existing.classes] }
    : { id, classes: [] };
  if (!migrations) return script;
  const live = script.migrationTag ?? null;
  if ((migrations.old_tag ?? null) !== live)
    return uploadRefusal(
      10079,
      `Migration tag precondition failed; current tag is ${live ?? "(none)"}, got ${migrations.old_tag ?? "(none)"}`,
    );
  const { steps = [migrations] } = migrations;
  for (const step of steps) {
    for (const name of [...(step.new_classes ?? []), ...(step.new_sqlite_classes ?? [])]) {
      if (script.classes.includes(name))
        return uploadRefusal(
          10074,
          `Cannot apply new-class migration to class '${name}' that is already depended on by existing Durable Objects`,
        );
      script.classes.push(name);
    }
    for (const name of step.deleted_classes ?? [])
      script.classes = script.classes.filter((c) => c !== name);
    for (const { from, to } of step.renamed_classes ?? [])
      script.classes = script.classes.map((c) => (c === from ? to : c));
  }
  if (migrations.new_tag !== undefined) script.migrationTag = migrations.new_tag;
  return script;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** `PUT /accounts/<id>/workers/scripts/<name>`: multipart, a `metadata` JSON part and the modules. */
async function upload(
  scenario: StandInScenario,
  id: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  let form: FormData;
  try {
    form = await new Response(Buffer.concat(chunks), {
      headers: { "content-type": request.headers["content-type"] ?? "" },
    }).formData();
  } catch {
    send(response, 400, failure(uploadRefusal(10001, "Expected a multipart/form-data body")));
    return;
  }
  const part = form.get("metadata");
  let metadata: { main_module?: string; migrations?: MigrationsMetadata };
  try {
    metadata = JSON.parse(typeof part === "string" ? part : ((await part?.text()) ?? ""));
  } catch {
    send(response, 400, failure(uploadRefusal(10021, "metadata must be a JSON part")));
    return;
  }
  const modules = [...form.entries()].filter(([name]) => name !== "metadata");
  const named = (main: string) =>
    modules.some(
      ([name, value]) => name === main || (value instanceof File && value.name === main),
    );
  if (!metadata.main_module || !named(metadata.main_module)) {
    send(
      response,
      400,
      failure(
        uploadRefusal(10021, `No such module: ${metadata.main_module ?? "(no main_module)"}`),
      ),
    );
    return;
  }
  const scripts = (scenario.scripts ??= []);
  const index = scripts.findIndex((s) => s.id === id);
  const result = applyUpload(scripts[index], id, metadata.migrations);
  if ("code" in result) {
    send(response, result.status, failure(result));
    return;
  }
  if (index < 0) scripts.push(result);
  else scripts[index] = result;
  send(response, 200, success(scriptBody(result)));
}

/** Which area a request is for, and how to answer it when no failure is injected. */
function route(
  scenario: StandInScenario,
  url: URL,
): { area: StandInArea; answer: (response: ServerResponse) => void } | undefined {
  const path = url.pathname.replace(/^\/client\/v4/, "");
  const account = scenario.accountId;
  const zone = scenario.zone;
  const size = scenario.pageSize ?? 100;
  const zoneMatch = path.match(/^\/zones\/([0-9a-f]{32})(\/.*)?$/);
  const zoneKnown = zoneMatch && zone && zoneMatch[1] === zone.id;
  const unknownZone = (response: ServerResponse) => notRouted(response, path);
  const zeroTrust = (answer: (response: ServerResponse) => void) => (response: ServerResponse) =>
    scenario.zeroTrust ? answer(response) : send(response, 403, failure(ZERO_TRUST_NOT_ENABLED));
  const verified = {
    id: scenario.token.id,
    status: scenario.token.status ?? "active",
    expires_on: "2027-01-01T00:00:00Z",
  };
  const invalid = (response: ServerResponse) =>
    send(response, 401, failure({ status: 401, code: 1000, message: "Invalid API Token" }));
  const forbidden = (response: ServerResponse) =>
    send(
      response,
      403,
      failure({ status: 403, code: 9109, message: "Unauthorized to access requested resource" }),
    );

  if (path === "/user/tokens/verify")
    return {
      area: "userVerify",
      answer: (r) =>
        scenario.token.owner === "user" ? send(r, 200, success(verified)) : invalid(r),
    };
  if (path === `/accounts/${account}/tokens/verify`)
    return {
      area: "accountVerify",
      answer: (r) =>
        scenario.token.owner === "account" ? send(r, 200, success(verified)) : invalid(r),
    };
  const tokenPath = path.match(/^\/(?:user|accounts\/[0-9a-f]{32})\/tokens\/([0-9a-f]{32})$/);
  if (tokenPath) {
    return {
      area: "tokenDetails",
      answer: (r) =>
        scenario.token.permissionGroups && tokenPath[1] === scenario.token.id
          ? send(r, 200, success(tokenBody(scenario)))
          : forbidden(r),
    };
  }
  if (path === `/accounts/${account}/access/organizations`) {
    return {
      area: "organizations",
      answer: zeroTrust((r) =>
        send(
          r,
          200,
          success({
            name: "Mycosoft",
            auth_domain: "mycosoft.cloudflareaccess.com",
            created_at: "2026-01-01T00:00:00Z",
          }),
        ),
      ),
    };
  }
  if (path === `/accounts/${account}/access/apps`)
    return { area: "accessApps", answer: zeroTrust((r) => paginate(r, url, [], size)) };
  if (path === `/accounts/${account}/access/service_tokens`)
    return { area: "serviceTokens", answer: zeroTrust((r) => paginate(r, url, [], size)) };
  if (path === `/accounts/${account}/workers/scripts`)
    return {
      area: "scripts",
      answer: (r) => send(r, 200, success((scenario.scripts ?? []).map(scriptBody))),
    };
  if (path === `/accounts/${account}/alerting/v3/policies`)
    return { area: "notifications", answer: (r) => send(r, 200, success([])) };
  if (path === `/accounts/${account}/d1/database`)
    return { area: "d1", answer: (r) => paginate(r, url, [], size) };
  if (path === `/accounts/${account}/cfd_tunnel`) {
    const name = url.searchParams.get("name");
    const tunnels = scenario.tunnels
      .filter((t) => name === null || t.name === name)
      .map((t) => ({
        ...t,
        account_tag: account,
        created_at: "2026-01-01T00:00:00Z",
        deleted_at: null,
        config_src: "cloudflare",
        status: "inactive",
        tun_type: "cfd_tunnel",
        connections: [],
      }));
    return { area: "tunnels", answer: (r) => paginate(r, url, tunnels, size) };
  }
  if (!zoneMatch) return undefined;
  const rest = zoneMatch[2] ?? "";
  const inZone = (area: StandInArea, answer: (response: ServerResponse) => void) => ({
    area,
    answer: zoneKnown ? answer : unknownZone,
  });
  if (rest === "") {
    return inZone("zone", (r) =>
      send(
        r,
        200,
        success({
          id: zone!.id,
          name: zone!.name,
          status: "active",
          account: { id: account },
          plan: {
            id: `${zone!.plan}-plan-id`,
            name: `${zone!.plan[0].toUpperCase()}${zone!.plan.slice(1)} Website`,
            legacy_id: zone!.plan,
          },
        }),
      ),
    );
  }
  if (rest === "/settings/ssl")
    return inZone("ssl", (r) =>
      send(
        r,
        200,
        success({
          id: "ssl",
          value: scenario.ssl,
          editable: true,
          modified_on: "2026-01-01T00:00:00Z",
        }),
      ),
    );
  if (rest === "/rulesets/phases/http_ratelimit/entrypoint") {
    const entryPoint = scenario.rateLimitEntryPoint;
    return inZone("entrypoint", (r) =>
      entryPoint
        ? send(
            r,
            200,
            success({
              id: entryPoint.id,
              name: "default",
              kind: "zone",
              phase: "http_ratelimit",
              version: "3",
              last_updated: "2026-01-01T00:00:00Z",
              rules: entryPoint.rules,
            }),
          )
        : send(
            r,
            404,
            failure({
              status: 404,
              code: 10003,
              message: "could not find entrypoint ruleset in the http_ratelimit phase",
            }),
          ),
    );
  }
  if (rest === "/rulesets")
    return inZone("rulesets", (r) =>
      send(
        r,
        200,
        success(
          scenario.rateLimitEntryPoint
            ? [
                {
                  id: scenario.rateLimitEntryPoint.id,
                  kind: "zone",
                  phase: "http_ratelimit",
                  name: "default",
                },
              ]
            : [],
        ),
      ),
    );
  if (rest === "/dns_records") {
    const exact = (
      url.searchParams.get("name.exact") ?? url.searchParams.get("name")
    )?.toLowerCase();
    const records = scenario.records
      .filter((r) => exact === undefined || r.name === exact)
      .map((r, index) => ({
        id: index.toString(16).padStart(32, "0"),
        ttl: 1,
        proxiable: true,
        comment: null,
        ...r,
      }));
    return inZone("dns", (r) => paginate(r, url, records, size));
  }
  if (rest === "/healthchecks") return inZone("healthchecks", (r) => paginate(r, url, [], size));
  if (rest === "/workers/routes")
    return inZone("routes", (r) =>
      send(
        r,
        200,
        success(
          scenario.routes.map((route, index) => ({
            id: index.toString(16).padStart(32, "0"),
            ...route,
          })),
        ),
      ),
    );
  return undefined;
}

const isSqlQuery = (scenario: StandInScenario, request: IncomingMessage) =>
  request.method === "POST" &&
  new URL(request.url ?? "/", "http://stand-in").pathname ===
    `/client/v4/accounts/${scenario.accountId}/analytics_engine/sql`;

/**
 * `POST …/analytics_engine/sql`: `SHOW TABLES` in the SQL reference's JSON format, one row per
 * dataset; any other SQL is refused as the engine refuses SQL it cannot run (422, its own text).
 */
function answerSql(scenario: StandInScenario, sql: string, response: ServerResponse): void {
  const engine = scenario.analyticsEngine ?? { enabled: true, datasets: [] };
  if (!engine.enabled) {
    send(response, ANALYTICS_ENGINE_NOT_ENABLED.status, failure(ANALYTICS_ENGINE_NOT_ENABLED));
    return;
  }
  if (!/^\s*SHOW\s+TABLES(\s+FORMAT\s+JSON)?\s*;?\s*$/i.test(sql)) {
    response.writeHead(422, { "content-type": "text/plain; charset=utf-8" });
    response.end("Input was invalid: this stand-in answers SHOW TABLES only");
    return;
  }
  send(response, 200, {
    meta: [{ name: "dataset", type: "String" }],
    data: engine.datasets.map((dataset) => ({ dataset })),
    rows: engine.datasets.length,
  });
}

function handle(
  scenario: StandInScenario,
  request: IncomingMessage,
  response: ServerResponse,
  sqlQueries: string[],
): void {
  if (scenario.hang) return;
  const url = new URL(request.url ?? "/", "http://stand-in");
  if (scenario.rateLimited) {
    send(
      response,
      429,
      failure({
        status: 429,
        code: 971,
        message: "Please wait and consider throttling your request speed",
      }),
      { "retry-after": "60" },
    );
    return;
  }
  const authorization = request.headers.authorization ?? "";
  if (authorization !== `Bearer ${scenario.token.value}`) {
    const isVerify = /\/tokens\/verify$/.test(url.pathname);
    send(
      response,
      isVerify ? 401 : 403,
      failure(
        isVerify
          ? { status: 401, code: 1000, message: "Invalid API Token" }
          : { status: 403, code: 10000, message: "Authentication error" },
      ),
    );
    return;
  }
  const uploadPath = url.pathname.match(
    new RegExp(`^/client/v4/accounts/${scenario.accountId}/workers/scripts/([a-z0-9-]+)$`),
  );
  if (request.method === "PUT" && uploadPath && scenario.scripts) {
    const injected = scenario.failures?.scripts;
    if (injected) send(response, injected.status, failure(injected));
    else void upload(scenario, uploadPath[1], request, response);
    return;
  }
  if (isSqlQuery(scenario, request)) {
    void readBody(request).then((sql) => {
      sqlQueries.push(sql);
      const injected = scenario.failures?.analyticsSql;
      if (injected) send(response, injected.status, failure(injected));
      else answerSql(scenario, sql, response);
    });
    return;
  }
  const matched = request.method === "GET" ? route(scenario, url) : undefined;
  if (!matched) {
    notRouted(response, url.pathname);
    return;
  }
  const injected = scenario.failures?.[matched.area];
  if (injected) send(response, injected.status, failure(injected));
  else matched.answer(response);
}

/** Starts the stand-in on 127.0.0.1 (a free port); `close()` drops every connection, hanging ones too. */
export async function startCloudflareApiStandIn(scenario: StandInScenario): Promise<StandIn> {
  const requests: string[] = [];
  const writes: string[] = [];
  const sqlQueries: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (request.method !== "GET" && !isSqlQuery(scenario, request))
      writes.push(`${request.method} ${request.url}`);
    handle(scenario, request, response, sqlQueries);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    requests,
    writes,
    sqlQueries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

import Cloudflare, { APIError } from "cloudflare";
import { afterEach, describe, expect, it } from "vitest";
import {
  startCloudflareApiStandIn,
  type StandIn,
  type StandInScenario,
  type StandInScript,
} from "../test/support/cloudflareApiStandIn";
import { LINE_CLASS_NAME, LINE_MIGRATIONS } from "../worker/src/line/contract";
import {
  LineScriptReadError,
  migrationsMetadata,
  pendingLineMigrations,
  readLiveLineScript,
  UnknownMigrationTagError,
  type LineMigration,
} from "./lineMigrations";

const SCRIPT = "voice-edge-prod-line";
const ACCOUNT = "a".repeat(32);
const TOKEN = "line-migrations-test-token";
const V1 = { newTag: "v1", steps: [{ newSqliteClasses: [LINE_CLASS_NAME] }] };
/** A later migration, as a future coordinator might add one: the logic must take it after v1. */
const WITH_V2: LineMigration[] = [...LINE_MIGRATIONS, { tag: "v2", newSqliteClasses: ["Tally"] }];

describe("the migrations the line script's next upload carries", () => {
  it.each([
    ["no line script yet (a first up)", { exists: false } as const, V1],
    ["a script without a migration tag", { exists: true, migrationTag: null } as const, V1],
    [
      "a script whose live tag is the last one",
      { exists: true, migrationTag: "v1" } as const,
      undefined,
    ],
  ])("%s", (_case, live, expected) => {
    expect(pendingLineMigrations(SCRIPT, live)).toEqual(expected);
  });

  it("only those after the live tag, checked against it with oldTag", () => {
    expect(pendingLineMigrations(SCRIPT, { exists: true, migrationTag: "v1" }, WITH_V2)).toEqual({
      oldTag: "v1",
      newTag: "v2",
      steps: [{ newSqliteClasses: ["Tally"] }],
    });
    expect(pendingLineMigrations(SCRIPT, { exists: false }, WITH_V2)).toEqual({
      newTag: "v2",
      steps: [{ newSqliteClasses: [LINE_CLASS_NAME] }, { newSqliteClasses: ["Tally"] }],
    });
  });

  it("refuses a live tag the program does not know, naming the script, the tag and the known ones", () => {
    expect(() => pendingLineMigrations(SCRIPT, { exists: true, migrationTag: "v7" })).toThrow(
      UnknownMigrationTagError,
    );
    expect(() => pendingLineMigrations(SCRIPT, { exists: true, migrationTag: "v7" })).toThrow(
      `the line script ${SCRIPT} carries Durable Object migration tag "v7", which this program's LINE_MIGRATIONS (v1) does not know`,
    );
  });

  it("are written in the API's words for the upload's metadata", () => {
    expect(migrationsMetadata({ oldTag: "v1", ...V1 })).toEqual({
      old_tag: "v1",
      new_tag: "v1",
      steps: [{ new_sqlite_classes: [LINE_CLASS_NAME] }],
    });
    expect(migrationsMetadata(undefined)).toBeUndefined();
  });
});

describe("repeated ups against the API stand-in, through the real SDK", () => {
  let standIn: StandIn | undefined;
  afterEach(async () => {
    await standIn?.close();
    standIn = undefined;
  });

  async function account(scripts: StandInScript[], failures?: StandInScenario["failures"]) {
    standIn = await startCloudflareApiStandIn({
      accountId: ACCOUNT,
      token: { value: TOKEN, id: "1".repeat(32), owner: "user" },
      zeroTrust: true,
      ssl: "strict",
      records: [],
      routes: [],
      tunnels: [],
      scripts,
      ...(failures ? { failures } : {}),
    });
    const client = new Cloudflare({
      apiToken: TOKEN,
      apiKey: null,
      apiEmail: null,
      userServiceKey: null,
      baseURL: standIn.url,
      maxRetries: 0,
    });
    /** One upload of the line script as the provider sends it: its module and metadata, migrations included. */
    const upload = (migrations: ReturnType<typeof pendingLineMigrations>, code: string) => {
      const metadata = {
        main_module: "line.mjs",
        compatibility_date: "2026-04-01",
        ...(migrations ? { migrations: migrationsMetadata(migrations) } : {}),
      };
      return client.workers.scripts.update(
        SCRIPT,
        {
          account_id: ACCOUNT,
          // The reference's shape: one JSON part named metadata. Given an object, the SDK would
          // flatten it into metadata[…] form fields instead.
          metadata: new File([JSON.stringify(metadata)], "metadata.json", {
            type: "application/json",
          }) as never,
          files: [new File([code], "line.mjs", { type: "application/javascript+module" })],
        },
        // SDK 7.3 labels this multipart body application/javascript; let fetch give its boundary.
        { headers: { "Content-Type": null } },
      );
    };
    /** What the program does on each up: read the live tag, upload only what is pending. */
    const programUp = async (
      code: string,
      migrations: readonly LineMigration[] = LINE_MIGRATIONS,
    ) =>
      upload(
        pendingLineMigrations(
          SCRIPT,
          await readLiveLineScript(client, ACCOUNT, SCRIPT),
          migrations,
        ),
        code,
      );
    /** A program that always declares its migrations: what the provider would re-send every time. */
    const naiveUp = (code: string) =>
      upload(pendingLineMigrations(SCRIPT, { exists: false }), code);
    return { client, upload, programUp, naiveUp };
  }

  const refusalCode = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => (error instanceof APIError ? error.errors[0]?.code : error),
    );

  const bundle = (n: number) => `export class FleetLine { n = ${n}; }\nexport default {};\n`;

  it("first up: no script, so v1 is applied", async () => {
    const { programUp, client } = await account([]);
    await programUp(bundle(1));
    expect(await readLiveLineScript(client, ACCOUNT, SCRIPT)).toEqual({
      exists: true,
      migrationTag: "v1",
    });
  });

  it("second up with a new bundle: v1 is live, so nothing is sent and the upload succeeds; the naive program's is refused with 10079", async () => {
    const { programUp, naiveUp, client } = await account([]);
    await programUp(bundle(1));
    expect(await refusalCode(naiveUp(bundle(2)))).toBe(10079);
    await programUp(bundle(2));
    await programUp(bundle(3));
    expect(await readLiveLineScript(client, ACCOUNT, SCRIPT)).toEqual({
      exists: true,
      migrationTag: "v1",
    });
    expect(standIn?.writes).toHaveLength(4);
  });

  it("an up after a failed one whose upload went through (the script has v1): nothing is sent", async () => {
    const { programUp, naiveUp } = await account([
      { id: SCRIPT, migrationTag: "v1", classes: [LINE_CLASS_NAME] },
    ]);
    expect(await refusalCode(naiveUp(bundle(2)))).toBe(10079);
    await expect(programUp(bundle(2))).resolves.toMatchObject({ id: SCRIPT });
  });

  it("an up after a failed one that left the script without a tag: every migration, with no old_tag", async () => {
    const { programUp, client } = await account([{ id: SCRIPT, classes: [] }]);
    await programUp(bundle(2));
    expect(await readLiveLineScript(client, ACCOUNT, SCRIPT)).toEqual({
      exists: true,
      migrationTag: "v1",
    });
  });

  it("a create replayed over the live class is refused with 10074, even with the right old_tag", async () => {
    const { upload } = await account([
      { id: SCRIPT, migrationTag: "v1", classes: [LINE_CLASS_NAME] },
    ]);
    expect(await refusalCode(upload({ oldTag: "v1", ...V1 }, bundle(2)))).toBe(10074);
  });

  it("a later migration is applied once, after v1, and then never again", async () => {
    const { programUp, client } = await account([]);
    await programUp(bundle(1));
    await programUp(bundle(2), WITH_V2);
    await programUp(bundle(3), WITH_V2);
    expect(await readLiveLineScript(client, ACCOUNT, SCRIPT)).toEqual({
      exists: true,
      migrationTag: "v2",
    });
  });

  it("fails closed when the tag cannot be read: one line naming the script and the API's answer, and no upload", async () => {
    const { programUp } = await account([], {
      scripts: { status: 403, code: 10000, message: "Authentication error" },
    });
    const error = await programUp(bundle(1)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(LineScriptReadError);
    expect(error?.message).toMatch(
      new RegExp(
        `^cannot read the line script ${SCRIPT}'s Durable Object migration tag \\(HTTP 403: 10000 Authentication error\\)`,
      ),
    );
    expect(error?.message).not.toContain("\n");
    expect(standIn?.writes).toEqual([]);
  });
});

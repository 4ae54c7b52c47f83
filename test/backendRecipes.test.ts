/**
 * The backend recipes of docs/backend-recipes.md (the README's "Your website's backend" links
 * there), exactly as printed: each block is taken from the page by its marker, run (node, python3) with the local development secret and the staging
 * stack's issuer and audience — what `npm run dev` runs — and its token is presented to the real
 * edge in workerd, as a page would.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackSettings, PROJECT_ROOT } from "../infra/config/stackFiles";
import type { StackSettings } from "../infra/config/schema";
import { startStandinBridge, type StandinBridge } from "../tools/lib/bridgeProcess";
import { localDevSecret } from "../tools/lib/devSecret";
import { localEdgeBindings } from "../tools/lib/localBindings";
import { PERSONAPLEX_QUERY } from "./support/bridge";
import { expectOpen, expectRefused, startTestEdge, type TestEdge } from "./support/edge";

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), "utf8");
const RECIPES_PAGE = "docs/backend-recipes.md";

/** The fenced block right after `<!-- backend-recipe: <name> -->` in the recipes page, as printed. */
function recipeBlock(name: string): string {
  const marker = `<!-- backend-recipe: ${name} -->`;
  const page = read(RECIPES_PAGE);
  const at = page.indexOf(marker);
  expect(at, `${RECIPES_PAGE} has no ${marker}`).toBeGreaterThan(-1);
  const block = page.slice(at + marker.length).match(/^\s*```[a-z]*\n([\s\S]*?)^```$/m);
  expect(block, `no code block follows ${marker}`).not.toBeNull();
  return block![1];
}

const RECIPES = [
  { name: "node", file: "voice-token.mjs", command: "node" },
  { name: "python", file: "voice_token.py", command: "python3" },
] as const;
type Recipe = (typeof RECIPES)[number];

const staging = loadStackSettings("staging");
const prod = loadStackSettings("prod");

function jwtAuth(settings: StackSettings) {
  const auth = settings.edge.auth;
  if (auth.mode !== "jwt") throw new Error("the stack's edge.auth.mode is off");
  return auth;
}

/** The env the recipes page tells a local backend to set: the dev secret, staging's issuer and audience. */
const localEnv = () => ({
  VOICE_EDGE_JWT_SECRET: localDevSecret(),
  VOICE_EDGE_ISSUER: jwtAuth(staging).issuer!,
  VOICE_EDGE_AUDIENCE: jwtAuth(staging).audience!,
});

let workDir: string;

/** Writes the recipe's block to its file and runs it with `subject`, returning the token it prints. */
function mint(recipe: Recipe, subject: string, env: Record<string, string>): string {
  const path = join(workDir, recipe.file);
  writeFileSync(path, recipeBlock(recipe.name));
  const run = spawnSync(recipe.command, [path, subject], {
    cwd: workDir,
    encoding: "utf8",
    env: { PATH: process.env.PATH, ...env },
    timeout: 20_000,
  });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  const lines = run.stdout.split("\n").filter(Boolean);
  expect(lines).toHaveLength(1);
  return lines[0];
}

const segment = (token: string, index: number) =>
  JSON.parse(Buffer.from(token.split(".")[index], "base64url").toString("utf8"));

/** The lifetime cap the section recommends, on, so the test also proves the recipes' `iat`. */
const MAX_LIFETIME_SECONDS = 600;

let bridge: StandinBridge;
let edge: TestEdge;
/** A page of the staging site. */
const pageOrigin = staging.edge.allowedOrigins[0];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "backend-recipes-"));
  bridge = await startStandinBridge({ mode: "personaplex", promptDelayMs: 0 });
  const capped: StackSettings = {
    ...staging,
    edge: {
      ...staging.edge,
      auth: { ...jwtAuth(staging), maxTokenLifetimeSeconds: MAX_LIFETIME_SECONDS },
    },
  };
  // The edge as `npm run dev` runs it (the staging stack with the local overrides), plus the cap.
  // The page origins dev adds for its port are not used here: the page is staging's own.
  const { bindings } = localEdgeBindings(capped, {
    bridges: { url: `${bridge.origin}/api/chat` },
    port: 8787,
    devSecret: localDevSecret(),
  });
  edge = await startTestEdge(bindings);
});

afterAll(async () => {
  await edge?.dispose();
  await bridge?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("the backend recipes against the local edge", () => {
  it.each(RECIPES)(
    "mints with the $name recipe a token the local edge accepts: 101 and the bridge's 0x00",
    async (recipe) => {
      const token = mint(recipe, `user-${recipe.name}`, localEdgeEnvFromPage());
      expect(segment(token, 0)).toEqual({ alg: "HS256", typ: "JWT" });
      const claims = segment(token, 1);
      expect(claims).toMatchObject({
        sub: `user-${recipe.name}`,
        iss: jwtAuth(staging).issuer,
        aud: jwtAuth(staging).audience,
      });
      expect(claims.exp - claims.iat).toBeGreaterThan(0);
      expect(claims.exp - claims.iat).toBeLessThanOrEqual(MAX_LIFETIME_SECONDS);
      const session = await expectOpen(`${edge.wsOrigin}/voice/ws?${PERSONAPLEX_QUERY}`, {
        protocols: ["voice.v1", `bearer.${token}`],
        headers: { Origin: pageOrigin },
      });
      expect(session.protocol).toBe("voice.v1");
      expect((await session.next()).data).toEqual(Buffer.from([0]));
      session.ws.close(1000);
      await session.closed;
    },
  );

  it.each(RECIPES)(
    "refuses the $name recipe's token minted with prod's issuer: 401 token_issuer_invalid",
    async (recipe) => {
      const token = mint(recipe, "user-prod", {
        ...localEnv(),
        VOICE_EDGE_ISSUER: jwtAuth(prod).issuer!,
      });
      const refusal = await expectRefused(`${edge.wsOrigin}/voice/ws?${PERSONAPLEX_QUERY}`, {
        protocols: ["voice.v1", `bearer.${token}`],
        headers: { Origin: pageOrigin },
      });
      expect(refusal.status).toBe(401);
      expect(refusal.body.error).toBe("token_issuer_invalid");
    },
  );

  it("tells a local backend the development secret and the staging stack's issuer and audience", () => {
    expect(localEdgeEnvFromPage()).toEqual(localEnv());
  });

  it("shows no token minted with an issuer written into the code: the recipes read it from the environment", () => {
    const pages = [
      "README.md",
      ...readdirSync(join(PROJECT_ROOT, "docs"))
        .filter((file) => file.endsWith(".md"))
        .map((file) => `docs/${file}`),
    ];
    const literalIssuers = pages.flatMap((page) =>
      [...read(page).matchAll(/^```[\s\S]*?^```/gm)]
        .flatMap(([block]) => block.match(/setIssuer\(\s*["'`]|["']?\biss["']?\s*:\s*["'`]/g) ?? [])
        .map((found) => `${page}: ${found}`),
    );
    expect(literalIssuers).toEqual([]);
  });
});

/**
 * The recipes page's local `export`s, evaluated by sh in the repository (so `$(cat …)` reads the real
 * development secret): the env a reader's backend would get.
 */
function localEdgeEnvFromPage(): Record<string, string> {
  const block = recipeBlock("local-env");
  const exports = block
    .split("\n")
    .filter((line) => line.startsWith("export "))
    .join("\n");
  expect(exports).not.toBe("");
  localDevSecret();
  const run = spawnSync(
    "sh",
    [
      "-c",
      `${exports}\nprintf '%s\\n' "$VOICE_EDGE_JWT_SECRET" "$VOICE_EDGE_ISSUER" "$VOICE_EDGE_AUDIENCE"`,
    ],
    { cwd: PROJECT_ROOT, encoding: "utf8", env: { PATH: process.env.PATH } },
  );
  expect(run.status).toBe(0);
  const [secret, issuer, audience] = run.stdout.split("\n");
  return {
    VOICE_EDGE_JWT_SECRET: secret,
    VOICE_EDGE_ISSUER: issuer,
    VOICE_EDGE_AUDIENCE: audience,
  };
}

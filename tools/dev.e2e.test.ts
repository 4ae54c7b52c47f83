import { describe, expect, it } from "vitest";
import { expectOpen, expectRefused } from "../test/support/edge";
import { PERSONAPLEX_QUERY } from "../test/support/bridge";
import { devForTheseTests, groupEndsAfterSigterm } from "../test/support/devProcess";
import { runInProcess } from "../test/support/runInProcess";

const WEBSITE = "http://localhost:3000";

async function prodToken(): Promise<string> {
  const run = await runInProcess("token", ["--stack", "prod"]);
  if (run.code !== 0) throw new Error(`token exited ${run.code}: ${run.stderr}`);
  return run.stdout.trim();
}

const local = devForTheseTests((port) => ({
  args: ["--stack", "prod", "--port", String(port), "--allow-origin", WEBSITE],
  env: { BRIDGE_URL: "" },
}));

describe("npm run dev -- --stack prod --allow-origin http://localhost:3000", () => {
  it("prints next commands that mint tokens for the chosen stack", () => {
    // --silent on both: without it npm echoes the script's arguments, the token among them.
    expect(local.output).toContain(
      `npm run --silent smoke -- --url ws://127.0.0.1:${local.port}/voice/ws --token "$(npm run --silent token -- --stack prod)"`,
    );
    expect(local.output).not.toMatch(/npm run (?!--silent)[^\n]*--token/);
    // wscat is not a dependency, and it needs a terminal.
    expect(local.output).not.toContain("wscat");
    // The website's origin was given: no hint to give it.
    expect(local.output).not.toContain("run dev with --allow-origin");
  });

  it("lists the website's origin among the local overrides", () => {
    expect(local.output).toContain(
      `allowedOrigins += http://127.0.0.1:${local.port}, http://localhost:${local.port}, ${WEBSITE}`,
    );
  });

  it("lets in an upgrade from the local website's Origin, and still refuses another", async () => {
    const jwt = await prodToken();
    const protocols = ["voice.v1", `bearer.${jwt}`];
    const session = await expectOpen(`ws://127.0.0.1:${local.port}/voice/ws?${PERSONAPLEX_QUERY}`, {
      protocols,
      headers: { Origin: WEBSITE },
    });
    expect((await session.next()).data).toEqual(Buffer.from([0]));
    session.ws.close(1000);
    const refusal = await expectRefused(`ws://127.0.0.1:${local.port}/voice/ws`, {
      protocols,
      headers: { Origin: "http://localhost:4000" },
    });
    expect(refusal.status).toBe(403);
  });

  it(
    "has npm run smoke name wss:// against this plain edge from its plain-HTTP probe, not at its timeout",
    { timeout: 90_000 },
    async () => {
      // At its timeout smoke would say "FAIL no 101 within 30000 ms"; this line comes only from the probe.
      const run = await runInProcess("smoke", [
        "--url",
        `wss://127.0.0.1:${local.port}/voice/ws`,
        "--token",
        "x.y.z",
        "--timeout-ms",
        "30000",
      ]);
      expect(run.stderr).toBe(
        `smoke: FAIL 127.0.0.1:${local.port} answers without TLS but the URL is wss://: use ws://127.0.0.1:${local.port}/voice/ws (the local edge is plain ws://)\n`,
      );
      expect(run.stderr).not.toContain("no 101 within");
      expect(run.code).toBe(1);
    },
  );

  it("stops tsx, workerd and the stand-in bridge when only npm's own process gets SIGTERM", async () => {
    expect(await groupEndsAfterSigterm(local.process, 5_000)).toBe(true);
  });
});

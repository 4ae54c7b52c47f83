import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { describe, expect, it } from "vitest";
import { expectOpen, expectRefused } from "../test/support/edge";
import { devForTheseTests, processGroupAlive } from "../test/support/devProcess";
import { freePort } from "../test/support/freePort";
import { PROJECT_ROOT } from "../infra/config/stackFiles";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

function token(...args: string[]): string {
  const result = spawnSync("npm", ["run", "--silent", "token", "--", ...args], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`token exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

function smoke(...args: string[]) {
  return spawnSync("npm", ["run", "--silent", "smoke", "--", ...args], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  });
}

const local = devForTheseTests((port) => ({
  args: [],
  env: { PORT: String(port), BRIDGE_URL: "" },
}));

describe("npm run dev and npm run token", () => {
  it("prints the bundle size, the ws URL and the next command", () => {
    expect(local.output).toMatch(/worker bundle .*: [\d.]+ KiB/);
    expect(local.output).toContain(`ws://127.0.0.1:${local.port}/voice/ws`);
    expect(local.output).toContain("npm run --silent token");
  });

  it("prints nothing but a JWT from npm run --silent token", () => {
    expect(token()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it("issues tokens the local edge accepts, with the subject and lifetime asked for", async () => {
    const jwt = token("--sub", "dana", "--ttl", "2m").trim();
    const claims = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
    expect(claims.sub).toBe("dana");
    expect(claims.exp - claims.iat).toBe(120);
    const session = await expectOpen(`ws://127.0.0.1:${local.port}/voice/ws?x=1`, {
      protocols: ["voice.v1", `bearer.${jwt}`],
    });
    expect((await session.next()).data).toEqual(Buffer.from([0]));
    session.ws.close(1000);
  });

  it("issues tokens for another audience on request, which the edge refuses", async () => {
    const refusal = await expectRefused(`ws://127.0.0.1:${local.port}/voice/ws`, {
      protocols: ["voice.v1", `bearer.${token("--aud", "other").trim()}`],
    });
    expect(refusal.body.error).toBe("token_audience_invalid");
  });

  it("explains a bad --ttl on stderr and exits non-zero", () => {
    const result = spawnSync("npm", ["run", "--silent", "token", "--", "--ttl", "soon"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    });
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain('--ttl "soon"');
  });

  it("round-trips binary frames from headless Chromium through the local edge", async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run npm run setup:test`).toBe(true);
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${local.port}/voice/health`);
      const jwt = token().trim();
      const result = await page.evaluate(
        async ({ url, jwt }) => {
          const ws = new WebSocket(url, ["voice.v1", `bearer.${jwt}`]);
          ws.binaryType = "arraybuffer";
          const frames: number[][] = [];
          const sent = [[1, 2, 3], Array.from({ length: 640 }, (_, i) => i % 256)];
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`timed out with ${frames.length} frames`)),
              10_000,
            );
            ws.onerror = () => reject(new Error("websocket error"));
            ws.onopen = () => sent.forEach((frame) => ws.send(new Uint8Array(frame)));
            ws.onmessage = (event) => {
              frames.push(Array.from(new Uint8Array(event.data as ArrayBuffer)));
              if (frames.length === sent.length + 1) {
                clearTimeout(timer);
                resolve();
              }
            };
          });
          const protocol = ws.protocol;
          ws.close(1000);
          return { protocol, frames, sent };
        },
        { url: `ws://127.0.0.1:${local.port}/voice/ws?session=browser`, jwt },
      );
      expect(result.protocol).toBe("voice.v1");
      expect(result.frames).toEqual([[0], ...result.sent]);
    } finally {
      await browser.close();
    }
  });

  it("passes npm run smoke against the local edge, printing its timings", () => {
    const result = smoke(
      "--url",
      `ws://127.0.0.1:${local.port}/voice/ws`,
      "--token",
      token().trim(),
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("smoke: ok");
    expect(result.stdout).toMatch(/upgrade to 101 +[\d.]+ ms/);
    expect(result.stdout).toMatch(/binary round trip \(640 B\) +[\d.]+ ms/);
    expect(result.stdout).toMatch(/GET \/voice\/health +[\d.]+ ms/);
  });

  it("fails npm run smoke in one line on a bad token", () => {
    const result = smoke(
      "--url",
      `ws://127.0.0.1:${local.port}/voice/ws`,
      "--token",
      token("--aud", "someone-else").trim(),
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      "smoke: FAIL upgrade refused: HTTP 401 token_audience_invalid",
    );
  });

  it("fails npm run smoke in one line against a stopped edge", async () => {
    const stopped = await freePort();
    const result = smoke("--url", `ws://127.0.0.1:${stopped}/voice/ws`, "--token", "x.y.z");
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      `smoke: FAIL cannot connect to 127.0.0.1:${stopped}: connection refused (is the edge running?)`,
    );
  });

  it("signs with a secret from the environment when asked, for smoke tests against deployed stacks", () => {
    const result = spawnSync(
      "npm",
      ["run", "--silent", "token", "--", "--secret-env", "SMOKE_SECRET"],
      { cwd: PROJECT_ROOT, encoding: "utf8", env: { ...process.env, SMOKE_SECRET: "" } },
    );
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      "--secret-env SMOKE_SECRET: that environment variable is empty or unset",
    );
  });

  it("stops the edge, workerd and the stand-in bridge on Ctrl-C, leaving no process behind", async () => {
    const exited = new Promise<string>((resolve) =>
      local.process.once("exit", (code, signal) => resolve(`${code ?? signal}`)),
    );
    process.kill(-local.process.pid!, "SIGINT");
    // npm re-raises the SIGINT it forwarded; tools/dev.ts itself exits 0.
    expect(["0", "SIGINT"]).toContain(await exited);
    await expect.poll(() => processGroupAlive(local.process.pid!), { timeout: 5_000 }).toBe(false);
  });
});

import { spawnSync } from "node:child_process";
import type { Browser } from "playwright-core";
import { launchChromium } from "../test/support/chromium";
import { describe, expect, it } from "vitest";
import { PERSONAPLEX_QUERY } from "../test/support/bridge";
import { expectOpen, expectRefused } from "../test/support/edge";
import { devForTheseTests, processGroupAlive } from "../test/support/devProcess";
import { freePort } from "../test/support/freePort";
import { runInProcess } from "../test/support/runInProcess";
import { PROJECT_ROOT } from "../infra/config/stackFiles";

/** `npm run --silent token` as a process: what a user's shell gets from it, npm's part included. */
function tokenProcess(): string {
  const result = spawnSync("npm", ["run", "--silent", "token"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`token exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/** The token command's JWT (run in this process). */
async function token(...args: string[]): Promise<string> {
  const run = await runInProcess("token", args);
  if (run.code !== 0) throw new Error(`token exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

function smoke(...args: string[]) {
  return runInProcess("smoke", args);
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

  it("runs the PersonaPlex stand-in and prints examples with session options it accepts", () => {
    expect(local.output).toMatch(
      /bridge {5}PersonaPlex stand-in at http:\/\/127\.0\.0\.1:\d+\/api\/chat/,
    );
    // The page's example: the client kit the edge serves, with session options the server accepts.
    const example = /^ {2}in a page: {2}.*import\("([^"]+)"\).*query: (\{[^}]*\})/m.exec(
      local.output,
    );
    expect(example?.[1]).toBe(`http://127.0.0.1:${local.port}/voice/kit/v1/voice.mjs`);
    const query = JSON.parse(example![2]) as Record<string, string>;
    expect(query.voice_prompt).toBe("NATF2.pt");
    expect(query.text_prompt).toBeTruthy();
    expect(query).not.toHaveProperty("seed");
  });

  it("prints nothing but a JWT from npm run --silent token", () => {
    expect(tokenProcess()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it("issues tokens the local edge accepts, with the subject and lifetime asked for", async () => {
    const jwt = (await token("--sub", "dana", "--ttl", "2m")).trim();
    const claims = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
    expect(claims.sub).toBe("dana");
    expect(claims.exp - claims.iat).toBe(120);
    const session = await expectOpen(`ws://127.0.0.1:${local.port}/voice/ws?${PERSONAPLEX_QUERY}`, {
      protocols: ["voice.v1", `bearer.${jwt}`],
    });
    expect((await session.next()).data).toEqual(Buffer.from([0]));
    session.ws.close(1000);
  });

  it("issues tokens for another audience on request, which the edge refuses", async () => {
    const refusal = await expectRefused(`ws://127.0.0.1:${local.port}/voice/ws`, {
      protocols: ["voice.v1", `bearer.${(await token("--aud", "other")).trim()}`],
    });
    expect(refusal.body.error).toBe("token_audience_invalid");
  });

  it("explains a bad --ttl on stderr and exits non-zero", async () => {
    const result = await runInProcess("token", ["--ttl", "soon"]);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain('--ttl "soon"');
  });

  it("connects headless Chromium like the PersonaPlex web client: 0x00, then audio answered with audio", async () => {
    const browser: Browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${local.port}/voice/health`);
      // The web client's own query (text_seed and audio_seed are fine; only `seed` breaks the server), the token as access_token.
      const query = new URLSearchParams({
        text_temperature: "0.7",
        text_topk: "25",
        audio_temperature: "0.8",
        audio_topk: "250",
        pad_mult: "0",
        text_seed: "1234",
        audio_seed: "5678",
        repetition_penalty_context: "64",
        repetition_penalty: "1.0",
        access_token: (await token()).trim(),
      });
      const result = await page.evaluate(async (url) => {
        const ws = new WebSocket(url);
        ws.binaryType = "arraybuffer";
        const frames: number[][] = [];
        const audio = [1, ...Array.from({ length: 160 }, (_, i) => i % 256)];
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`timed out with ${frames.length} frames`)),
            10_000,
          );
          ws.onerror = () => reject(new Error("websocket error"));
          ws.onclose = (event) => reject(new Error(`closed with ${event.code}`));
          ws.onmessage = (event) => {
            const frame = Array.from(new Uint8Array(event.data as ArrayBuffer));
            frames.push(frame);
            if (frame.length === 1 && frame[0] === 0) ws.send(new Uint8Array(audio));
            else if (frame[0] === 1) {
              clearTimeout(timer);
              resolve();
            }
          };
        });
        const protocol = ws.protocol;
        ws.onclose = null;
        ws.close(1000);
        return { protocol, frames, audio };
      }, `ws://127.0.0.1:${local.port}/voice/ws?${query}&${PERSONAPLEX_QUERY}`);
      expect(result.protocol).toBe("");
      expect(result.frames[0]).toEqual([0]);
      expect(result.frames).toHaveLength(2);
      expect(result.frames[1][0]).toBe(1);
      expect(result.frames[1]).not.toEqual(result.audio);
    } finally {
      await browser.close();
    }
  });

  it("runs npm run smoke as dev prints it: through the edge and the guard to the PersonaPlex stand-in, health ok", async () => {
    const result = await smoke(
      "--url",
      `ws://127.0.0.1:${local.port}/voice/ws`,
      "--token",
      (await token()).trim(),
    );
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^smoke: ok — .*bridge health ok: 1 of 1 up, 1 free\)/m);
    expect(result.stdout).toContain("bridge handshake frame");
    expect(result.code).toBe(0);
  });

  it("says it runs the guard in front of the stand-in", () => {
    expect(local.output).toMatch(/^ {2}guard {6}HAProxy at http:\/\/127\.0\.0\.1:\d+/m);
  });

  it("fails npm run smoke in one line on a bad token", async () => {
    const result = await smoke(
      "--url",
      `ws://127.0.0.1:${local.port}/voice/ws`,
      "--token",
      (await token("--aud", "someone-else")).trim(),
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      "smoke: FAIL upgrade refused: HTTP 401 token_audience_invalid",
    );
  });

  it("fails npm run smoke in one line against a stopped edge", async () => {
    const stopped = await freePort();
    const result = await smoke("--url", `ws://127.0.0.1:${stopped}/voice/ws`, "--token", "x.y.z");
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `smoke: FAIL cannot connect to 127.0.0.1:${stopped}: connection refused (is the edge running?)`,
    );
  });

  it("signs with a secret from the environment when asked, for smoke tests against deployed stacks", async () => {
    const result = await runInProcess("token", ["--secret-env", "SMOKE_SECRET"], {
      env: { SMOKE_SECRET: "" },
    });
    expect(result.code).not.toBe(0);
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

import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../test/support/chromium";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devForTheseTests } from "../test/support/devProcess";
import { copyOfFixtureStacks, stackDirEnv } from "../test/support/fixtureStacks";
import { freePort } from "../test/support/freePort";
import { pidListeningOn } from "../test/support/listeningPid";
import { PROJECT_ROOT, loadStackSettings, stackFileName } from "../infra/config/stackFiles";
import { localDevSecret } from "./lib/devSecret";
import { signDevToken } from "./lib/devToken";
import { startDemoServer, type DemoServer } from "./lib/demoServer";
import { KIT_PATH } from "../worker/src/kit";

/**
 * The demo page in Debian's Chromium against `npm run dev -- --bridges 2` on a stack with the line
 * on: two PersonaPlex stand-ins behind real guards, the line script beside the edge. One dev
 * process, one browser, a page per visitor; each page is a visitor of its own (its token's subject).
 */
/** Where the screenshots go, one per state reached: a picture a person can look at. */
const SCREENSHOTS = join(PROJECT_ROOT, "test-output", "demo");

const stackDir = copyOfFixtureStacks("voice-edge-demo-page-");
appendFileSync(join(stackDir, stackFileName("staging")), "  voice-edge:line:\n    enabled: true\n");
afterAll(() => rmSync(stackDir, { recursive: true, force: true }));

interface Attempt {
  attempt: number;
  socket: "voice" | "line";
  closeCode: number | null;
  reason: Record<string, unknown> | null;
}
interface State {
  state: string;
  attempt?: number;
  position?: number | null;
  newConversation?: boolean;
  reason?: string;
  closeCode?: number | null;
  detail?: Record<string, unknown>;
}

/** One open demo page and the `POST /token` requests it made, counted by the browser. */
interface DemoPage {
  page: Page;
  tokenRequests(): number;
}

/** The stand-ins dev lists at start: each bridge's guard origin and its stand-in's origin. */
function listedFleet(output: string): { guard: string; standin: string }[] {
  return [
    ...output.matchAll(
      /^ {4}bridge-\d+ +(http:\/\/127\.0\.0\.1:\d+)\/api\/chat → stand-in (http:\/\/127\.0\.0\.1:\d+)/gm,
    ),
  ].map(([, guard, standin]) => ({ guard, standin }));
}

async function guardSessions(guardOrigin: string): Promise<number> {
  const response = await fetch(`${guardOrigin}/health`);
  return ((await response.json()) as { sessions: number }).sessions;
}

describe("the demo page (npm run dev -- --bridges 2, the line on) in Chromium", () => {
  const dev = devForTheseTests((port) => ({
    args: ["--port", String(port), "--bridges", "2"],
    env: { BRIDGE_URL: "", ...stackDirEnv(stackDir) },
  }));
  let browser: Browser;
  let demoOrigin: string;
  const pages: Page[] = [];

  beforeAll(async () => {
    rmSync(SCREENSHOTS, { recursive: true, force: true });
    mkdirSync(SCREENSHOTS, { recursive: true });
    demoOrigin = /^ {2}demo page {2}(http:\/\/127\.0\.0\.1:\d+)\//m.exec(dev.output)![1];
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    console.log(`demo page screenshots: ${SCREENSHOTS}`);
  });

  async function openDemo(query = "", origin = demoOrigin): Promise<DemoPage> {
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    pages.push(page);
    let tokens = 0;
    page.on("request", (request) => {
      if (new URL(request.url()).pathname === "/token") tokens += 1;
    });
    await page.goto(`${origin}/${query}`);
    await page.waitForSelector("#connect:enabled", { timeout: 10_000 });
    return { page, tokenRequests: () => tokens };
  }

  const statesOf = (page: Page) =>
    page.evaluate(() => (window as unknown as { demo: { states: State[] } }).demo.states);
  const attemptsOf = (page: Page) =>
    page.evaluate(() => (window as unknown as { demo: { attempts: Attempt[] } }).demo.attempts);
  const stateNow = (page: Page) => page.locator("#state").getAttribute("data-state");

  const matches = (state: State, wanted: Partial<State>) =>
    Object.entries(wanted).every(
      ([key, value]) => (state as unknown as Record<string, unknown>)[key] === value,
    );

  /** Waits until the page has reported a state matching `match` (at any point, not only now); its states and attempts when it never does. */
  async function reached(page: Page, match: Partial<State>, timeout = 20_000): Promise<State> {
    for (let waited = 0; ; waited += 50) {
      const found = (await statesOf(page)).find((state) => matches(state, match));
      if (found) return found;
      if (waited >= timeout)
        throw new Error(
          `no state ${JSON.stringify(match)} within ${timeout} ms; states ${JSON.stringify(await statesOf(page))}, attempts ${JSON.stringify(await attemptsOf(page))}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A screenshot named after the state, taken only while the page still shows it. */
  async function snap(page: Page, state: string): Promise<void> {
    if ((await stateNow(page)) !== state) return;
    const image = await page.screenshot({ fullPage: true });
    if ((await stateNow(page)) === state) writeFileSync(join(SCREENSHOTS, `${state}.png`), image);
  }

  const framesCounted = async (page: Page, side: "in" | "out") =>
    Number(await page.locator(`#${side}-total`).getAttribute("data-frames"));

  let first: DemoPage;
  let second: DemoPage;

  it("says where the demo page is (--demo-port) and lets its origin through the edge's Origin check", () => {
    expect(dev.output).toContain(`  demo page  http://127.0.0.1:${dev.demoPort}/`);
    expect(dev.output).toContain(
      `allowedOrigins += http://127.0.0.1:${dev.demoPort}, http://localhost:${dev.demoPort} (the demo page)`,
    );
    expect(listedFleet(dev.output)).toHaveLength(2);
  });

  it("gets the bridge's 0x00 through the kit, then exchanges 0x01 frames both ways (ready → live)", async () => {
    first = await openDemo();
    await first.page.click("#connect");
    if ((await stateNow(first.page)) === "connecting") await snap(first.page, "connecting");
    await reached(first.page, { state: "ready", attempt: 1 });
    await reached(first.page, { state: "live", attempt: 1 });
    await expect
      .poll(() => framesCounted(first.page, "in"), { timeout: 10_000 })
      .toBeGreaterThan(5);
    expect(await framesCounted(first.page, "out")).toBeGreaterThan(5);
    expect((await statesOf(first.page)).map(({ state }) => state)).toEqual([
      "connecting",
      "ready",
      "live",
    ]);
    await snap(first.page, "live");
  });

  it("with both bridges held, shows a third page waiting with its position, and lets it in when a session ends; one token per attempt", async () => {
    second = await openDemo();
    await second.page.click("#connect");
    await reached(second.page, { state: "live" });

    const third = await openDemo();
    await third.page.click("#connect");
    const waiting = await reached(third.page, { state: "waiting" });
    await third.page.waitForFunction(
      () => document.querySelector("#state-detail")?.getAttribute("data-position") === "1",
      undefined,
      { timeout: 10_000 },
    );
    expect(waiting.state).toBe("waiting");
    expect((await statesOf(third.page)).find(({ position }) => position === 1)).toBeTruthy();
    await snap(third.page, "waiting");

    await first.page.click("#disconnect");
    await reached(first.page, { state: "closed" });
    await snap(first.page, "closed");
    await reached(third.page, { state: "ready" }, 30_000);
    await reached(third.page, { state: "live" });

    await third.page.click("#disconnect");
    await reached(third.page, { state: "closed" });
    // Every socket the kit opened is reported once it closed: a line socket's close can come late
    // (the runtime leaves the connection open after the close handshake; Chromium then ends it).
    await expect
      .poll(async () => (await attemptsOf(third.page)).length, { timeout: 10_000 })
      .toBe(third.tokenRequests());
    const attempts = await attemptsOf(third.page);
    expect(attempts.find(({ closeCode }) => closeCode === 1013)?.reason).toMatchObject({
      error: "bridge_busy",
      line: true,
    });
    expect(
      attempts.some(({ socket }) => socket === "line"),
      JSON.stringify(attempts),
    ).toBe(true);
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(third.tokenRequests()).toBe(attempts.length);
    expect(
      await third.page.evaluate(
        () => (window as unknown as { demo: { tokenCalls: number } }).demo.tokenCalls,
      ),
    ).toBe(attempts.length);
  });

  it("fails a bad voice_prompt with session_options_invalid naming the parameter, after exactly one attempt", async () => {
    const bad = await openDemo(`?voice_prompt=${encodeURIComponent("../x")}`);
    await bad.page.click("#connect");
    const failed = await reached(bad.page, { state: "failed" });
    expect(failed).toMatchObject({
      reason: "session_options_invalid",
      closeCode: 4400,
      detail: { parameter: "voice_prompt" },
    });
    await snap(bad.page, "failed");
    const attempts = await attemptsOf(bad.page);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ socket: "voice", closeCode: 4400 });
    expect(bad.tokenRequests()).toBe(1);
    expect(await bad.page.locator("#attempts tbody tr").count()).toBe(1);
  });

  describe("served from an origin the edge does not allow", () => {
    let elsewhere: DemoServer;
    beforeAll(async () => {
      const auth = loadStackSettings("staging").edge.auth;
      elsewhere = await startDemoServer({
        port: await freePort(),
        edgeOrigin: `http://127.0.0.1:${dev.port}`,
        kitPath: KIT_PATH,
        mintToken: (subject) =>
          signDevToken(
            {
              subject,
              lifetimeSeconds: 300,
              issuer: auth.mode === "jwt" ? auth.issuer : undefined,
              audience: auth.mode === "jwt" ? auth.audience : undefined,
            },
            localDevSecret(),
          ),
      });
    });
    afterAll(() => elsewhere?.close());

    it("fails with reason refused from /voice/health (the fleet ok or busy)", async () => {
      const refused = await openDemo("", elsewhere.origin);
      await refused.page.click("#connect");
      const failed = await reached(refused.page, { state: "failed" });
      expect(failed.reason).toBe("refused");
      expect(["ok", "busy"]).toContain(failed.detail?.health);
      expect(refused.tokenRequests()).toBe((await attemptsOf(refused.page)).length);
      await snap(refused.page, "failed");
      writeFileSync(
        join(SCREENSHOTS, "failed-refused.png"),
        await refused.page.screenshot({ fullPage: true }),
      );
    });
  });

  it(
    "after the bridge is killed mid-conversation, says reconnecting with newConversation and gets a new session on the other bridge",
    { timeout: 60_000 },
    async () => {
      // The second page holds one bridge alone: its guard is the one with a session.
      const fleet = listedFleet(dev.output);
      const sessions = await Promise.all(fleet.map(({ guard }) => guardSessions(guard)));
      expect(sessions.sort()).toEqual([0, 1]);
      const serving =
        fleet[(await Promise.all(fleet.map(({ guard }) => guardSessions(guard)))).indexOf(1)];
      const pid = pidListeningOn(Number(new URL(serving.standin).port), dev.process.pid!);
      expect(pid, `no process of dev's group listens on ${serving.standin}`).toBeDefined();
      const before = await framesCounted(second.page, "in");
      process.kill(pid!, "SIGKILL");

      const reconnecting = await reached(second.page, { state: "reconnecting" });
      expect(reconnecting.newConversation).toBe(true);
      await snap(second.page, "reconnecting");
      const attemptBefore = reconnecting.attempt!;
      const again = await reached(
        second.page,
        { state: "ready", attempt: attemptBefore + 1 },
        30_000,
      );
      expect(again.state).toBe("ready");
      await reached(second.page, { state: "live", attempt: attemptBefore + 1 });
      await expect
        .poll(() => framesCounted(second.page, "in"), { timeout: 10_000 })
        .toBeGreaterThan(before + 3);
      await snap(second.page, "live");
      const other = fleet.find(({ guard }) => guard !== serving.guard)!;
      expect(await guardSessions(other.guard)).toBe(1);
      await second.page.click("#disconnect");
      await reached(second.page, { state: "closed" });
    },
  );

  afterAll(async () => {
    for (const page of pages) await page.close().catch(() => undefined);
  });

  it("leaves a screenshot of each state that stays on screen (connecting and reconnecting when caught)", () => {
    for (const state of ["live", "waiting", "closed", "failed", "failed-refused"])
      expect(existsSync(join(SCREENSHOTS, `${state}.png`)), state).toBe(true);
    expect(readdirSync(SCREENSHOTS).length).toBeGreaterThanOrEqual(5);
  });
});

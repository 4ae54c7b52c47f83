import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERSONAPLEX_QUERY, standinClient, type StandinClient } from "../test/support/bridge";
import { STOCK_VOICES } from "../worker/src/voices";
import { generatedAudio, run, serverQuery, sessionOptionsProblem, DEFAULT_VOICES } from "./bridge";
import { startStandinBridge, type StandinBridge } from "./lib/bridgeProcess";
import { UsageError } from "./lib/cli";
import { SPLIT_QUERIES } from "../test/support/splitQueries";

const PROMPT_DELAY_MS = 50;
const AUDIO = Buffer.from([0x01, ...Array.from({ length: 160 }, (_, i) => i)]);

describe("the real server's session options, in the order it reads them", () => {
  it.each([
    ["text_prompt=hi&voice_prompt=NATF2.pt", undefined],
    ["text_prompt=&voice_prompt=NATM0.pt", undefined],
    ["text_prompt=hi&voice_prompt=NATF2.pt&text_seed=1&audio_seed=2", undefined],
    ["text_prompt=hi", "voice_prompt is missing"],
    ["voice_prompt=NATF2.pt", "text_prompt is missing"],
    ["text_prompt=hi&voice_prompt=NATF9.pt", 'voice_prompt "NATF9.pt" is not a known voice'],
    ["voice_prompt=NATF9.pt", 'voice_prompt "NATF9.pt" is not a known voice'],
    ["text_prompt=hi&voice_prompt=NATF2.pt&seed=-1", "seed is not readable"],
  ])("?%s → %s", (query, problem) => {
    expect(sessionOptionsProblem(new URLSearchParams(query), DEFAULT_VOICES)).toBe(problem);
  });
});

describe("the stand-in reads the query the way the real server (aiohttp) does", () => {
  // The table, the column "the server got": `&` only, names and values decoded, a bad escape kept.
  it.each<[string, Record<string, string | null>]>([
    ...SPLIT_QUERIES.map(({ query, serverGot }): [string, Record<string, string | null>] => [
      `/api/chat?${query}`,
      serverGot,
    ]),
    ["/api/chat?text_prompt=a+b%21&voice_prompt=NATF0.pt", { text_prompt: "a b!" }],
    ["/api/chat", { voice_prompt: null }],
  ])("%s", (target, expected) => {
    const query = serverQuery(target);
    for (const [name, value] of Object.entries(expected)) expect(query.get(name)).toBe(value);
  });

  it("offers the stock client's 18 voices by default", () => {
    expect(DEFAULT_VOICES).toEqual(STOCK_VOICES);
    expect(DEFAULT_VOICES).toHaveLength(18);
  });
});

describe("the stand-in's audio", () => {
  it("is an audio frame of its own, not the payload it answers", () => {
    for (const payload of [Buffer.alloc(0), Buffer.from([7]), AUDIO.subarray(1)]) {
      const answer = generatedAudio(payload);
      expect(answer[0]).toBe(0x01);
      expect(answer.subarray(1).length).toBeGreaterThan(0);
      expect(answer.subarray(1).equals(payload)).toBe(false);
    }
  });
});

describe("npm run bridge's options", () => {
  it.each([
    [["--mode", "mirror"], '--mode "mirror" is not one of personaplex, echo'],
    [["--protocols", "voice.v1"], "--protocols is for --mode echo"],
    [["--mode", "echo", "--static", "."], "--static is for --mode personaplex"],
    [["--prompt-delay-ms", "soon"], '--prompt-delay-ms "soon" is not a whole number'],
    [["--cert", "cert.pem"], "--cert and --key go together"],
  ])("%j is a usage mistake naming the option", async (argv, message) => {
    const refused = run(argv);
    await expect(refused).rejects.toBeInstanceOf(UsageError);
    await expect(refused).rejects.toThrow(message);
  });
});

describe("the personaplex stand-in", () => {
  let bridge: StandinBridge;
  const chat = (query: string) => `ws://127.0.0.1:${bridge.port}/api/chat?${query}`;
  const clients: StandinClient[] = [];
  const client = (query = PERSONAPLEX_QUERY) => {
    const opened = standinClient(chat(query));
    clients.push(opened);
    return opened;
  };

  beforeAll(async () => {
    bridge = await startStandinBridge({ mode: "personaplex", promptDelayMs: PROMPT_DELAY_MS });
  });
  afterAll(async () => {
    for (const { ws } of clients) ws.terminate();
    await bridge?.stop();
  });

  it("sends 0x00 once its prompts are done, then answers audio with audio that is not an echo", async () => {
    const session = client();
    await session.opened;
    expect(await session.next()).toEqual(Buffer.from([0x00]));
    session.ws.send(AUDIO);
    const answer = await session.next();
    expect(answer[0]).toBe(0x01);
    expect(answer.equals(AUDIO)).toBe(false);
    session.ws.close(1000);
    expect(await session.closed).toBe(1000);
  });

  it("ignores text frames and frames of other kinds", async () => {
    const session = client();
    await session.next();
    session.ws.send("hello");
    session.ws.send(Buffer.from([0x02, 0x68, 0x69]));
    session.ws.send(Buffer.from([0x07, 1, 2]));
    session.ws.send(Buffer.alloc(0));
    session.ws.send(AUDIO);
    const answer = await session.next();
    expect(answer[0]).toBe(0x01);
    expect(session.frames).toHaveLength(2);
    session.ws.close(1000);
    await session.closed;
  });

  it.each([
    ["a missing text_prompt", "voice_prompt=NATF2.pt"],
    ["a missing voice_prompt", "text_prompt=hi"],
    ["a voice it does not have", "text_prompt=hi&voice_prompt=NATF9.pt"],
    ["a seed parameter", `${PERSONAPLEX_QUERY}&seed=42`],
  ])("answers %s with a 101, then drops the connection (1006, no frame)", async (_, query) => {
    const session = client(query);
    await session.opened;
    expect(await session.closed).toBe(1006);
    expect(session.frames).toEqual([]);
  });

  it("holds a second client after its 101 until the first conversation ends", async () => {
    const first = client();
    expect(await first.next()).toEqual(Buffer.from([0x00]));
    const second = client();
    await second.opened;
    // A few audio round trips on the first, each longer than a prompt delay apart.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, PROMPT_DELAY_MS));
      first.ws.send(AUDIO);
      expect((await first.next())[0]).toBe(0x01);
    }
    expect(second.frames).toEqual([]);
    first.ws.close(1000);
    expect(await second.next()).toEqual(Buffer.from([0x00]));
    second.ws.send(AUDIO);
    expect((await second.next())[0]).toBe(0x01);
    second.ws.close(1000);
    await second.closed;
  });

  it("lets the next client in when one that was waiting leaves", async () => {
    const first = client();
    await first.next();
    const leaving = client();
    await leaving.opened;
    const third = client();
    await third.opened;
    leaving.ws.close(1000);
    await leaving.closed;
    first.ws.close(1000);
    expect(await third.next()).toEqual(Buffer.from([0x00]));
    expect(leaving.frames).toEqual([]);
    third.ws.close(1000);
    await third.closed;
  });

  it.each([
    ["/health", 404],
    ["/", 404],
    ["/index.html", 404],
    ["/debug/sessions", 404],
    ["/api/chat", 400],
  ])("answers GET %s with %i (no /health, no web UI unless --static)", async (path, status) => {
    const response = await fetch(`${bridge.origin}${path}`);
    expect(response.status).toBe(status);
  });

  it("refuses an upgrade on any path but /api/chat with 404", async () => {
    const session = standinClient(`ws://127.0.0.1:${bridge.port}/ws?${PERSONAPLEX_QUERY}`);
    await expect(session.opened).rejects.toThrow("Unexpected server response: 404");
  });
});

describe("the personaplex stand-in with --static", () => {
  let bridge: StandinBridge;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "standin-static-"));
    writeFileSync(join(dir, "index.html"), "<title>PersonaPlex</title>");
    writeFileSync(join(dir, "app.js"), "connect()");
    bridge = await startStandinBridge({ mode: "personaplex", staticDir: dir, promptDelayMs: 0 });
  });
  afterAll(async () => {
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves / as index.html and the directory's files", async () => {
    const root = await fetch(`${bridge.origin}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get("content-type")).toContain("text/html");
    expect(await root.text()).toBe("<title>PersonaPlex</title>");
    expect(await (await fetch(`${bridge.origin}/app.js`)).text()).toBe("connect()");
  });

  it.each(["/missing.js", "/..%2F..%2Fetc%2Fpasswd", "/health"])(
    "answers %s with 404",
    async (path) => {
      expect((await fetch(`${bridge.origin}${path}`)).status).toBe(404);
    },
  );
});

describe("the personaplex stand-in with --tls", () => {
  let bridge: StandinBridge;
  beforeAll(async () => {
    bridge = await startStandinBridge({ mode: "personaplex", tls: true, promptDelayMs: 0 });
  });
  afterAll(() => bridge?.stop());

  it("serves wss:// with a certificate it names, which a client can trust", async () => {
    expect(bridge.origin).toBe(`https://127.0.0.1:${bridge.port}`);
    const ca = readFileSync(bridge.certificate!);
    const session = standinClient(`wss://127.0.0.1:${bridge.port}/api/chat?${PERSONAPLEX_QUERY}`, {
      ca,
    });
    expect(await session.next()).toEqual(Buffer.from([0x00]));
    session.ws.close(1000);
    await session.closed;
  });

  it("is refused by a client that does not trust its certificate", async () => {
    const session = standinClient(`wss://127.0.0.1:${bridge.port}/api/chat?${PERSONAPLEX_QUERY}`);
    await expect(session.opened).rejects.toThrow(/self[- ]signed/);
  });

  it("answers https GETs with the same routes (404 for /health)", async () => {
    const status = await new Promise<number | undefined>((resolve, reject) =>
      request(`${bridge.origin}/health`, { ca: readFileSync(bridge.certificate!) }, (response) => {
        response.resume();
        resolve(response.statusCode);
      })
        .on("error", reject)
        .end(),
    );
    expect(status).toBe(404);
  });
});

describe("startStandinBridge without a mode", () => {
  let bridge: StandinBridge;
  beforeAll(async () => {
    bridge = await startStandinBridge();
  });
  afterAll(() => bridge?.stop());

  it("is the echo stand-in the Worker tests, soak and bench use: /health, any query, frames echoed", async () => {
    expect(bridge.mode).toBe("echo");
    expect((await fetch(`${bridge.origin}/health`)).status).toBe(200);
    const session = standinClient(`ws://127.0.0.1:${bridge.port}/api/chat?anything=1`);
    expect(await session.next()).toEqual(Buffer.from([0x00]));
    session.ws.send(AUDIO);
    expect(await session.next()).toEqual(AUDIO);
    session.ws.close(1000);
    await session.closed;
  });
});

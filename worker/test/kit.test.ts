import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jwtEdgeConfig, startTestEdge, TEST_SECRET, type TestEdge } from "../../test/support/edge";
import { KIT_BUNDLE_PATH } from "../build";
import { KIT_PATH } from "../src/kit";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge({
    BRIDGE_URL: "http://127.0.0.1:9/api/chat",
    EDGE_CONFIG: jwtEdgeConfig(),
    JWT_SECRET: TEST_SECRET,
  });
});
afterAll(() => edge?.dispose());

describe("the edge serves the client kit", () => {
  it("answers GET with the bytes of dist/kit/voice.mjs, for a page on any origin, with an ETag", async () => {
    const built = readFileSync(KIT_BUNDLE_PATH);
    const response = await fetch(edge.httpOrigin + KIT_PATH, {
      headers: { Origin: "https://elsewhere.example" },
    });
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(built)).toBe(true);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      "content-type": "text/javascript; charset=utf-8",
      "access-control-allow-origin": "*",
      "cache-control": "public, max-age=300",
      etag: `"${createHash("sha256").update(built).digest("hex")}"`,
    });
  });

  it("answers 304 to a page that holds these bytes, 200 to one that holds others", async () => {
    const { headers } = await fetch(edge.httpOrigin + KIT_PATH);
    const etag = headers.get("etag")!;
    const same = await fetch(edge.httpOrigin + KIT_PATH, { headers: { "If-None-Match": etag } });
    expect(same.status).toBe(304);
    expect(await same.text()).toBe("");
    expect(same.headers.get("etag")).toBe(etag);
    const other = await fetch(edge.httpOrigin + KIT_PATH, {
      headers: { "If-None-Match": '"0000"' },
    });
    expect(other.status).toBe(200);
  });

  it("answers HEAD without a body, and other methods 405 with Allow", async () => {
    const head = await fetch(edge.httpOrigin + KIT_PATH, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const post = await fetch(edge.httpOrigin + KIT_PATH, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect(await post.json()).toMatchObject({ error: "method_not_allowed" });
  });

  it("serves only v1's path: other kit paths are 404", async () => {
    const response = await fetch(edge.httpOrigin + "/voice/kit/v2/voice.mjs");
    expect(response.status).toBe(404);
  });
});

import { describe, expect, it } from "vitest";
import {
  buildPoint,
  recordPoint,
  VISITOR_HEX_DIGITS,
  visitorHash,
  POINTS_BINDING,
  VISITOR_KEY_BINDING,
  type DataPoint,
} from "../src/analytics/points";
import {
  columnOf,
  MAX_BLOB_BYTES_TOTAL,
  MAX_BLOBS,
  MAX_DOUBLES,
  MAX_INDEX_BYTES,
  POINT_BLOBS,
  POINT_DOUBLES,
  type PointBlob,
  type PointDouble,
} from "../src/analytics/schema";

/** A field of a point by name, read back through its SQL column (blob3 → blobs[2]). */
function field(point: DataPoint, name: PointBlob | PointDouble): string | number {
  const column = columnOf(name);
  const position = Number(column.replace(/^\D+/, "")) - 1;
  return column.startsWith("blob") ? point.blobs[position] : point.doubles[position];
}

const TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ2aXNpdG9yLTcifQ.c2lnbmF0dXJl";
const SUBJECT = "visitor-7@example.com";

describe("buildPoint: one point per outcome, fields at schema.ts's positions", () => {
  it.each([
    [
      "connected",
      "upgrade",
      {
        outcome: "connected",
        status: 101,
        path: "/voice/ws",
        colo: "FRA",
        transport: "subprotocol",
        protocol: "voice.v1",
        bridge: "gpu-1",
        tries: [{ bridge: "gpu-1", outcome: "served", ms: 12 }],
        msTo101: 34,
      },
      { outcome: "connected", reason: "", bridge: "gpu-1", colo: "FRA", transport: "subprotocol" },
      { status: 101, closeCode: 0, tries: 1, msTo101: 34 },
    ],
    [
      "401 before the upgrade",
      "upgrade",
      { outcome: "refused", status: 401, path: "/voice/ws", colo: null, error: "token_expired" },
      { outcome: "refused", reason: "token_expired", bridge: "", colo: "", transport: "" },
      { status: 401, closeCode: 0, tries: 0 },
    ],
    [
      "4400 with its parameter",
      "upgrade",
      {
        outcome: "refused",
        status: 101,
        path: "/voice/api/chat",
        transport: "query",
        error: "session_options_invalid",
        parameter: "voice_prompt",
        problem: "not_a_voice_file_name",
        closeCode: 4400,
        tries: [],
        msTo101: 3,
      },
      {
        reason: "session_options_invalid",
        parameter: "voice_prompt",
        path: "/voice/api/chat",
        transport: "query",
      },
      { status: 101, closeCode: 4400, tries: 0, msTo101: 3 },
    ],
    [
      "1013 busy through the line",
      "upgrade",
      {
        outcome: "refused",
        status: 101,
        path: "/voice/ws",
        error: "bridge_busy",
        closeCode: 1013,
        line: "coordinator",
        lineMs: 4,
        tries: [{}, {}],
      },
      { reason: "bridge_busy", line: "coordinator" },
      { closeCode: 1013, lineMs: 4, tries: 2 },
    ],
    [
      "a line turn",
      "line_turn",
      { outcome: "turn", path: "/voice/line", bridge: "gpu-2", waitMs: 61_000 },
      { event: "line_turn", outcome: "turn", bridge: "gpu-2", path: "/voice/line" },
      { waitMs: 61_000, status: 0 },
    ],
  ] as const)("%s", (_what, event, fields, blobs, doubles) => {
    const point = buildPoint(event, fields);
    expect(point.indexes).toEqual([event]);
    expect(point.blobs).toHaveLength(POINT_BLOBS.length);
    expect(point.doubles).toHaveLength(POINT_DOUBLES.length);
    expect(field(point, "event")).toBe(event);
    for (const [name, value] of Object.entries(blobs))
      expect(field(point, name as PointBlob), name).toBe(value);
    for (const [name, value] of Object.entries(doubles))
      expect(field(point, name as PointDouble), name).toBe(value);
  });
});

describe("buildPoint: an allow-list, value by value", () => {
  it.each([
    ["a token as the transport", { transport: TOKEN }, "transport"],
    ["a path with a query", { path: "/voice/ws?access_token=abc" }, "path"],
    ["an unknown parameter name", { parameter: "access_token" }, "parameter"],
    ["a subject as the bridge", { bridge: SUBJECT }, "bridge"],
    ["a header value as the colo", { colo: "Mozilla/5.0 (X11; Linux)" }, "colo"],
    ["a visitor that is not a hash", { visitor: SUBJECT }, "visitor"],
    ["an error code that is not a word", { outcome: "refused", error: `bad ${TOKEN}` }, "reason"],
  ] as const)("drops %s", (_what, fields, name) => {
    const point = buildPoint("upgrade", fields);
    expect(field(point, name)).toBe("");
    expect(JSON.stringify(point)).not.toContain(Object.values(fields).at(-1));
  });

  it("writes no field the allow-list does not name (query, protocol, closeReason, problem, subject)", () => {
    const point = buildPoint("upgrade", {
      outcome: "refused",
      query: "text_prompt=secret+words",
      protocol: `bearer.${TOKEN}`,
      closeReason: '{"error":"bridge_busy"}',
      problem: "not_a_voice_file_name",
      subject: SUBJECT,
    });
    const text = JSON.stringify(point);
    for (const secret of ["secret", TOKEN, SUBJECT, "closeReason", "not_a_voice_file_name"])
      expect(text).not.toContain(secret);
  });

  it("gives 0 for a double that is missing, negative, not finite or not a number", () => {
    for (const msTo101 of [undefined, -1, Number.NaN, Infinity, "12"])
      expect(field(buildPoint("upgrade", { msTo101 }), "msTo101")).toBe(0);
  });

  it("gives the code the page read after the 101, not the log's finer cause", () => {
    const fields = {
      outcome: "refused",
      error: "bridge_timeout",
      closeCode: 1014,
      closeReason: { error: "bridge_unavailable" },
    };
    expect(field(buildPoint("upgrade", fields), "reason")).toBe("bridge_unavailable");
  });

  it.each([
    [{ error: "bridge_busy", retryAfterS: 5, line: true }, 1],
    [{ error: "bridge_busy", retryAfterS: 5, line: false }, 0],
    [{ error: "bridge_busy", retryAfterS: 5 }, 0],
    [{ error: "bridge_unavailable" }, 0],
  ])(
    "marks a busy refusal that offered a place in line: %j → lineOffered %d",
    (closeReason, offered) => {
      const point = buildPoint("upgrade", {
        outcome: "refused",
        error: closeReason.error,
        closeReason,
      });
      expect(field(point, "lineOffered")).toBe(offered);
    },
  );

  it("gives no reason for a connected upgrade", () => {
    expect(field(buildPoint("upgrade", { outcome: "connected", error: "x" }), "reason")).toBe("");
  });
});

describe("buildPoint: within Analytics Engine's limits", () => {
  it("has at most 20 blobs, 20 doubles and one index of at most 96 bytes", () => {
    const point = buildPoint("session_end", {});
    expect(point.blobs.length).toBeLessThanOrEqual(MAX_BLOBS);
    expect(point.doubles.length).toBeLessThanOrEqual(MAX_DOUBLES);
    expect(point.indexes).toHaveLength(1);
    expect(new TextEncoder().encode(point.indexes[0]).length).toBeLessThanOrEqual(MAX_INDEX_BYTES);
  });

  it("keeps the blobs' total under 16 KiB whatever the fields (each is bounded by its allow-list)", () => {
    const long = "a".repeat(MAX_BLOB_BYTES_TOTAL);
    const point = buildPoint("upgrade", {
      reason: long,
      bridge: long,
      colo: long,
      error: long,
      termination: long,
    });
    const total = point.blobs.reduce((sum, blob) => sum + new TextEncoder().encode(blob).length, 0);
    expect(total).toBeLessThanOrEqual(MAX_BLOB_BYTES_TOTAL);
  });
});

describe("visitorHash", () => {
  it("is the HMAC-SHA-256 of the subject under the key, its first 16 hex digits", async () => {
    const { createHmac } = await import("node:crypto");
    const expected = createHmac("sha256", "stack-key").update(SUBJECT).digest("hex");
    expect(await visitorHash("stack-key", SUBJECT)).toBe(expected.slice(0, VISITOR_HEX_DIGITS));
  });

  it("differs between keys, so another stack's hash says nothing here", async () => {
    expect(await visitorHash("key-a", SUBJECT)).not.toBe(await visitorHash("key-b", SUBJECT));
  });
});

describe("recordPoint", () => {
  const fields = { outcome: "refused", status: 101, error: "bridge_busy", closeCode: 1013 };

  it("writes nothing without the binding", () => {
    const deferred: Promise<unknown>[] = [];
    recordPoint({}, "upgrade", fields, SUBJECT, (p) => deferred.push(p));
    expect(deferred).toEqual([]);
  });

  it("writes at once without a visitor key, with no visitor", () => {
    const written: DataPoint[] = [];
    const env = { [POINTS_BINDING]: { writeDataPoint: (p: DataPoint) => written.push(p) } };
    recordPoint(env, "upgrade", fields, SUBJECT, () => {
      throw new Error("nothing to defer");
    });
    expect(written).toHaveLength(1);
    expect(field(written[0], "visitor")).toBe("");
  });

  it("with a key, hashes in waitUntil and writes the visitor, never the subject", async () => {
    const written: DataPoint[] = [];
    const deferred: Promise<unknown>[] = [];
    const env = {
      [POINTS_BINDING]: { writeDataPoint: (p: DataPoint) => written.push(p) },
      [VISITOR_KEY_BINDING]: "stack-key",
    };
    recordPoint(env, "upgrade", fields, SUBJECT, (p) => deferred.push(p));
    expect(written).toEqual([]);
    await Promise.all(deferred);
    expect(field(written[0], "visitor")).toBe(await visitorHash("stack-key", SUBJECT));
    expect(JSON.stringify(written)).not.toContain(SUBJECT);
  });

  it("survives a dataset that throws", async () => {
    const env = {
      [POINTS_BINDING]: {
        writeDataPoint: () => {
          throw new Error("Analytics Engine is down");
        },
      },
    };
    expect(() => recordPoint(env, "upgrade", fields, null, () => {})).not.toThrow();
  });
});

describe("docs/operators-numbers.md", () => {
  it("lays out the points exactly as schema.ts does, column by column", async () => {
    const { readFileSync } = await import("node:fs");
    const text = readFileSync(new URL("../../docs/operators-numbers.md", import.meta.url), "utf8");
    const documented = [...text.matchAll(/^\| `((?:blob|double)\d+)` +\| `(\w+)` +\|/gm)].map(
      ([, column, name]) => [column, name],
    );
    expect(documented).toEqual(
      [...POINT_BLOBS, ...POINT_DOUBLES].map((name) => [columnOf(name), name]),
    );
  });
});

import { describe, expect, it } from "vitest";
import {
  columnOf,
  MAX_BLOBS,
  MAX_DOUBLES,
  POINT_BLOBS,
  POINT_DOUBLES,
} from "../../worker/src/analytics/schema";

describe("the Analytics Engine point layout", () => {
  it("fits Analytics Engine's limits, with no name twice", () => {
    expect(POINT_BLOBS.length).toBeLessThanOrEqual(MAX_BLOBS);
    expect(POINT_DOUBLES.length).toBeLessThanOrEqual(MAX_DOUBLES);
    const names = [...POINT_BLOBS, ...POINT_DOUBLES];
    expect(new Set(names).size).toBe(names.length);
  });

  it("names each field's SQL column by its position", () => {
    expect(columnOf("event")).toBe("blob1");
    expect(columnOf("reason")).toBe("blob3");
    expect(columnOf("closeCode")).toBe("double1");
    expect(columnOf("msTo101")).toBe("double3");
    expect(() => columnOf("token" as never)).toThrow('no point field "token"');
  });
});

import { describe, expect, it } from "vitest";
import { loadStackConfig } from "../../tools/lib/stackFile";
import { parseStackConfig, StackConfigError } from "./schema";

describe("stack config", () => {
  it.each(["staging", "prod"])("accepts the real Pulumi.%s.yaml", (stack) => {
    const config = loadStackConfig(stack);
    expect(config.edge.auth.mode).toBe("jwt");
    expect(config.compatibilityDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("names the key, the stack file and the allowed values for a bad value", () => {
    const values = { ...loadStackConfig("staging"), edge: { auth: { mode: "jwt", algorithms: ["none"] } } };
    const attempt = () => parseStackConfig("staging", "Pulumi.staging.yaml", values);
    expect(attempt).toThrow(StackConfigError);
    expect(attempt).toThrow(/stack "staging" \(Pulumi\.staging\.yaml\)/);
    expect(attempt).toThrow(/voice-edge:edge → auth\.algorithms\.0: Invalid option: expected one of "HS256"/);
  });

  it("refuses a stack that leaves auth out rather than turning it off", () => {
    const values = { ...loadStackConfig("staging"), edge: { allowedOrigins: [] } };
    expect(() => parseStackConfig("staging", "Pulumi.staging.yaml", values)).toThrow(/voice-edge:edge → auth/);
  });
});

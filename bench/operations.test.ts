import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandinBridge, type StandinBridge } from "../tools/lib/bridgeProcess";
import { loadStackSettings } from "../infra/config/stackFiles";
import { BENCH_AUTH, benchBridgeUrl, hs256BenchToken } from "./floor";
import { openSocket } from "./measure";
import {
  NO_OPERATION,
  OPERATIONS,
  operationsTable,
  operationTarget,
  operationWorker,
  type Operation,
} from "./operations";
import { startWorkerd } from "./workerdProcess";

describe("the runtime's price list (bench:ablation --operations)", () => {
  let bridge: StandinBridge;
  let token: string;
  beforeAll(async () => {
    bridge = await startStandinBridge({ protocols: ["voice.v1"] });
    token = await hs256BenchToken();
  });
  afterAll(() => bridge.stop());

  async function upgradeThrough(operation: Operation, secret: string): Promise<string> {
    const edge = await startWorkerd({
      code: operationWorker(operation),
      compatibilityDate: loadStackSettings("prod").compatibilityDate,
      bindings: { BRIDGE_URL: benchBridgeUrl(bridge), SECRET: secret },
    });
    try {
      const socket = await openSocket(operationTarget(edge.port, token));
      await socket.next();
      socket.ws.send(Buffer.from("frame"));
      const echo = String(await socket.next());
      socket.ws.close(1000);
      return echo;
    } catch (error) {
      return (error as Error).message;
    } finally {
      await edge.stop();
    }
  }

  it("every operation's Worker upgrades and echoes through the bridge", async () => {
    for (const operation of [NO_OPERATION, ...OPERATIONS])
      expect(await upgradeThrough(operation, BENCH_AUTH.secret), operation.name).toBe("frame");
  }, 60_000);

  it("really runs its operation: the HMAC check refuses a token signed with another secret", async () => {
    const verify = OPERATIONS.find((operation) => operation.name.includes("crypto.subtle.verify"))!;
    expect(await upgradeThrough(verify, "another-secret")).toMatch(/HTTP 500$/);
    expect(await upgradeThrough(NO_OPERATION, "another-secret")).toBe("frame");
  }, 30_000);

  it("reports each operation against the template, cycle by cycle", () => {
    const table = operationsTable(
      ["a", "b"],
      [
        [12, 14, 11, 13],
        [100, 90, 95, 105],
      ],
      [10, 10, 10, 10],
      2,
    );
    expect(table.split("\n").slice(2)).toEqual(["| a | 3 (2–3) |", "| b | 88 (85–90) |"]);
  });
});

import { describe, expect, it } from "vitest";
import { MAX_AUDIT_TARGET_CHARS } from "../../schemas/audit";
import { recordCapabilityCall } from "../../worker/history/capability-calls";
import { groupCommitStats } from "../../worker/history/group-commit";
import { record, run, testEnv } from "./client";

const base = { startedAt: Date.now(), durationMs: 1.5, requestBytes: 10, responseBytes: 20 };

describe("capability-call audit", () => {
  it("returns an execution's calls in the order they were made with GET /executions/:id", async () => {
    const { executionId } = await run({ code: "return 1" });
    await recordCapabilityCall(testEnv.EXECUTIONS_DB, { ...base, executionId, kind: "api", target: "https://example.com/a", outcome: "ok" });
    await recordCapabilityCall(testEnv.EXECUTIONS_DB, { ...base, executionId, kind: "api", target: "https://evil.test/", outcome: "denied", errorCode: "DOMAIN_NOT_ALLOWED" });
    await recordCapabilityCall(testEnv.EXECUTIONS_DB, { ...base, executionId, kind: "db", target: "things.find", outcome: "error", errorCode: "BAD_QUERY" });
    const { capabilityCalls } = await record(executionId);
    expect(capabilityCalls).toEqual([
      { ...base, executionId, kind: "api", target: "https://example.com/a", outcome: "ok" },
      { ...base, executionId, kind: "api", target: "https://evil.test/", outcome: "denied", errorCode: "DOMAIN_NOT_ALLOWED" },
      { ...base, executionId, kind: "db", target: "things.find", outcome: "error", errorCode: "BAD_QUERY" },
    ]);
  });

  it("writes the rows of concurrent calls together with the other history writes, each one recorded", async () => {
    const { executionId } = await run({ code: "return 1" });
    const before = { ...groupCommitStats };
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        recordCapabilityCall(testEnv.EXECUTIONS_DB, { ...base, executionId, kind: "db", target: `t${i}`, outcome: "ok" }),
      ),
    );
    expect(groupCommitStats.statements - before.statements).toBe(8);
    expect(groupCommitStats.calls - before.calls).toBeLessThan(8);
    const { capabilityCalls } = await record(executionId);
    expect(capabilityCalls.map((call) => call.target).sort()).toEqual(["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"]);
  });

  it("cuts an overlong target with the marker", async () => {
    const { executionId } = await run({ code: "return 1" });
    await recordCapabilityCall(testEnv.EXECUTIONS_DB, { ...base, executionId, kind: "ai", target: "m".repeat(5_000), outcome: "ok" });
    const [call] = (await record(executionId)).capabilityCalls;
    expect(call?.target).toHaveLength(MAX_AUDIT_TARGET_CHARS);
    expect(call?.target.endsWith("…[truncated]")).toBe(true);
  });

  it("never throws: a failed or invalid audit write is logged, not raised into the capability call", async () => {
    await expect(
      recordCapabilityCall(testEnv.DATA_DB, { ...base, executionId: "x", kind: "ai", target: "m", outcome: "ok" }),
    ).resolves.toBeUndefined();
    const invalid = { ...base, executionId: "x", kind: "fs", target: "m", outcome: "ok" } as unknown as Parameters<typeof recordCapabilityCall>[1];
    await expect(recordCapabilityCall(testEnv.EXECUTIONS_DB, invalid)).resolves.toBeUndefined();
    const row = await testEnv.EXECUTIONS_DB.prepare("SELECT COUNT(*) AS n FROM capability_calls WHERE execution_id = 'x'").first<{ n: number }>();
    expect(row?.n).toBe(0);
  });
});

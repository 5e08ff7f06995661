import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createRecorder } from "../../worker/history/recorder";
import { call, run, testEnv } from "./client";

// The database fails for real: EXECUTIONS_DB points at the data store, a working D1 database that has no
// executions table, so every history write errors the way a dropped table or an outage would.
const brokenHistory = { env: { EXECUTIONS_DB: testEnv.DATA_DB } };

describe("when history cannot be written", () => {
  it("still returns the result, with warnings saying history failed", async () => {
    const result = await run({ code: "console.log('still here'); return 6 * 7" }, brokenHistory);
    expect(result).toMatchObject({ success: true, status: "success", result: 42, logs: [{ message: "still here" }] });
    expect(result.warnings).toEqual([
      "Execution history could not record the start of this execution.",
      "Execution history could not store this result; it will not be found under GET /executions.",
    ]);
  });

  it("still returns a failing execution's error as data", async () => {
    const result = await run({ code: "throw new TypeError('bad')" }, brokenHistory);
    expect(result).toMatchObject({ success: false, status: "error", error: { code: "RUNTIME_ERROR", name: "TypeError" } });
    expect(result.warnings).toHaveLength(2);
  });

  it("answers reads with a generic 500 that leaks nothing", async () => {
    const response = await call("/executions", brokenHistory);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: "INTERNAL_ERROR", message: "Internal error" } });
  });

  it("stores the whole row at the finish when the start was never recorded", async () => {
    const executionId = crypto.randomUUID();
    const request = { code: "return 1", language: "javascript" as const, context: { k: 1 }, config: { timeout: 1_000, allowedAPIs: [], allowedDomains: [] } };
    const execution = { executionId, caller: { kind: "http" as const, identity: "anonymous" }, request, startedAt: Date.now() };
    const result = { executionId, success: true, status: "success" as const, result: 1, logs: [], language: "javascript" as const, durationMs: 2 };
    await createRecorder(testEnv, createExecutionContext()).finished(execution, result);
    const row = await testEnv.EXECUTIONS_DB.prepare("SELECT status, code, context_json FROM executions WHERE id = ?").bind(executionId).first();
    expect(row).toEqual({ status: "success", code: "return 1", context_json: '{"k":1}' });
  });
});

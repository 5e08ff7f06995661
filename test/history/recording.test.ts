import { describe, expect, it } from "vitest";
import { createRecorder } from "../../worker/history/recorder";
import { TRUNCATION_MARKER } from "../../worker/history/caps";
import { rpc } from "../helpers";
import type { ExecutionRecord } from "../../schemas/history";
import { createExecutionContext } from "cloudflare:test";
import { keyPair, record, run, sha256Hex, testEnv, call } from "./client";
import { executeRequest, type ExecutionRecorder } from "../../worker/execution/pipeline";
import { parseInput } from "../../worker/parse";
import { ExecuteRequestSchema } from "../../schemas/execute";

describe("execution history records", () => {
  it("records a successful HTTP execution with code, hash, context, config, logs, result and timestamps", async () => {
    const code = "console.log('hello', context.name); return { greeting: `hi ${context.name}` }";
    const result = await run({ code, context: { name: "Ada" }, config: { timeout: 5_000 } });
    expect(result.status).toBe("success");
    expect(result.warnings).toBeUndefined();

    const stored = await record(result.executionId);
    expect(stored).toMatchObject({
      executionId: result.executionId,
      status: "success",
      success: true,
      language: "javascript",
      caller: { kind: "http", identity: "anonymous" },
      code,
      codeSha256: await sha256Hex(code),
      context: { name: "Ada" },
      config: { timeout: 5_000, allowedAPIs: ["ai", "api", "db", "console"], allowedDomains: [] },
      result: { greeting: "hi Ada" },
      logs: [{ level: "log", message: "hello Ada" }],
      errorCode: null,
      capabilityCalls: [],
      truncated: [],
      durationMs: result.durationMs,
    });
    expect(stored.error).toBeUndefined();
    const created = Date.parse(stored.createdAt);
    const started = Date.parse(stored.startedAt);
    const finished = Date.parse(stored.finishedAt ?? "");
    expect(created).toBeLessThanOrEqual(started);
    expect(started).toBeLessThanOrEqual(finished);
  });

  it("keeps a null result apart from no result", async () => {
    const withNull = await record((await run({ code: "return null" })).executionId);
    const withNothing = await record((await run({ code: "const x = 1" })).executionId);
    expect("result" in withNull && withNull.result).toBeNull();
    expect("result" in withNothing).toBe(false);
  });

  it("records runtime errors, timeouts and rejected code with their error", async () => {
    const failed = await record((await run({ code: "const a = 1;\nthrow new RangeError('boom')" })).executionId);
    expect(failed).toMatchObject({ status: "error", success: false, errorCode: "RUNTIME_ERROR", error: { name: "RangeError", message: "boom", line: 2 } });

    const timedOut = await record((await run({ code: "while (true) {}", config: { timeout: 300 } })).executionId);
    expect(timedOut).toMatchObject({ status: "timeout", success: false, errorCode: "TIMEOUT" });

    const rejected = await record((await run({ code: "return (", language: "typescript" })).executionId);
    expect(rejected).toMatchObject({ status: "rejected", success: false, errorCode: "SYNTAX_ERROR", language: "typescript" });
    expect(rejected.finishedAt).not.toBeNull();
  });

  it("records RPC executions as caller rpc/service-binding, readable over RPC", async () => {
    const executed = await rpc("executeCode", "return 40 + 2");
    expect(executed.ok).toBe(true);
    const id = executed.result!.executionId;
    const read = await rpc<ExecutionRecord>("getExecution", id);
    expect(read.ok).toBe(true);
    expect(read.result).toMatchObject({ executionId: id, status: "success", result: 42, caller: { kind: "rpc", identity: "service-binding" } });
  });

  it("shows a row as running between the start and the finish of an execution", async () => {
    const recorder = createRecorder(testEnv, createExecutionContext());
    const executionId = crypto.randomUUID();
    const request = { code: "return 1", language: "javascript" as const, context: {}, config: { timeout: 60_000, allowedAPIs: [], allowedDomains: [] } };
    await recorder.started({ executionId, caller: { kind: "http", identity: "anonymous" }, request, startedAt: Date.now() });
    expect(await record(executionId)).toMatchObject({ status: "running", success: null, finishedAt: null, durationMs: null, logs: [] });
  });

  it("runs no user code before the running row has landed, however slow its write", async () => {
    // The isolate is created while the row is written; only run() waits. A start write that takes 300 ms must
    // still come before the first line of user code: the code returns the time it began.
    const WRITE_MS = 300;
    const real = createRecorder(testEnv, createExecutionContext());
    let landedAt = Number.POSITIVE_INFINITY;
    const slowStart: ExecutionRecorder = {
      async started(execution) {
        await new Promise((resolve) => setTimeout(resolve, WRITE_MS));
        await real.started(execution);
        landedAt = Date.now();
      },
      finished: (execution, result) => real.finished(execution, result),
    };
    const request = parseInput(ExecuteRequestSchema, { code: "return Date.now()" });
    const result = await executeRequest({ env: testEnv, ctx: createExecutionContext(), recorder: slowStart }, request, {
      kind: "http",
      identity: "anonymous",
    });
    expect(result).toMatchObject({ success: true, status: "success" });
    expect(result.result).toBeGreaterThanOrEqual(landedAt);
    expect(await record(result.executionId)).toMatchObject({ status: "success", result: result.result });
  });

  it("completes a row whose start landed even when this recorder did not see it land", async () => {
    // A start write can fail on the way back after it committed: the outcome is then an upsert over that row.
    const executionId = crypto.randomUUID();
    const request = { code: "return 7", language: "javascript" as const, context: { k: 2 }, config: { timeout: 1_000, allowedAPIs: [], allowedDomains: [] } };
    const execution = { executionId, caller: { kind: "http" as const, identity: "anonymous" }, request, startedAt: Date.now() };
    await createRecorder(testEnv, createExecutionContext()).started(execution);
    const result = { executionId, success: true, status: "success" as const, result: 7, logs: [], language: "javascript" as const, durationMs: 3 };
    await createRecorder(testEnv, createExecutionContext()).finished(execution, result);
    expect(await record(executionId)).toMatchObject({ status: "success", success: true, result: 7, code: "return 7", context: { k: 2 }, durationMs: 3 });
  });

  it("caps an oversized result and log stream with a marker and names them in truncated", async () => {
    const code = "for (let i = 0; i < 100; i++) console.log(String(i).padEnd(4000, '.'));\nreturn 'x'.repeat(600000)";
    const result = await run({ code });
    expect(result.status).toBe("success");
    expect(result.warnings).toBeUndefined();
    expect(result.result).toHaveLength(600_000);

    const stored = await record(result.executionId);
    expect(stored.truncated).toEqual(["result", "logs"]);
    expect(typeof stored.result).toBe("string");
    expect((stored.result as string).endsWith(TRUNCATION_MARKER)).toBe(true);
    expect((stored.result as string).length).toBeLessThan(300_000);
    expect(stored.logs.length).toBeLessThan(100);
    expect(stored.logs.at(-1)?.message).toMatch(/^…\[truncated\] \d+ more log entries were not stored/);
  });

  it("caps an oversized context the same way", async () => {
    const context = { blob: "c".repeat(200 * 1024) };
    const stored = await record((await run({ code: "return context.blob.length", context })).executionId);
    expect(stored.result).toBe(200 * 1024);
    expect(stored.truncated).toEqual(["context"]);
    expect(stored.context).toMatch(/^\{"blob":"ccc.*…\[truncated\]$/);
  });

  it("never stores the Authorization header or the API key", async () => {
    const { apiKeys, a } = keyPair("secret");
    const result = await run({ code: "return 1" }, { key: a.key, env: { API_KEYS: apiKeys } });
    const row = await testEnv.EXECUTIONS_DB.prepare("SELECT * FROM executions WHERE id = ?").bind(result.executionId).first();
    expect(row).toMatchObject({ caller_identity: a.name });
    expect(JSON.stringify(row)).not.toContain(a.key);
    expect(JSON.stringify(row)).not.toMatch(/bearer/i);
  });

  it("answers 404 NOT_FOUND for an unknown id", async () => {
    const response = await call("/executions/does-not-exist");
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: "NOT_FOUND", message: 'No execution with id "does-not-exist"' } });
    const overRpc = await rpc("getExecution", "does-not-exist");
    expect(overRpc).toMatchObject({ ok: false, error: { message: expect.stringMatching(/^NOT_FOUND: /) } });
  });
});

import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ExecuteRequest } from "../../schemas/execute";
import { createRecorder } from "../../worker/history/recorder";
import { ORPHAN_GRACE_MS, sweepOrphans } from "../../worker/history/orphans";
import { PARENT_GRACE_MS } from "../../schemas/limits";
import { list, record, testEnv } from "./client";

const request: ExecuteRequest = { code: "return 1", language: "javascript", context: {}, config: { timeout: 1_000, allowedAPIs: [], allowedDomains: [] } };

/** A row left `running` as if its process died right after recording the start. */
async function orphan(staleForMs: number): Promise<string> {
  const executionId = crypto.randomUUID();
  await createRecorder(testEnv, createExecutionContext()).started({ executionId, caller: { kind: "http", identity: "anonymous" }, request, startedAt: Date.now() });
  await testEnv.EXECUTIONS_DB.prepare("UPDATE executions SET stale_after = ? WHERE id = ?").bind(Date.now() - staleForMs, executionId).run();
  return executionId;
}

describe("orphan sweep", () => {
  it("marks a running row past its deadline aborted on the next read of it", async () => {
    const id = await orphan(1);
    expect(await record(id)).toMatchObject({
      status: "aborted",
      success: false,
      errorCode: "SANDBOX_ERROR",
      error: { name: "AbortedError" },
      finishedAt: null,
      logs: [],
    });
  });

  it("marks them on the next list too, and leaves a row still within its deadline running", async () => {
    const stale = await orphan(1);
    const live = await orphan(-60_000);
    const aborted = (await list("?status=aborted&limit=100")).executions.map((e) => e.executionId);
    expect(aborted).toContain(stale);
    expect(aborted).not.toContain(live);
    expect((await record(live)).status).toBe("running");
  });

  it("gives every running row a deadline of its timeout plus the parent's grace plus ORPHAN_GRACE_MS", async () => {
    const executionId = crypto.randomUUID();
    await createRecorder(testEnv, createExecutionContext()).started({ executionId, caller: { kind: "http", identity: "anonymous" }, request, startedAt: Date.now() });
    const row = await testEnv.EXECUTIONS_DB.prepare("SELECT started_at, stale_after FROM executions WHERE id = ?")
      .bind(executionId)
      .first<{ started_at: number; stale_after: number }>();
    expect(row!.stale_after - row!.started_at).toBe(request.config.timeout + PARENT_GRACE_MS + ORPHAN_GRACE_MS);
  });

  it("lets a late finish overwrite aborted with the real outcome", async () => {
    const executionId = crypto.randomUUID();
    const recorder = createRecorder(testEnv, createExecutionContext());
    const execution = { executionId, caller: { kind: "http" as const, identity: "anonymous" }, request, startedAt: Date.now() };
    await recorder.started(execution);
    await testEnv.EXECUTIONS_DB.prepare("UPDATE executions SET stale_after = 0 WHERE id = ?").bind(executionId).run();
    expect(await sweepOrphans(testEnv.EXECUTIONS_DB)).toBeGreaterThanOrEqual(1);
    await recorder.finished(execution, { executionId, success: true, status: "success", result: 1, logs: [], language: "javascript", durationMs: 5 });
    expect(await record(executionId)).toMatchObject({ status: "success", result: 1 });
    expect((await record(executionId)).error).toBeUndefined();
  });
});

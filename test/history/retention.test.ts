import { createScheduledController } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index";
import { recordCapabilityCall } from "../../worker/history/capability-calls";
import { run, testEnv } from "./client";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Runs the Worker's real scheduled handler, as the daily cron trigger would. */
async function purge(env: Env): Promise<void> {
  await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "17 3 * * *" }), env);
}

async function backdate(executionId: string, ageMs: number): Promise<void> {
  await testEnv.EXECUTIONS_DB.prepare("UPDATE executions SET created_at = ? WHERE id = ?").bind(Date.now() - ageMs, executionId).run();
}

async function exists(executionId: string): Promise<boolean> {
  return (await testEnv.EXECUTIONS_DB.prepare("SELECT 1 FROM executions WHERE id = ?").bind(executionId).first()) !== null;
}

async function auditedCalls(executionId: string): Promise<number> {
  const row = await testEnv.EXECUTIONS_DB.prepare("SELECT COUNT(*) AS n FROM capability_calls WHERE execution_id = ?").bind(executionId).first<{ n: number }>();
  return row?.n ?? 0;
}

describe("retention (the scheduled handler)", () => {
  it("purges executions and their audit older than RETENTION_DAYS (30 by default) and keeps newer ones", async () => {
    const old = (await run({ code: "return 'old'" })).executionId;
    const young = (await run({ code: "return 'young'" })).executionId;
    await backdate(old, 31 * DAY_MS);
    await backdate(young, 29 * DAY_MS);
    const call = { kind: "api" as const, target: "https://example.com/x", outcome: "ok" as const, durationMs: 3, requestBytes: 0, responseBytes: 10 };
    await recordCapabilityCall(testEnv.EXECUTIONS_DB, { ...call, executionId: old, startedAt: Date.now() - 31 * DAY_MS });
    await recordCapabilityCall(testEnv.EXECUTIONS_DB, { ...call, executionId: young, startedAt: Date.now() - 29 * DAY_MS });

    await purge(testEnv);

    expect(await exists(old)).toBe(false);
    expect(await auditedCalls(old)).toBe(0);
    expect(await exists(young)).toBe(true);
    expect(await auditedCalls(young)).toBe(1);
  });

  it("honours a configured RETENTION_DAYS", async () => {
    const weekOld = (await run({ code: "return 1" })).executionId;
    await backdate(weekOld, 8 * DAY_MS);
    await purge({ ...testEnv, RETENTION_DAYS: "7" } as unknown as Env);
    expect(await exists(weekOld)).toBe(false);
  });

  it("refuses to purge with a malformed RETENTION_DAYS instead of guessing", async () => {
    const old = (await run({ code: "return 1" })).executionId;
    await backdate(old, 400 * DAY_MS);
    for (const days of ["0", "thirty", "-5", "1.5"]) {
      const env = { ...testEnv, RETENTION_DAYS: days } as unknown as Env;
      await expect(purge(env)).rejects.toThrow(/RETENTION_DAYS/);
    }
    expect(await exists(old)).toBe(true);
  });

  it("also aborts orphaned running rows", async () => {
    const id = (await run({ code: "return 1" })).executionId;
    await testEnv.EXECUTIONS_DB.prepare("UPDATE executions SET status = 'running', stale_after = 0 WHERE id = ?").bind(id).run();
    await purge(testEnv);
    const row = await testEnv.EXECUTIONS_DB.prepare("SELECT status FROM executions WHERE id = ?").bind(id).first<{ status: string }>();
    expect(row?.status).toBe("aborted");
  });
});

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecutionRecord } from "../../schemas/history";
import type { ExecutionResult } from "../../schemas/result";
import { commitWrite, groupCommitStats, MAX_BATCH_STATEMENTS } from "../../worker/history/group-commit";
import { BASE } from "../helpers";
import { testEnv } from "./client";

// Group commit (worker/history/group-commit.ts) against the real local D1: the audit table stands in for any
// history statement, so each write is one row that can be read back by its own execution id.

const db = testEnv.EXECUTIONS_DB;

function auditRow(executionId: string, target: string | null): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO capability_calls (execution_id, started_at, kind, target, outcome, error_code, duration_ms, request_bytes, response_bytes)
       VALUES (?, ?, 'api', ?, 'ok', NULL, 1, 0, 0)`,
    )
    .bind(executionId, Date.now(), target);
}

async function targetsOf(executionId: string): Promise<string[]> {
  const { results } = await db.prepare("SELECT target FROM capability_calls WHERE execution_id = ? ORDER BY id").bind(executionId).all<{ target: string }>();
  return results.map((row) => row.target);
}

const snapshot = () => ({ ...groupCommitStats });

describe("group commit of history writes", () => {
  it("sends writes made together as one D1 call, each caller's row stored when its write resolves", async () => {
    const id = crypto.randomUUID();
    const before = snapshot();
    await Promise.all(["a", "b", "c", "d", "e"].map((target) => commitWrite(db, auditRow(id, target), 1)));
    expect(groupCommitStats.statements - before.statements).toBe(5);
    expect(groupCommitStats.calls - before.calls).toBe(1);
    expect(await targetsOf(id)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("sends a lone write at once, as one call", async () => {
    const id = crypto.randomUUID();
    const before = snapshot();
    await commitWrite(db, auditRow(id, "alone"), 1);
    expect(groupCommitStats.calls - before.calls).toBe(1);
    expect(await targetsOf(id)).toEqual(["alone"]);
  });

  it("collects writes made while a batch is in flight into the next one, sent after it", async () => {
    const id = crypto.randomUUID();
    const before = snapshot();
    const first = commitWrite(db, auditRow(id, "1"), 1);
    // A later turn of the event loop: the first batch has been sent and is in flight.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const later = ["2", "3", "4"].map((target) => commitWrite(db, auditRow(id, target), 1));
    await Promise.all([first, ...later]);
    expect(groupCommitStats.calls - before.calls).toBeLessThanOrEqual(2);
    expect(await targetsOf(id)).toEqual(["1", "2", "3", "4"]);
  });

  it("fails only the bad statement of a batch: the others are written, and it rejects with its own error", async () => {
    const id = crypto.randomUUID();
    const writes = [auditRow(id, "good-1"), auditRow(id, null), auditRow(id, "good-2")].map((statement) =>
      commitWrite(db, statement, 1).then(
        () => "stored",
        (error: unknown) => String(error),
      ),
    );
    const [first, bad, last] = await Promise.all(writes);
    expect(first).toBe("stored");
    expect(last).toBe("stored");
    expect(bad).toMatch(/NOT NULL constraint failed: capability_calls\.target/);
    expect(await targetsOf(id)).toEqual(["good-1", "good-2"]);
  });

  it("splits more writes than a batch holds into several batches, all stored", async () => {
    const id = crypto.randomUUID();
    const targets = Array.from({ length: MAX_BATCH_STATEMENTS * 2 + 3 }, (_, i) => `t${String(i).padStart(2, "0")}`);
    const before = snapshot();
    await Promise.all(targets.map((target) => commitWrite(db, auditRow(id, target), 1)));
    expect(groupCommitStats.calls - before.calls).toBe(3);
    expect(await targetsOf(id)).toEqual(targets);
  });

  it("gives a write larger than a batch's share its own batch", async () => {
    const id = crypto.randomUUID();
    const before = snapshot();
    await Promise.all([commitWrite(db, auditRow(id, "small"), 1), commitWrite(db, auditRow(id, "small-2"), 1), commitWrite(db, auditRow(id, "large"), 2_000_000)]);
    expect(groupCommitStats.calls - before.calls).toBe(2);
    expect(await targetsOf(id)).toEqual(["small", "small-2", "large"]);
  });
});

describe("concurrent executions under group commit", () => {
  it("records every one of many concurrent executions with its own outcome, readable right after its reply", async () => {
    // Separate requests through the real fetch handler: each its own request context, so a batch carries
    // other requests' rows and settles their promises across contexts.
    const programs: { code: string; timeout?: number; expect: Record<string, unknown> }[] = [
      ...Array.from({ length: 8 }, (_, i) => ({ code: `return ${i} * 10`, expect: { status: "success", result: i * 10 } })),
      { code: "throw new RangeError('concurrent boom')", expect: { status: "error", errorCode: "RUNTIME_ERROR" } },
      { code: "return (", expect: { status: "rejected", errorCode: "SYNTAX_ERROR" } },
      { code: "while (true) {}", timeout: 300, expect: { status: "timeout", errorCode: "TIMEOUT" } },
      { code: "console.log('logged', 7); return 'with logs'", expect: { status: "success", result: "with logs", logs: [{ message: "logged 7" }] } },
    ];
    const before = snapshot();
    const outcomes = await Promise.all(
      programs.map(async (program) => {
        const response = await exports.default.fetch(`${BASE}/execute`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ code: program.code, ...(program.timeout ? { config: { timeout: program.timeout } } : {}) }),
        });
        const reply = (await response.json()) as ExecutionResult;
        // Read back at once, as a caller would, in its own request.
        const stored = (await (await exports.default.fetch(`${BASE}/executions/${reply.executionId}`)).json()) as ExecutionRecord;
        return { program, reply, stored };
      }),
    );
    for (const { program, reply, stored } of outcomes) {
      expect(reply.warnings).toBeUndefined();
      expect(stored).toMatchObject({ executionId: reply.executionId, code: program.code, ...program.expect });
      expect(stored.finishedAt).not.toBeNull();
      expect(stored.status).toBe(reply.status);
    }
    // Two writes per execution (running row, outcome), all through group commit, and requests shared batches
    // (measured here: 24 statements in 7 D1 calls).
    expect(groupCommitStats.statements - before.statements).toBe(programs.length * 2);
    expect(groupCommitStats.calls - before.calls).toBeLessThan(programs.length * 2);
  });
});

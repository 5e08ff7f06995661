import * as v from "valibot";
import {
  CapabilityCallSchema,
  MAX_AUDIT_ERROR_CODE_CHARS,
  MAX_AUDIT_TARGET_CHARS,
  type CapabilityCall,
} from "../../schemas/audit";
import { truncateText } from "./caps";
import { commitWrite } from "./group-commit";

/**
 * Records one capability call, parent-side. Never throws: an audit write that fails must not turn the user's
 * successful ai/api/db call into a failure, so the failure is logged instead (and the call stays unaudited).
 */
export async function recordCapabilityCall(db: D1Database, call: CapabilityCall): Promise<void> {
  try {
    const parsed = v.parse(CapabilityCallSchema, call);
    const target = truncateText(parsed.target, MAX_AUDIT_TARGET_CHARS);
    const errorCode = parsed.errorCode === undefined ? null : truncateText(parsed.errorCode, MAX_AUDIT_ERROR_CODE_CHARS);
    // With the history writes (group-commit.ts): concurrent calls' rows share D1 calls, and local runs' cap on
    // writes in flight covers these too.
    const statement = db
      .prepare(
        `INSERT INTO capability_calls
           (execution_id, started_at, kind, target, outcome, error_code, duration_ms, request_bytes, response_bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        parsed.executionId,
        parsed.startedAt,
        parsed.kind,
        target,
        parsed.outcome,
        errorCode,
        parsed.durationMs,
        parsed.requestBytes,
        parsed.responseBytes,
      );
    await commitWrite(db, statement, parsed.executionId.length + target.length + (errorCode?.length ?? 0) + 64);
  } catch (error) {
    console.error("history: could not record a capability call", { executionId: call.executionId, kind: call.kind }, error);
  }
}

interface CapabilityCallRow {
  execution_id: string;
  started_at: number;
  kind: CapabilityCall["kind"];
  target: string;
  outcome: CapabilityCall["outcome"];
  error_code: string | null;
  duration_ms: number;
  request_bytes: number;
  response_bytes: number;
}

/** An execution's calls in the order they were made. */
export async function listCapabilityCalls(db: D1Database, executionId: string): Promise<CapabilityCall[]> {
  const { results } = await db
    .prepare(
      `SELECT execution_id, started_at, kind, target, outcome, error_code, duration_ms, request_bytes, response_bytes
         FROM capability_calls WHERE execution_id = ? ORDER BY id`,
    )
    .bind(executionId)
    .all<CapabilityCallRow>();
  return results.map((row) => ({
    executionId: row.execution_id,
    startedAt: row.started_at,
    kind: row.kind,
    target: row.target,
    outcome: row.outcome,
    ...(row.error_code !== null ? { errorCode: row.error_code } : {}),
    durationMs: row.duration_ms,
    requestBytes: row.request_bytes,
    responseBytes: row.response_bytes,
  }));
}

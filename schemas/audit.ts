import * as v from "valibot";

// The capability-call audit trail: one row per ai/api/db call a sandbox makes, recorded parent-side (the sandbox
// never writes it) by worker/history/capability-calls.ts and returned with GET /executions/:id.

export const AUDITED_CAPABILITIES = ["ai", "api", "db"] as const;
export const CAPABILITY_CALL_OUTCOMES = ["ok", "denied", "error"] as const;

/** Targets are for humans reading an audit trail; longer ones are cut with a marker rather than rejected. */
export const MAX_AUDIT_TARGET_CHARS = 1024;
export const MAX_AUDIT_ERROR_CODE_CHARS = 64;

const byteCount = v.pipe(v.number(), v.integer(), v.minValue(0));

export const CapabilityCallSchema = v.object({
  executionId: v.pipe(v.string(), v.nonEmpty()),
  /** Epoch ms when the call started; with the insertion order it orders an execution's calls. */
  startedAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
  kind: v.picklist(AUDITED_CAPABILITIES),
  /**
   * What was called: the AI model, the API URL without query string or credentials, the SQL statement for db.
   * Never a header, a token or a request body: the audit trail is readable by the caller.
   */
  target: v.string(),
  outcome: v.picklist(CAPABILITY_CALL_OUTCOMES),
  /** Set when outcome is "denied" or "error": the capability's error code (e.g. DOMAIN_NOT_ALLOWED). */
  errorCode: v.optional(v.string()),
  durationMs: v.pipe(v.number(), v.minValue(0)),
  requestBytes: byteCount,
  responseBytes: byteCount,
});
export type CapabilityCall = v.InferOutput<typeof CapabilityCallSchema>;

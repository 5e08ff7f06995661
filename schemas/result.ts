import * as v from "valibot";
import { LanguageSchema } from "./execute";

export const LOG_LEVELS = ["log", "info", "warn", "error", "debug"] as const;

export const LogEntrySchema = v.object({
  level: v.picklist(LOG_LEVELS),
  message: v.string(),
  timestamp: v.pipe(v.string(), v.isoTimestamp()),
});
export type LogEntry = v.InferOutput<typeof LogEntrySchema>;

/** "cancelled": the caller cancelled the run (WebSocket cancel, RPC cancel(), or an SSE client that left). */
export const EXECUTION_STATUSES = ["success", "error", "timeout", "rejected", "cancelled"] as const;
export const ExecutionStatusSchema = v.picklist(EXECUTION_STATUSES);
export type ExecutionStatus = v.InferOutput<typeof ExecutionStatusSchema>;

export const EXECUTION_ERROR_CODES = [
  "SYNTAX_ERROR",
  "POLICY_VIOLATION",
  "RUNTIME_ERROR",
  "TIMEOUT",
  "CAPABILITY_DENIED",
  "SANDBOX_ERROR",
  "CANCELLED",
  /** Local and self-hosted: the sandbox process ran out of memory and died (production's isolate limit). */
  "RESOURCE_LIMIT",
  /** A session cell whose top-level state exceeded the session's cap: the cell counts as failed, nothing kept. */
  "SESSION_STATE_TOO_LARGE",
] as const;
export type ExecutionErrorCode = (typeof EXECUTION_ERROR_CODES)[number];

export const ExecutionErrorSchema = v.object({
  code: v.picklist(EXECUTION_ERROR_CODES),
  name: v.string(),
  message: v.string(),
  /** For a files request: the file line and column are in. */
  file: v.optional(v.string()),
  line: v.optional(v.pipe(v.number(), v.integer())),
  column: v.optional(v.pipe(v.number(), v.integer())),
});
export type ExecutionError = v.InferOutput<typeof ExecutionErrorSchema>;

export const ExecutionResultSchema = v.object({
  executionId: v.string(),
  success: v.boolean(),
  result: v.optional(v.unknown()),
  resultTruncated: v.optional(v.literal(true)),
  logs: v.array(LogEntrySchema),
  error: v.optional(ExecutionErrorSchema),
  status: ExecutionStatusSchema,
  language: LanguageSchema,
  durationMs: v.number(),
  /** Problems around the run that did not affect its outcome, e.g. execution history failing to record it. */
  warnings: v.optional(v.array(v.string())),
});
export type ExecutionResult = v.InferOutput<typeof ExecutionResultSchema>;

export const ValidationIssueSchema = v.object({
  code: v.picklist(["SYNTAX_ERROR", "POLICY_VIOLATION"]),
  message: v.string(),
  /** For a files request: the file the issue is in. */
  file: v.optional(v.string()),
  line: v.optional(v.number()),
  column: v.optional(v.number()),
});
export type ValidationIssue = v.InferOutput<typeof ValidationIssueSchema>;

export const ValidateResponseSchema = v.object({ valid: v.boolean(), errors: v.array(ValidationIssueSchema) });
export type ValidateResponse = v.InferOutput<typeof ValidateResponseSchema>;

import * as v from "valibot";
import { CapabilityCallSchema } from "./audit";
import { ExecuteConfigSchema, LanguageSchema } from "./execute";
import { EXECUTION_STATUSES, ExecutionErrorSchema, LogEntrySchema } from "./result";

// What GET /executions and getExecution/listExecutions return. A record adds two statuses to a result's:
// "running" (written before the child starts) and "aborted" (a running row whose process died; see
// worker/history/orphans.ts).

export const HISTORY_STATUSES = [...EXECUTION_STATUSES, "running", "aborted"] as const;
export const HistoryStatusSchema = v.picklist(HISTORY_STATUSES, `status must be one of: ${HISTORY_STATUSES.join(", ")}`);
export type HistoryStatus = v.InferOutput<typeof HistoryStatusSchema>;

export const CALLER_KINDS = ["http", "rpc"] as const;
export const CallerSchema = v.object({
  kind: v.picklist(CALLER_KINDS),
  /** The API key's name, "anonymous" when no keys are configured, "service-binding" for RPC. */
  identity: v.string(),
});

export const DEFAULT_LIST_LIMIT = 10;
export const MAX_LIST_LIMIT = 100;

const isoTime = v.pipe(v.string(), v.isoTimestamp());

export const ExecutionSummarySchema = v.object({
  executionId: v.string(),
  status: HistoryStatusSchema,
  success: v.nullable(v.boolean()),
  language: LanguageSchema,
  caller: CallerSchema,
  codeSha256: v.string(),
  errorCode: v.nullable(v.string()),
  /** When the request reached the pipeline. */
  createdAt: isoTime,
  /** When the sandbox was about to start (after validation and transpiling). */
  startedAt: isoTime,
  /** When the outcome was recorded; null while running and for aborted rows. */
  finishedAt: v.nullable(isoTime),
  durationMs: v.nullable(v.number()),
  /** The session this execution is a cell of (POST /sessions/:id/execute), or null. */
  sessionId: v.nullable(v.string()),
});
export type ExecutionSummary = v.InferOutput<typeof ExecutionSummarySchema>;

export const ExecutionRecordSchema = v.object({
  ...ExecutionSummarySchema.entries,
  /** The code, or for a files request the entry file's source. */
  code: v.string(),
  /** A files request's whole program; absent for code. */
  files: v.optional(v.record(v.string(), v.string())),
  entry: v.optional(v.string()),
  context: v.unknown(),
  config: ExecuteConfigSchema,
  result: v.optional(v.unknown()),
  /** The sandbox cut the result itself (see the result's own resultTruncated). */
  resultTruncated: v.optional(v.literal(true)),
  logs: v.array(LogEntrySchema),
  error: v.optional(ExecutionErrorSchema),
  capabilityCalls: v.array(CapabilityCallSchema),
  /**
   * Stored columns history had to cut to fit D1's row limits (e.g. ["result", "logs"]). A cut column is kept as
   * a string: its JSON text up to the cap, ending in the truncation marker.
   */
  truncated: v.array(v.string()),
});
export type ExecutionRecord = v.InferOutput<typeof ExecutionRecordSchema>;

const wholeNumber = (name: string, min: number, max: number) =>
  v.pipe(
    v.number(`${name} must be a number`),
    v.integer(`${name} must be a whole number`),
    v.minValue(min, `${name} must be at least ${min}`),
    v.maxValue(max, `${name} must be at most ${max}`),
  );

const listLimit = wholeNumber("limit", 1, MAX_LIST_LIMIT);
const listOffset = wholeNumber("offset", 0, Number.MAX_SAFE_INTEGER);

/** listExecutions() over RPC: numbers arrive as numbers. */
export const ListExecutionsOptionsSchema = v.strictObject({
  limit: v.optional(listLimit, DEFAULT_LIST_LIMIT),
  offset: v.optional(listOffset, 0),
  status: v.optional(HistoryStatusSchema),
  language: v.optional(LanguageSchema),
});
export type ListExecutionsOptions = v.InferOutput<typeof ListExecutionsOptionsSchema>;
export type ListExecutionsOptionsInput = v.InferInput<typeof ListExecutionsOptionsSchema>;

/** A query-string integer: digits only, so "1.5", "-1", "1e3", " 1" and "" are rejected instead of coerced. */
const queryInteger = (name: string, inner: typeof listLimit) =>
  v.pipe(v.string(`${name} must be given once`), v.regex(/^\d{1,16}$/, `${name} must be a non-negative whole number`), v.transform(Number), inner);

/** GET /executions query string; unknown or repeated parameters are errors, not silently ignored. */
export const ListExecutionsQuerySchema = v.strictObject({
  limit: v.optional(queryInteger("limit", listLimit), String(DEFAULT_LIST_LIMIT)),
  offset: v.optional(queryInteger("offset", listOffset), "0"),
  status: v.optional(v.pipe(v.string("status must be given once"), HistoryStatusSchema)),
  language: v.optional(v.pipe(v.string("language must be given once"), LanguageSchema)),
});

export const ListExecutionsResponseSchema = v.object({
  executions: v.array(ExecutionSummarySchema),
  total: v.number(),
  limit: v.number(),
  offset: v.number(),
});
export type ListExecutionsResponse = v.InferOutput<typeof ListExecutionsResponseSchema>;

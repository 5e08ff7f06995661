import * as v from "valibot";
import { CodeSchema, ContextSchema, ExecuteConfigSchema, LanguageSchema } from "./execute";
import { ExecutionResultSchema, ExecutionStatusSchema, ExecutionErrorSchema } from "./result";

// Persistent execution sessions (worker/sessions/): a REPL whose top-level declarations survive between cells,
// while every cell still runs in a fresh isolate. Limits live here so the docs and OpenAPI show them.

export const DEFAULT_SESSION_TTL_SECONDS = 60 * 60;
export const MIN_SESSION_TTL_SECONDS = 1;
export const MAX_SESSION_TTL_SECONDS = 7 * 24 * 60 * 60;
/** The encoded state (all persisted values plus the source of persisted functions and classes), as JSON text. */
export const MAX_SESSION_STATE_BYTES = 1024 * 1024;
/** Persisted top-level names. */
export const MAX_SESSION_BINDINGS = 1_000;
/** Cells kept in a session's record; a session that reached it takes no more cells (start a new one). */
export const MAX_SESSION_CELLS = 1_000;
/** Runs that may wait behind the running cell of one session; one more is answered 409 SESSION_BUSY. */
export const MAX_SESSION_QUEUE = 8;

/** A Durable Object id as hex: 64 characters. Anything else is a session that does not exist. */
export const SessionIdSchema = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "not a session id"));

/** Session state is carried for JavaScript and TypeScript only (README, "Sessions": what Python would need). */
export const SESSION_LANGUAGES = ["javascript", "typescript"] as const;

export const CreateSessionRequestSchema = v.strictObject({
  language: v.optional(
    v.picklist(SESSION_LANGUAGES, `language must be one of: ${SESSION_LANGUAGES.join(", ")} (sessions do not carry Python state yet)`),
    "javascript",
  ),
  config: v.optional(ExecuteConfigSchema, () => v.parse(ExecuteConfigSchema, {})),
  ttlSeconds: v.optional(
    v.pipe(
      v.number("ttlSeconds must be a number of seconds"),
      v.integer("ttlSeconds must be a whole number of seconds"),
      v.minValue(MIN_SESSION_TTL_SECONDS, `ttlSeconds must be at least ${MIN_SESSION_TTL_SECONDS}`),
      v.maxValue(MAX_SESSION_TTL_SECONDS, `ttlSeconds must be at most ${MAX_SESSION_TTL_SECONDS}`),
      v.description("Idle lifetime: each cell refreshes it; an expired session is deleted."),
    ),
    DEFAULT_SESSION_TTL_SECONDS,
  ),
});
export type CreateSessionRequest = v.InferOutput<typeof CreateSessionRequestSchema>;
export type CreateSessionRequestInput = v.InferInput<typeof CreateSessionRequestSchema>;

/** A cell's config may only narrow the session's: checked against it by the session, not here. */
export const SessionExecuteRequestSchema = v.strictObject({
  code: CodeSchema,
  context: v.optional(ContextSchema, () => ({})),
  config: v.optional(
    v.strictObject({
      timeout: v.optional(ExecuteConfigSchema.entries.timeout.wrapped),
      allowedAPIs: v.optional(ExecuteConfigSchema.entries.allowedAPIs.wrapped),
      allowedDomains: v.optional(ExecuteConfigSchema.entries.allowedDomains.wrapped),
    }),
    {},
  ),
});
export type SessionExecuteRequest = v.InferOutput<typeof SessionExecuteRequestSchema>;
export type SessionExecuteRequestInput = v.InferInput<typeof SessionExecuteRequestSchema>;

const isoTime = v.pipe(v.string(), v.isoTimestamp());

export const SessionSchema = v.object({
  sessionId: v.string(),
  language: LanguageSchema,
  config: ExecuteConfigSchema,
  createdAt: isoTime,
  expiresAt: isoTime,
  cellCount: v.number(),
});
export type Session = v.InferOutput<typeof SessionSchema>;

export const STATE_ENTRY_KINDS = ["value", "function", "class"] as const;
export const StateEntrySchema = v.object({
  name: v.string(),
  /** How the name is restored: a value by structured clone, a function or class by re-declaring its source. */
  kind: v.picklist(STATE_ENTRY_KINDS),
  declaredAs: v.picklist(["var", "let", "const", "function", "class"]),
  /** Characters of its share of the state: the encoded value, or the source text. */
  sizeBytes: v.number(),
  /** The cell that last set it. */
  cell: v.number(),
});
export type StateEntry = v.InferOutput<typeof StateEntrySchema>;

export const CellSummarySchema = v.object({
  cell: v.number(),
  executionId: v.string(),
  /** Cut to 4 KB; the whole code is in history under executionId. */
  code: v.string(),
  status: ExecutionStatusSchema,
  success: v.boolean(),
  error: v.optional(ExecutionErrorSchema),
  /** The result as JSON text, cut to 1 KB. */
  resultPreview: v.optional(v.string()),
  durationMs: v.number(),
  createdAt: isoTime,
});
export type CellSummary = v.InferOutput<typeof CellSummarySchema>;

export const SessionDetailSchema = v.object({
  ...SessionSchema.entries,
  cells: v.array(CellSummarySchema),
  state: v.object({ entries: v.array(StateEntrySchema), sizeBytes: v.number(), maxBytes: v.number() }),
});
export type SessionDetail = v.InferOutput<typeof SessionDetailSchema>;

export const SessionListSchema = v.object({ sessions: v.array(SessionSchema) });
export type SessionList = v.InferOutput<typeof SessionListSchema>;

export const SessionExecutionResultSchema = v.object({
  ...ExecutionResultSchema.entries,
  sessionId: v.string(),
  cell: v.number(),
});
export type SessionExecutionResult = v.InferOutput<typeof SessionExecutionResultSchema>;

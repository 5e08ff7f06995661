import type { ExecuteConfig, Language } from "../../schemas/execute";
import type { ExecutionRecord, ExecutionSummary, HistoryStatus, ListExecutionsOptions } from "../../schemas/history";
import type { ExecutionError, LogEntry } from "../../schemas/result";
import type { Caller } from "../execution/pipeline";
import { listCapabilityCalls } from "./capability-calls";
import { commitWrite } from "./group-commit";

// SQL for the executions table. Everything that reads or writes a row goes through here.

/** Who is reading: operators and RPC callers see every row; an API-key holder sees only the rows it created. */
export type Viewer = { sees: "all" } | { sees: "own"; identity: string };

export interface StartedRow {
  id: string;
  caller: Caller;
  language: Language;
  code: string;
  codeSha256: string;
  /** {"entry", "files"} of a files request; null for code. */
  filesJson: string | null;
  contextJson: string;
  configJson: string;
  createdAt: number;
  startedAt: number;
  staleAfter: number;
  truncated: string[];
  /** The session the execution is a cell of, or null. */
  sessionId: string | null;
}

export interface FinishedFields {
  status: Exclude<HistoryStatus, "running" | "aborted">;
  success: boolean;
  resultJson: string | null;
  logsJson: string;
  errorJson: string | null;
  truncated: string[];
  finishedAt: number;
  durationMs: number;
}

export async function insertStarted(db: D1Database, row: StartedRow): Promise<void> {
  await commitWrite(db, insertStatement(db, row, "running", null), startedChars(row));
}

/**
 * Completes the row with one statement. When its start was recorded (`startLanded`), a narrow UPDATE: the code
 * and context are already stored, so they are not sent again. Otherwise the whole row is inserted now, so the
 * execution is still in history; as an upsert, because a start write that failed may still have landed. A row
 * the orphan sweep already marked aborted is overwritten either way: the real outcome beats the guess.
 */
export async function completeExecution(db: D1Database, row: StartedRow, fields: FinishedFields, startLanded: boolean): Promise<void> {
  const statement = startLanded ? updateStatement(db, row, fields) : upsertStatement(db, row, fields);
  await commitWrite(db, statement, outcomeChars(fields) + (startLanded ? 0 : startedChars(row)));
}

/** The bulk of what a statement binds, for group commit's batch size (worker/history/group-commit.ts). */
const startedChars = (row: StartedRow) => row.code.length + row.contextJson.length + row.configJson.length;
const outcomeChars = (fields: FinishedFields) => (fields.resultJson?.length ?? 0) + fields.logsJson.length + (fields.errorJson?.length ?? 0);

/** What the outcome sets; the SQL below is built from it once, at module load. */
const OUTCOME_COLUMNS = ["status", "success", "result_json", "logs_json", "error_json", "truncated_json", "finished_at", "duration_ms"];

const UPDATE_OUTCOME = `UPDATE executions SET ${OUTCOME_COLUMNS.map((column) => `${column} = ?`).join(", ")} WHERE id = ?`;

function updateStatement(db: D1Database, row: StartedRow, fields: FinishedFields): D1PreparedStatement {
  return db
    .prepare(UPDATE_OUTCOME)
    .bind(
      fields.status,
      fields.success ? 1 : 0,
      fields.resultJson,
      fields.logsJson,
      fields.errorJson,
      JSON.stringify([...row.truncated, ...fields.truncated]),
      fields.finishedAt,
      fields.durationMs,
      row.id,
    );
}

const UPSERT_OUTCOME = ` ON CONFLICT (id) DO UPDATE SET ${OUTCOME_COLUMNS.map((column) => `${column} = excluded.${column}`).join(", ")}`;

function upsertStatement(db: D1Database, row: StartedRow, fields: FinishedFields): D1PreparedStatement {
  return insertStatement(db, row, fields.status, fields, UPSERT_OUTCOME);
}

function insertStatement(
  db: D1Database,
  row: StartedRow,
  status: HistoryStatus,
  fields: FinishedFields | null,
  onConflict = "",
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO executions (id, caller_kind, caller_identity, language, code, code_sha256, context_json, config_json,
         status, success, result_json, logs_json, error_json, truncated_json, created_at, started_at, finished_at,
         duration_ms, stale_after, session_id, files_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)${onConflict}`,
    )
    .bind(
      row.id,
      row.caller.kind,
      row.caller.identity,
      row.language,
      row.code,
      row.codeSha256,
      row.contextJson,
      row.configJson,
      status,
      fields ? (fields.success ? 1 : 0) : null,
      fields?.resultJson ?? null,
      fields?.logsJson ?? null,
      fields?.errorJson ?? null,
      JSON.stringify([...row.truncated, ...(fields?.truncated ?? [])]),
      row.createdAt,
      row.startedAt,
      fields?.finishedAt ?? null,
      fields?.durationMs ?? null,
      row.staleAfter,
      row.sessionId,
      row.filesJson,
    );
}

const SUMMARY_COLUMNS = `id, status, success, language, caller_kind, caller_identity, code_sha256,
  json_extract(error_json, '$.code') AS error_code, created_at, started_at, finished_at, duration_ms, session_id`;

interface SummaryRow {
  id: string;
  status: HistoryStatus;
  success: number | null;
  language: Language;
  caller_kind: Caller["kind"];
  caller_identity: string;
  code_sha256: string;
  error_code: string | null;
  created_at: number;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  session_id: string | null;
}

interface RecordRow extends SummaryRow {
  code: string;
  files_json: string | null;
  context_json: string;
  config_json: string;
  result_json: string | null;
  logs_json: string | null;
  error_json: string | null;
  truncated_json: string | null;
}

function visibility(viewer: Viewer): { sql: string; params: string[] } {
  return viewer.sees === "all"
    ? { sql: "", params: [] }
    : { sql: " AND caller_kind = 'http' AND caller_identity = ?", params: [viewer.identity] };
}

export async function findExecution(db: D1Database, id: string, viewer: Viewer): Promise<ExecutionRecord | undefined> {
  const scope = visibility(viewer);
  const row = await db
    .prepare(
      `SELECT ${SUMMARY_COLUMNS}, code, files_json, context_json, config_json, result_json, logs_json, error_json, truncated_json
         FROM executions WHERE id = ?${scope.sql}`,
    )
    .bind(id, ...scope.params)
    .first<RecordRow>();
  if (!row) return undefined;
  const capabilityCalls = await listCapabilityCalls(db, id);
  const result = parseColumn<{ value?: unknown; truncated?: true }>(row.result_json);
  const error = parseColumn<ExecutionError>(row.error_json);
  const program = parseColumn<{ entry: string; files: Record<string, string> }>(row.files_json);
  return {
    ...toSummary(row),
    code: row.code,
    ...(program ? { entry: program.entry, files: program.files } : {}),
    context: parseColumn(row.context_json),
    config: JSON.parse(row.config_json) as ExecuteConfig,
    ...(result && "value" in result ? { result: result.value } : {}),
    ...(result?.truncated ? { resultTruncated: true as const } : {}),
    logs: parseColumn<LogEntry[]>(row.logs_json) ?? [],
    ...(error ? { error } : {}),
    capabilityCalls,
    truncated: parseColumn<string[]>(row.truncated_json) ?? [],
  };
}

export async function listExecutionSummaries(
  db: D1Database,
  options: ListExecutionsOptions,
  viewer: Viewer,
): Promise<{ executions: ExecutionSummary[]; total: number }> {
  const scope = visibility(viewer);
  let where = `WHERE 1 = 1${scope.sql}`;
  const params: (string | number)[] = [...scope.params];
  if (options.status !== undefined) {
    where += " AND status = ?";
    params.push(options.status);
  }
  if (options.language !== undefined) {
    where += " AND language = ?";
    params.push(options.language);
  }
  // One batch is one implicit transaction, so the page and the total agree. rowid breaks ties in insertion
  // order: Date.now() only advances on I/O, so two executions can share a created_at.
  const [page, count] = await db.batch<SummaryRow | { total: number }>([
    db
      .prepare(`SELECT ${SUMMARY_COLUMNS} FROM executions ${where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`)
      .bind(...params, options.limit, options.offset),
    db.prepare(`SELECT COUNT(*) AS total FROM executions ${where}`).bind(...params),
  ]);
  const rows = (page?.results ?? []) as SummaryRow[];
  const total = ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0;
  return { executions: rows.map(toSummary), total };
}

function toSummary(row: SummaryRow): ExecutionSummary {
  return {
    executionId: row.id,
    status: row.status,
    success: row.success === null ? null : row.success === 1,
    language: row.language,
    caller: { kind: row.caller_kind, identity: row.caller_identity },
    codeSha256: row.code_sha256,
    errorCode: row.error_code,
    createdAt: new Date(row.created_at).toISOString(),
    startedAt: new Date(row.started_at).toISOString(),
    finishedAt: row.finished_at === null ? null : new Date(row.finished_at).toISOString(),
    durationMs: row.duration_ms,
    sessionId: row.session_id,
  };
}

function parseColumn<T = unknown>(json: string | null): T | undefined {
  return json === null ? undefined : (JSON.parse(json) as T);
}

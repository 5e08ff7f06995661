import type { ExecutionResult } from "../../schemas/result";
import type { ExecutionRecorder, StartedExecution } from "../execution/pipeline";
import { entryLanguage, programSource } from "../execution/program";
import { MAX_STORED_CONTEXT_BYTES, MAX_STORED_ERROR_BYTES, MAX_STORED_LOGS_BYTES, MAX_STORED_RESULT_BYTES, capJson, capLogs, truncateText } from "./caps";
import { completeExecution, insertStarted, type StartedRow } from "./executions-store";
import { staleAfter, sweepOrphans } from "./orphans";
import { configureWriteSlots } from "./write-slots";

/** Orphans left by a previous process are swept when a fresh isolate records its first execution. */
let sweptInThisIsolate = false;

/**
 * Records every execution in EXECUTIONS_DB. Its methods throw on database failure; the pipeline turns that into
 * a warning on the result, so history can never cost a caller its result.
 */
export function createRecorder(env: Env, ctx: ExecutionContext): ExecutionRecorder {
  const db = env.EXECUTIONS_DB;
  configureWriteSlots(env.HISTORY_WRITES_IN_FLIGHT);
  const rows = new Map<string, Promise<StartedRow>>();
  /** Executions whose running row is known to be stored: their outcome is a narrow UPDATE. */
  const landed = new Set<string>();
  const rowFor = (execution: StartedExecution): Promise<StartedRow> => {
    let row = rows.get(execution.executionId);
    if (!row) {
      row = startedRow(execution, Date.now());
      rows.set(execution.executionId, row);
    }
    return row;
  };

  return {
    async started(execution) {
      if (!sweptInThisIsolate) {
        sweptInThisIsolate = true;
        ctx.waitUntil(sweepOrphans(db).catch((error) => console.error("history: orphan sweep failed", error)));
      }
      await insertStarted(db, await rowFor(execution));
      landed.add(execution.executionId);
    },
    async finished(execution, result) {
      const row = await rowFor(execution);
      const startLanded = landed.delete(execution.executionId);
      rows.delete(execution.executionId);
      await completeExecution(db, row, finishedFields(result, Date.now()), startLanded);
    },
  };
}

async function startedRow(execution: StartedExecution, nowMs: number): Promise<StartedRow> {
  const { request } = execution;
  const source = programSource(request);
  // The whole program, so a stored files request can be run again as it was; its hash covers every file.
  const filesJson = request.files ? JSON.stringify({ entry: source.entry, files: request.files }) : null;
  const context = capJson(request.context, MAX_STORED_CONTEXT_BYTES);
  return {
    id: execution.executionId,
    caller: execution.caller,
    language: request.files ? entryLanguage(source) : request.language,
    code: source.files.get(source.entry) ?? "",
    codeSha256: await sha256Hex(filesJson ?? request.code ?? ""),
    filesJson,
    contextJson: context.json,
    configJson: JSON.stringify(request.config),
    createdAt: execution.startedAt,
    startedAt: nowMs,
    staleAfter: staleAfter(nowMs, request.config.timeout),
    truncated: context.truncated ? ["context"] : [],
    sessionId: execution.sessionId ?? null,
  };
}

function finishedFields(result: ExecutionResult, nowMs: number) {
  const truncated: string[] = [];
  let resultJson: string | null = null;
  if ("result" in result) {
    // An envelope, so a stored `null` result differs from no result at all.
    const value = capJson(result.result, MAX_STORED_RESULT_BYTES);
    if (value.truncated) truncated.push("result");
    resultJson = `{"value":${value.json}${result.resultTruncated ? ',"truncated":true' : ""}}`;
  }
  const logs = capLogs(result.logs, MAX_STORED_LOGS_BYTES);
  if (logs.truncated) truncated.push("logs");
  const error = result.error && {
    ...result.error,
    name: truncateText(result.error.name, 256),
    message: truncateText(result.error.message, MAX_STORED_ERROR_BYTES / 4),
  };
  return {
    status: result.status,
    success: result.success,
    resultJson,
    logsJson: logs.json,
    errorJson: error ? JSON.stringify(error) : null,
    truncated,
    finishedAt: nowMs,
    durationMs: result.durationMs,
  };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

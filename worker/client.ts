// The types another Worker needs to call code-exec over a service binding. package.json "exports" points here,
// so a caller in this workspace (or one that installs this package) writes:
//
//   import type { CodeExecBinding } from "code-exec";
//   interface Env { CODE_EXEC: CodeExecBinding }
//   const result = await env.CODE_EXEC.executeCode("return 1 + 1"); // Promise<ExecutionResult>
//
// Types only: nothing here runs in the caller.
import type { WorkerEntrypoint } from "cloudflare:workers";
import type { CodeExecutor } from "./rpc";

export type { CodeExecutor };
export type { ExecutionStream } from "./rpc";

/**
 * The RPC methods the entrypoint adds: executeCode, executeProgram, executeStream, getExecution, listExecutions, and the session
 * methods createSession, executeInSession, getSession, listSessions, deleteSession (and any added later).
 */
export type CodeExecMethodName = Exclude<keyof CodeExecutor, keyof WorkerEntrypoint>;

/**
 * The service binding to the CodeExecutor entrypoint:
 * `"services": [{ "binding": "CODE_EXEC", "service": "code-exec", "entrypoint": "CodeExecutor" }]`.
 *
 * Not `Service<typeof CodeExecutor>`: workers-types maps each return type through its Serializable check, which
 * turns the result's `result: unknown` (any JSON value the code returned) into `never`. Across the binding the
 * methods return structured-clone copies of exactly these shapes, so their own signatures are the honest type.
 */
export type CodeExecBinding = Fetcher & Pick<CodeExecutor, CodeExecMethodName>;

export type { Capability, ExecuteConfig, ExecuteRequest, ExecuteRequestInput, Language } from "../schemas/execute";
export type { ExecutionError, ExecutionErrorCode, ExecutionResult, ExecutionStatus, LogEntry } from "../schemas/result";
export type { StreamEvent } from "../schemas/stream";
export type { ExecutionRecord, ExecutionSummary, HistoryStatus, ListExecutionsOptionsInput, ListExecutionsResponse } from "../schemas/history";
export type {
  CellSummary,
  CreateSessionRequestInput,
  Session,
  SessionDetail,
  SessionExecuteRequestInput,
  SessionExecutionResult,
  SessionList,
  StateEntry,
} from "../schemas/session";

import { WorkerEntrypoint } from "cloudflare:workers";
import { ExecuteRequestSchema, type ExecuteRequestInput } from "../schemas/execute";
import type { ExecutionResult } from "../schemas/result";
import * as v from "valibot";
import {
  ListExecutionsOptionsSchema,
  type ExecutionRecord,
  type ListExecutionsOptionsInput,
  type ListExecutionsResponse,
} from "../schemas/history";
import { getExecution, listExecutions } from "./history/queries";
import { executeRequest } from "./execution/pipeline";
import { parseInput } from "./parse";
import { createRecorder } from "./history/recorder";
import { ServiceError } from "./errors";
import {
  CreateSessionRequestSchema,
  SessionExecuteRequestSchema,
  type CreateSessionRequestInput,
  type Session,
  type SessionDetail,
  type SessionExecuteRequestInput,
  type SessionExecutionResult,
  type SessionList,
} from "../schemas/session";
import { createSession, endSession, executeCell, getSession, listCallerSessions } from "./sessions/service";

/** Every RPC caller is the service binding: its executions and sessions are recorded under it. */
const RPC_CALLER = { kind: "rpc", identity: "service-binding" } as const;
import { executionNdjsonStream } from "./http/stream";

/** What executeStream() answers. */
export interface ExecutionStream {
  /** Newline-delimited JSON: one StreamEvent per line, ending after the `result` event. */
  events: ReadableStream<Uint8Array>;
  cancel: () => Promise<void>;
}

async function asRpcError<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ServiceError) throw new TypeError(`${error.code}: ${error.message}`);
    throw error;
  }
}

/**
 * The service-binding API: the same pipeline and result as POST /execute. Arguments arrive from another Worker,
 * so they are parsed like an HTTP body; request-level errors are thrown as Errors whose message starts with the
 * error code (RPC carries only name and message across).
 */
export class CodeExecutor extends WorkerEntrypoint<Env> {
  /** Private (#), so RPC does not expose it. */
  #pipelineDeps() {
    return { env: this.env, ctx: this.ctx, recorder: createRecorder(this.env, this.ctx) };
  }

  async executeCode(
    code: string,
    language?: ExecuteRequestInput["language"],
    context?: ExecuteRequestInput["context"],
    config?: ExecuteRequestInput["config"],
  ): Promise<ExecutionResult> {
    return this.executeProgram({ code, language, context, config });
  }

  /**
   * POST /execute's body as one object: `code`, or `files` + `entry` (a multi-file program, README "Multi-file
   * programs and packages"), with language, context and config. The same pipeline and result as executeCode.
   */
  async executeProgram(request: ExecuteRequestInput): Promise<ExecutionResult> {
    const input = await asRpcError(() => parseInput(ExecuteRequestSchema, request));
    return executeRequest(this.#pipelineDeps(), input, RPC_CALLER);
  }

  /**
   * The same execution as a stream of its events (schemas/stream.ts), one JSON object per line: start, a log per
   * entry as the code makes it, then the result. `await cancel()` cancels the run (status "cancelled", logs so
   * far, recorded). A byte stream because RPC carries only byte ReadableStreams; cancel is a function, which RPC
   * passes as a stub. examples/caller-worker/index.js shows both.
   */
  async executeStream(
    code: string,
    language?: ExecuteRequestInput["language"],
    context?: ExecuteRequestInput["context"],
    config?: ExecuteRequestInput["config"],
  ): Promise<ExecutionStream> {
    const input = await asRpcError(() => parseInput(ExecuteRequestSchema, { code, language, context, config }));
    const { events, cancel } = executionNdjsonStream(this.#pipelineDeps(), input, RPC_CALLER);
    return { events, cancel: async () => cancel() };
  }

  /** The full record, as GET /executions/:id. Service bindings are trusted: they see every caller's executions. */
  async getExecution(id: string): Promise<ExecutionRecord> {
    const executionId = await asRpcError(() => parseInput(v.pipe(v.string("id must be a string"), v.nonEmpty("id must not be empty")), id));
    return asRpcError(() => getExecution(this.env.EXECUTIONS_DB, executionId, { sees: "all" }));
  }

  /** Newest first, as GET /executions (limit 1-100, default 10; offset; optional status and language filters). */
  async listExecutions(options?: ListExecutionsOptionsInput): Promise<ListExecutionsResponse> {
    const parsed = await asRpcError(() => parseInput(ListExecutionsOptionsSchema, options ?? {}));
    return listExecutions(this.env.EXECUTIONS_DB, parsed, { sees: "all" });
  }

  /** As POST /sessions: a session whose top-level declarations persist between cells (README "Sessions"). */
  async createSession(options?: CreateSessionRequestInput): Promise<Session> {
    const input = await asRpcError(() => parseInput(CreateSessionRequestSchema, options ?? {}));
    return asRpcError(() => createSession(this.env, RPC_CALLER, input));
  }

  /** As POST /sessions/:id/execute: runs one cell; a second call waits for the one before. */
  async executeInSession(sessionId: string, code: string, context?: SessionExecuteRequestInput["context"], config?: SessionExecuteRequestInput["config"]): Promise<SessionExecutionResult> {
    const input = await asRpcError(() => parseInput(SessionExecuteRequestSchema, { code, context, config }));
    return asRpcError(() => executeCell(this.env, RPC_CALLER, String(sessionId), input));
  }

  /** As GET /sessions/:id: metadata, cells and what the state holds. */
  async getSession(sessionId: string): Promise<SessionDetail> {
    return asRpcError(() => getSession(this.env, RPC_CALLER, String(sessionId)));
  }

  /** As GET /sessions: the sessions created over RPC. */
  async listSessions(): Promise<SessionList> {
    return asRpcError(() => listCallerSessions(this.env, RPC_CALLER));
  }

  /** As DELETE /sessions/:id. */
  async deleteSession(sessionId: string): Promise<void> {
    await asRpcError(() => endSession(this.env, RPC_CALLER, String(sessionId)));
  }
}

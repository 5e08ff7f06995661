import type { ExecuteRequest, Language } from "../../schemas/execute";
import type { ExecutionError, ExecutionResult, LogEntry, ValidationIssue } from "../../schemas/result";
import { cutText, MAX_ERROR_MESSAGE_CHARS, MAX_ERROR_NAME_CHARS, type ChildReply } from "./child-protocol";
import { languageRuntime, type SandboxProgram } from "../languages";
import { javascriptProgram } from "../languages/javascript";
import { ExecutionEvents, registerExecution, type ExecutionObserver } from "./execution-events";
import type { PrepareOutcome } from "./prepare";
import { entryLanguage, programSource } from "./program";
import { sandboxHostFor, type SandboxOutcome } from "./sandbox";

export interface Caller {
  kind: "http" | "rpc";
  /** API key name for HTTP callers when keys are configured; "anonymous" otherwise; "service-binding" for RPC. */
  identity: string;
}

/** What history needs to know around a run; the pipeline never talks to a database itself. */
export interface ExecutionRecorder {
  started(execution: StartedExecution): Promise<void>;
  finished(execution: StartedExecution, result: ExecutionResult): Promise<void>;
}

export interface StartedExecution {
  executionId: string;
  caller: Caller;
  request: ExecuteRequest;
  startedAt: number;
  /** Set for a cell of a session (worker/sessions/). */
  sessionId?: string;
}

/** What a session cell changes in a run (worker/sessions/session-object.ts); the rest is an ordinary execution. */
export interface CellRun {
  sessionId: string;
  /** Replaces prepare(): the cell with the session's prologue and capture. */
  prepare(code: string, language: Language): Promise<PrepareOutcome>;
  /** The session's state, handed to the child as data in its run input. */
  stateJson: string;
  /** Takes a successful reply's state; an error it returns makes the cell fail (e.g. the state cap). */
  settle(reply: ChildReply): ExecutionError | undefined;
}

export interface PipelineDeps {
  env: Env;
  ctx: ExecutionContext;
  recorder?: ExecutionRecorder;
}

/**
 * One execution, start to recorded result. `observer` streams it (start, each log as the child makes it, the
 * result) and may cancel it; without one, the logs still reach the front as they are made, so a child that never
 * answers (backstop, crash) leaves its logs in the result. `cell` is set for a cell of a session.
 */
export async function executeRequest(
  deps: PipelineDeps,
  request: ExecuteRequest,
  caller: Caller,
  { cell, ...observer }: ExecutionObserver & { cell?: CellRun } = {},
): Promise<ExecutionResult> {
  const startedAt = Date.now();
  const execution: StartedExecution = {
    executionId: crypto.randomUUID(),
    caller,
    request,
    startedAt,
    ...(cell ? { sessionId: cell.sessionId } : {}),
  };
  const source = programSource(request);
  // A files request is in its entry's language (main.ts runs as TypeScript whatever `language` said).
  const language = entryLanguage(source);
  const events = new ExecutionEvents(observer);
  events.started(execution.executionId, language);
  const finish = (partial: Omit<ExecutionResult, "executionId" | "language" | "durationMs">): ExecutionResult => ({
    executionId: execution.executionId,
    language,
    durationMs: Date.now() - startedAt,
    ...partial,
  });

  const warnings: string[] = [];
  // In process, the "running" row must land before the child starts: a child that wedges the local runtime (a
  // catastrophic regex) freezes every isolate in the process, D1's included, and only a row already written can be
  // swept to "aborted" after the restart. It asks no more than that: preparing the code, creating the isolate and
  // evaluating the harness all overlap the write, and only the call to run() waits for it (startGate). A child in
  // the sandbox plane cannot freeze this process, so the plane does not wait.
  const startRecorded = recordSafely(warnings, "could not record the start of this execution", () =>
    deps.recorder?.started(execution),
  );
  const prepared = cell
    ? asSandboxProgram(await cell.prepare(request.code ?? "", request.language))
    : await languageRuntime(language).prepare(source, deps.env);
  let result: ExecutionResult;
  if (!prepared.ok) {
    result = finish({ success: false, status: "rejected", logs: [], error: rejection(prepared.issues) });
  } else {
    const { program } = prepared;
    events.setMessageMapper((message) => program.userLogText(message));
    const unregister = registerExecution(execution.executionId, events);
    const run = sandboxHostFor(deps.env, deps.ctx, program).run({
      program,
      capabilities: {
        executionId: execution.executionId,
        config: request.config,
        deadlineAt: startedAt + request.config.timeout,
      },
      contextJson: JSON.stringify(request.context),
      timeoutMs: request.config.timeout,
      captureLogs: request.config.allowedAPIs.includes("console"),
      startGate: startRecorded,
      cancellation: observer.cancellation,
      ...(cell ? { sessionStateJson: cell.stateJson } : {}),
    });
    const outcome: SandboxOutcome = await run.finally(unregister);
    if (outcome.kind === "reply" || outcome.kind === "malformed") {
      events.acceptChildLogs(0, outcome.kind === "reply" ? outcome.reply.logs : outcome.logs);
    }
    // After a cancel, only an outcome the code reached by itself (it returned or threw first) is reported as such;
    // a timeout or a failure the cancel provoked is the cancel.
    const ranToEnd = outcome.kind === "reply" && (outcome.reply.status === "success" || outcome.reply.status === "error");
    const settled: SandboxOutcome = events.cancelled && !ranToEnd ? { kind: "cancelled" } : outcome;
    result = finish({ ...fromOutcome(settled, program, request.config.timeout), logs: events.closeLogs() });
    const cellError = cell && outcome.kind === "reply" && result.success ? cell.settle(outcome.reply) : undefined;
    if (cellError) {
      const { result: _dropped, resultTruncated: _cut, ...rest } = result;
      result = { ...rest, success: false, status: "error", error: cellError };
    }
  }
  // The outcome is written after the start, whichever host ran it: the start is a plain INSERT, and one landing
  // after the outcome's upsert would fail. On the plane, which did not wait, it has nearly always landed by now.
  await startRecorded;
  await recordSafely(warnings, "could not store this result; it will not be found under GET /executions", () =>
    deps.recorder?.finished(execution, result),
  );
  const answer = warnings.length > 0 ? { ...result, warnings } : result;
  events.result(answer);
  return answer;
}

/** A session cell is JavaScript prepared by worker/sessions/: it runs as the JavaScript harness's program. */
function asSandboxProgram(prepared: PrepareOutcome) {
  return prepared.ok ? { ok: true as const, program: javascriptProgram(prepared.program) } : prepared;
}

/** History is a side effect: its failure is logged and reported as a warning, never allowed to cost the result. */
async function recordSafely(warnings: string[], what: string, write: () => Promise<void> | undefined): Promise<void> {
  try {
    await write();
  } catch (error) {
    console.error(`history: ${what}`, error);
    warnings.push(`Execution history ${what}.`);
  }
}

function rejection(issues: ValidationIssue[]): ExecutionError {
  const [first] = issues;
  const code = first?.code ?? "POLICY_VIOLATION";
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more: see POST /validate)` : "";
  return {
    code,
    name: code === "SYNTAX_ERROR" ? "SyntaxError" : "PolicyViolation",
    message: `${first?.message ?? "code was rejected"}${more}`,
    ...(first?.file !== undefined ? { file: first.file } : {}),
    ...(first?.line !== undefined ? { line: first.line } : {}),
    ...(first?.column !== undefined ? { column: first.column } : {}),
  };
}

type OutcomeFields = Omit<ExecutionResult, "executionId" | "language" | "durationMs">;

const CANCELLED: ExecutionError = { code: "CANCELLED", name: "CancelledError", message: "The execution was cancelled" };

// The logs of every outcome are the front's (ExecutionEvents.closeLogs()): the entries the log channel delivered
// during the run, merged with the reply's. The fields below leave them empty.

function fromOutcome(outcome: SandboxOutcome, program: SandboxProgram, timeoutMs: number): OutcomeFields {
  switch (outcome.kind) {
    case "reply":
      return fromReply(outcome.reply, program);
    case "malformed":
      return {
        success: false,
        status: "error",
        logs: [],
        error: { code: "SANDBOX_ERROR", name: "SandboxError", message: outcome.problem },
      };
    case "unresponsive":
      return {
        success: false,
        status: "timeout",
        logs: [],
        error: {
          code: "TIMEOUT",
          name: "TimeoutError",
          message: `The sandbox did not answer within the timeout of ${timeoutMs} ms; logs are those it sent before`,
        },
      };
    case "cancelled":
      return { success: false, status: "cancelled", logs: [], error: CANCELLED };
    case "out-of-memory":
      return { success: false, status: "error", logs: [], error: { code: "RESOURCE_LIMIT", name: "ResourceLimitError", message: outcome.message } };
    case "failed": {
      const startFailure = program.startFailure?.(outcome.message, timeoutMs);
      if (startFailure) return { success: false, logs: [], ...startFailure };
      // Production's CPU limit surfaces as a failed call rather than a reply.
      if (/exceeded (its )?CPU|resource limits/i.test(outcome.message)) {
        return {
          success: false,
          status: "timeout",
          logs: [],
          error: { code: "TIMEOUT", name: "TimeoutError", message: `Execution exceeded its CPU limit of ${timeoutMs} ms` },
        };
      }
      return {
        success: false,
        status: "error",
        logs: [],
        error: {
          code: outcome.name === "SyntaxError" ? "SYNTAX_ERROR" : "SANDBOX_ERROR",
          name: cutText(outcome.name, MAX_ERROR_NAME_CHARS),
          message: cutText(outcome.message, MAX_ERROR_MESSAGE_CHARS),
        },
      };
    }
  }
}

function fromReply(reply: ChildReply, program: SandboxProgram): OutcomeFields {
  const logs: LogEntry[] = [];
  if (reply.status === "success") {
    return {
      success: true,
      status: "success",
      logs,
      ...(reply.resultJson !== undefined ? { result: parseResult(reply.resultJson) } : {}),
      ...(reply.resultTruncated ? { resultTruncated: true as const } : {}),
    };
  }
  const error = reply.error ?? { name: "Error", message: "unknown error" };
  if (reply.status === "cancelled") return { success: false, status: "cancelled", logs, error: CANCELLED };
  if (reply.status === "timeout") {
    return { success: false, status: "timeout", logs, error: { code: "TIMEOUT", name: error.name, message: error.message } };
  }
  const position = program.userPosition(error);
  // A child that compiles the code itself (Python) reports a syntax error as a rejection, like prepare() does.
  if (error.code === "SYNTAX_ERROR" && error.name !== "CapabilityError") {
    return { success: false, status: "rejected", logs, error: { code: "SYNTAX_ERROR", name: error.name, message: error.message, ...position } };
  }
  return {
    success: false,
    status: "error",
    logs,
    error: {
      // The harness sets code only on errors ai()/api()/db() threw themselves, never on one the code built;
      // Python's runner also on a MemoryError (its heap is capped).
      code: error.code === "CAPABILITY_DENIED" || error.code === "RESOURCE_LIMIT"
        ? error.code
        : isCodeGenerationRefusal(error)
          ? "POLICY_VIOLATION"
          : "RUNTIME_ERROR",
      name: error.name,
      message: error.message,
      ...position,
    },
  };
}

/**
 * workerd refuses code generation from strings at request time (eval, Function, and the async and generator
 * function constructors reached through `.constructor`) with this EvalError. It is the run-time side of the
 * static ban in analyze.ts, so it carries the same code. A program that throws such an error itself only
 * reports itself as refused.
 */
const CODE_GENERATION_REFUSED = /^Code generation from strings disallowed/;

function isCodeGenerationRefusal(error: { name: string; message: string }): boolean {
  return error.name === "EvalError" && CODE_GENERATION_REFUSED.test(error.message);
}

function parseResult(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return { $type: "unencodable", message: "the sandbox returned a result that is not JSON" };
  }
}

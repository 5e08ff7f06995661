import type { ExecuteRequest } from "../../schemas/execute";
import type { ExecutionError, ExecutionResult, LogEntry, ValidationIssue } from "../../schemas/result";
import { cutText, MAX_ERROR_MESSAGE_CHARS, MAX_ERROR_NAME_CHARS, type ChildReply } from "./child-protocol";
import type { InstrumentedProgram } from "./instrument";
import type { ModulePositions } from "./module-graph";
import { entryLanguage, prepareProgram, programSource } from "./program";
import type { SourcePosition } from "./source-map";
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
}

export interface PipelineDeps {
  env: Env;
  ctx: ExecutionContext;
  recorder?: ExecutionRecorder;
}

export async function executeRequest(deps: PipelineDeps, request: ExecuteRequest, caller: Caller): Promise<ExecutionResult> {
  const startedAt = Date.now();
  const execution: StartedExecution = { executionId: crypto.randomUUID(), caller, request, startedAt };
  const finish = (partial: Omit<ExecutionResult, "executionId" | "language" | "durationMs">): ExecutionResult => ({
    executionId: execution.executionId,
    // A files request is in its entry's language (main.ts runs as TypeScript whatever `language` said).
    language: request.files ? entryLanguage(programSource(request)) : request.language,
    durationMs: Date.now() - startedAt,
    ...partial,
  });

  const warnings: string[] = [];
  // The "running" row must land before the child starts: a child that wedges the local runtime (a catastrophic
  // regex) freezes every isolate in the process, D1's included, and only a row already written can be swept to
  // "aborted" after the restart. It asks no more than that: preparing the code, creating the isolate and
  // evaluating the harness all overlap the write, and only the call to run() waits for it (startGate).
  const startRecorded = recordSafely(warnings, "could not record the start of this execution", () =>
    deps.recorder?.started(execution),
  );
  const prepared = await prepareProgram(programSource(request));
  let result: ExecutionResult;
  if (!prepared.ok) {
    await startRecorded;
    result = finish({ success: false, status: "rejected", logs: [], error: rejection(prepared.issues) });
  } else {
    const outcome = await sandboxHostFor(deps.env, deps.ctx).run({
      moduleCode: prepared.program.moduleCode,
      modules: prepared.modules,
      capabilities: {
        executionId: execution.executionId,
        config: request.config,
        deadlineAt: startedAt + request.config.timeout,
      },
      contextJson: JSON.stringify(request.context),
      timeoutMs: request.config.timeout,
      captureLogs: request.config.allowedAPIs.includes("console"),
      startGate: startRecorded,
    });
    const where: ProgramFiles = { positions: prepared.positions, ...(request.files ? { entryFile: programSource(request).entry } : {}) };
    result = finish(fromOutcome(outcome, prepared.program, request.config.timeout, where));
  }
  await recordSafely(warnings, "could not store this result; it will not be found under GET /executions", () =>
    deps.recorder?.finished(execution, result),
  );
  return warnings.length > 0 ? { ...result, warnings } : result;
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

/** Where a multi-file program's runtime positions point: the entry's file, and the other modules' own maps. */
interface ProgramFiles {
  entryFile?: string;
  positions?: ReadonlyMap<string, ModulePositions>;
}

function fromOutcome(outcome: SandboxOutcome, program: InstrumentedProgram, timeoutMs: number, where: ProgramFiles = {}): OutcomeFields {
  switch (outcome.kind) {
    case "reply":
      return fromReply(outcome.reply, program, where);
    case "malformed":
      return {
        success: false,
        status: "error",
        logs: userLogs(outcome.logs, program),
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
          message: `The sandbox did not answer within the timeout of ${timeoutMs} ms; its logs are lost`,
        },
      };
    case "out-of-memory":
      return { success: false, status: "error", logs: [], error: { code: "RESOURCE_LIMIT", name: "ResourceLimitError", message: outcome.message } };
    case "failed":
      if (where.positions && MODULE_LOAD_FAILED.test(outcome.message)) return fromModuleLoadFailure(outcome.message, program, timeoutMs, where);
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

/**
 * A multi-file program's other modules (and its packages) run their top level while the isolate starts, before
 * the harness can catch anything: workerd then fails the start with the uncaught error's text. The load-time
 * guard (sandbox-template/module-guard.js) throws the guard's own TimeoutError there.
 */
const MODULE_LOAD_FAILED = /^Failed to start Worker:/;
const LOAD_TIMED_OUT = /Uncaught Error: TimeoutError: Execution timed out\s+at guard\.js:/;

function fromModuleLoadFailure(message: string, program: InstrumentedProgram, timeoutMs: number, where: ProgramFiles): OutcomeFields {
  if (LOAD_TIMED_OUT.test(message)) {
    return {
      success: false,
      status: "timeout",
      logs: [],
      error: { code: "TIMEOUT", name: "TimeoutError", message: `Execution exceeded the timeout of ${timeoutMs} ms while loading the program's modules` },
    };
  }
  const thrown = message.replace(MODULE_LOAD_FAILED, "").trim().replace(/^Uncaught /, "");
  return {
    success: false,
    status: "error",
    logs: [],
    error: {
      code: "RUNTIME_ERROR",
      name: "Error",
      message: cutText(thrown.split("\n")[0] ?? thrown, MAX_ERROR_MESSAGE_CHARS),
      ...userPosition(message, program, where),
    },
  };
}

function fromReply(reply: ChildReply, program: InstrumentedProgram, where: ProgramFiles): OutcomeFields {
  const logs = userLogs(reply.logs, program);
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
  if (reply.status === "timeout") {
    return { success: false, status: "timeout", logs, error: { code: "TIMEOUT", name: error.name, message: error.message } };
  }
  const position = error.stack ? userPosition(error.stack, program, where) : undefined;
  return {
    success: false,
    status: "error",
    logs,
    error: {
      // The harness sets code only on errors ai()/api()/db() threw themselves, never on one the code built.
      code: error.code === "CAPABILITY_DENIED"
        ? "CAPABILITY_DENIED"
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

const SANDBOX_FRAME = /^\s*at .*\b(?:harness|primordials|encode|capabilities|guard|function-source)\.js:\d+:\d+\)?$/;
const USER_FRAME = /\buser\.js:(\d+):(\d+)/g;

function userLogs(logs: readonly LogEntry[], program: InstrumentedProgram): LogEntry[] {
  const positions = new Map<string, string>();
  return logs.map((entry) => ({ ...entry, message: userStackText(entry.message, program, positions) }));
}

/**
 * Logged errors carry stacks from inside the sandbox: frames of the harness say nothing to the caller, and frames
 * in user.js point at instrumented code. Harness frames are dropped and user frames become `code:line:column` in
 * the caller's own source. Log text is the user's: what only looks like a frame (`user.js:0:0`, a line past the
 * module) is left as it is.
 */
function userStackText(message: string, program: InstrumentedProgram, positions: Map<string, string>): string {
  if (!message.includes(".js:")) return message;
  return message
    .split("\n")
    .filter((line) => !SANDBOX_FRAME.test(line))
    .map((line) =>
      line.replace(USER_FRAME, (match: string, line: string, column: string) => {
        const key = `${line}:${column}`;
        let mapped = positions.get(key);
        if (mapped === undefined) {
          const generated = framePosition(line, column);
          const position = generated ? program.toSourcePosition(generated) : undefined;
          mapped = position ? `code:${position.line}:${position.column}` : generated ? "code" : match;
          positions.set(key, mapped);
        }
        return mapped;
      }),
    )
    .join("\n");
}

/** A position as V8 writes it in a frame (1-based line and column), or undefined for text that cannot be one. */
function framePosition(line: string, column: string): SourcePosition | undefined {
  const position = { line: Number(line), column: Number(column) };
  const plausible = (n: number) => Number.isSafeInteger(n) && n >= 1;
  return plausible(position.line) && plausible(position.column) ? position : undefined;
}

/** A frame in user.js or in one of a multi-file program's modules (module-resolution.ts names them src/<path>). */
const POSITION_FRAME = /\b(user\.js|src\/[A-Za-z0-9_./-]+):(\d+):(\d+)/;

/** The first stack frame in the user's code, mapped back through instrumentation (and TypeScript), with its file. */
function userPosition(stack: string, program: InstrumentedProgram, where: ProgramFiles): { file?: string; line: number; column: number } | undefined {
  const match = POSITION_FRAME.exec(stack);
  const generated = match ? framePosition(match[2] ?? "", match[3] ?? "") : undefined;
  if (!match || !generated) return undefined;
  if (match[1] === "user.js") {
    const position = program.toSourcePosition(generated);
    return position && where.entryFile !== undefined ? { file: where.entryFile, ...position } : position;
  }
  const module = where.positions?.get(match[1] ?? "");
  const position = module?.toSourcePosition(generated);
  return module && position ? { file: module.file, ...position } : undefined;
}

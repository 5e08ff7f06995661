import { WorkerEntrypoint } from "cloudflare:workers";
import { ExecuteRequestSchema, type ExecuteRequestInput } from "../schemas/execute";
import type { ExecutionResult } from "../schemas/result";
import { executeRequest } from "./execution/pipeline";
import { parseInput } from "./parse";
import { createRecorder } from "./history/recorder";
import { ServiceError } from "./errors";

function asRpcError<T>(fn: () => T): T {
  try {
    return fn();
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
  async executeCode(
    code: string,
    language?: ExecuteRequestInput["language"],
    context?: ExecuteRequestInput["context"],
    config?: ExecuteRequestInput["config"],
  ): Promise<ExecutionResult> {
    const input = asRpcError(() => parseInput(ExecuteRequestSchema, { code, language, context, config }));
    const deps = { env: this.env, ctx: this.ctx, recorder: createRecorder(this.env, this.ctx) };
    return executeRequest(deps, input, { kind: "rpc", identity: "service-binding" });
  }
}

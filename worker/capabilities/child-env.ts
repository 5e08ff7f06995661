import type { ExecuteConfig } from "../../schemas/execute";

export interface ChildEnvInput {
  executionId: string;
  config: ExecuteConfig;
  /** Epoch ms after which capability calls must give up. */
  deadlineAt: number;
}

/**
 * The only place the sandbox's env is built: capability stubs from ctx.exports with the execution's policy in
 * props, and nothing else. Caller data never becomes a binding; an API not allowed gets no stub at all.
 */
export function buildChildEnv(_ctx: ExecutionContext, _input: ChildEnvInput): Record<string, unknown> {
  return {};
}

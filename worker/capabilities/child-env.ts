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
 * Keep the keys in sync with sandbox-template/capabilities.js.
 */
export function buildChildEnv(ctx: ExecutionContext, input: ChildEnvInput): Record<string, unknown> {
  const allowed = new Set(input.config.allowedAPIs);
  const base = { executionId: input.executionId, deadlineAt: input.deadlineAt };
  const env: Record<string, unknown> = {};
  if (allowed.has("ai")) env.AI = ctx.exports.AiCapability({ props: base });
  if (allowed.has("api")) env.API = ctx.exports.ApiCapability({ props: { ...base, allowedDomains: [...input.config.allowedDomains] } });
  if (allowed.has("db")) env.DB = ctx.exports.DbCapability({ props: base });
  // The log channel (sandbox-template/log-channel.js): only when console output is captured at all.
  if (allowed.has("console")) env.LOGS = ctx.exports.LogsCapability({ props: { executionId: input.executionId } });
  return env;
}

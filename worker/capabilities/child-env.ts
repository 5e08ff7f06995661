import type { ExecuteConfig } from "../../schemas/execute";
import type { ApiProps } from "./api";
import type { CapabilityProps } from "./capability-call";

export interface ChildEnvInput {
  executionId: string;
  config: ExecuteConfig;
  /** Epoch ms after which capability calls must give up. */
  deadlineAt: number;
}

/** The env keys the sandbox sees, one per capability. Keep in sync with sandbox-template/capabilities.js. */
export type ChildBindingName = "AI" | "API" | "DB";

/** The policy each allowed capability gets as its props; an API not allowed has no entry. */
export interface ChildCapabilityProps {
  AI?: CapabilityProps;
  API?: ApiProps;
  DB?: CapabilityProps;
}

/** The execution's policy per capability: the one description both sandbox hosts turn into the child's env. */
export function childCapabilityProps(input: ChildEnvInput): ChildCapabilityProps {
  const allowed = new Set(input.config.allowedAPIs);
  const base = { executionId: input.executionId, deadlineAt: input.deadlineAt };
  const props: ChildCapabilityProps = {};
  if (allowed.has("ai")) props.AI = base;
  if (allowed.has("api")) props.API = { ...base, allowedDomains: [...input.config.allowedDomains] };
  if (allowed.has("db")) props.DB = base;
  return props;
}

/**
 * The capability entrypoint behind each binding, for this process: in-process the stub goes straight into the
 * child's env; remotely (worker/http/sandbox-capability.ts) the front calls it on the forwarder's behalf.
 */
export function capabilityStub(ctx: ExecutionContext, name: ChildBindingName, props: ChildCapabilityProps): unknown {
  if (name === "AI" && props.AI) return ctx.exports.AiCapability({ props: props.AI });
  if (name === "API" && props.API) return ctx.exports.ApiCapability({ props: props.API });
  if (name === "DB" && props.DB) return ctx.exports.DbCapability({ props: props.DB });
  return undefined;
}

/**
 * The only place the in-process sandbox's env is built: capability stubs from ctx.exports with the execution's
 * policy in props, and nothing else. Caller data never becomes a binding; an API not allowed gets no stub at all.
 */
export function buildChildEnv(ctx: ExecutionContext, input: ChildEnvInput): Record<string, unknown> {
  const props = childCapabilityProps(input);
  const env: Record<string, unknown> = {};
  for (const name of Object.keys(props) as ChildBindingName[]) env[name] = capabilityStub(ctx, name, props);
  return env;
}

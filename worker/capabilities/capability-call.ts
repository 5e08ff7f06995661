import type { AUDITED_CAPABILITIES } from "../../schemas/audit";
import { liveExecution } from "../execution/execution-events";
import { recordCapabilityCall } from "../history/capability-calls";
import { takeCall } from "./call-budget";
import { CapabilityFailure, DENIAL_CODES, type CapabilityErrorCode, type Reply } from "./reply";

/** Policy every capability gets from the parent in props; never from the sandbox. */
export interface CapabilityProps {
  executionId: string;
  /** Epoch ms: the execution's deadline. No call outlives it. */
  deadlineAt: number;
}

/** What the audit trail learns about a call; the capability fills it in as it goes. Never secrets or bodies. */
export interface CallNote {
  target: string;
  requestBytes: number;
  responseBytes: number;
}

export interface CallSpec<TProps extends CapabilityProps> {
  ctx: ExecutionContext<TProps>;
  env: Env;
  kind: (typeof AUDITED_CAPABILITIES)[number];
  maxCalls: number;
}

/**
 * Runs one capability call: checks the deadline and the call budget, turns failures into error data, and records
 * the call in the audit trail after answering (waitUntil), so neither a slow nor a failing history database
 * affects the caller.
 */
export async function handleCall<TProps extends CapabilityProps, T>(
  spec: CallSpec<TProps>,
  body: (props: TProps, note: CallNote) => Promise<T>,
): Promise<Reply<T>> {
  const startedAt = Date.now();
  const props = spec.ctx.props;
  // Only buildChildEnv creates these stubs, always with props; a stub made any other way gets nothing.
  if (typeof props?.executionId !== "string" || typeof props.deadlineAt !== "number") {
    return { ok: false, error: { code: "INTERNAL_ERROR", message: `${spec.kind}(): this capability has no policy` } };
  }
  const note: CallNote = { target: "", requestBytes: 0, responseBytes: 0 };
  let reply: Reply<T>;
  try {
    if (startedAt >= props.deadlineAt) throw new CapabilityFailure("TIMEOUT", "the execution's time is up");
    if (liveExecution(props.executionId)?.cancelled) throw new CapabilityFailure("CANCELLED", "the execution was cancelled");
    if (!takeCall(props.executionId, spec.kind, spec.maxCalls, props.deadlineAt)) {
      throw new CapabilityFailure(
        "CALL_LIMIT_EXCEEDED",
        `the limit is ${spec.maxCalls} calls per execution`,
      );
    }
    reply = { ok: true, value: await body(props, note) };
  } catch (error) {
    reply = { ok: false, error: describeFailure(spec.kind, error) };
  }
  spec.ctx.waitUntil(
    recordCapabilityCall(spec.env.EXECUTIONS_DB, {
      executionId: props.executionId,
      startedAt,
      kind: spec.kind,
      target: note.target,
      outcome: reply.ok ? "ok" : DENIAL_CODES.has(reply.error.code) ? "denied" : "error",
      ...(reply.ok ? {} : { errorCode: reply.error.code }),
      durationMs: Date.now() - startedAt,
      requestBytes: note.requestBytes,
      responseBytes: note.responseBytes,
    }),
  );
  return reply;
}

function describeFailure(kind: string, error: unknown): { code: CapabilityErrorCode; message: string } {
  if (error instanceof CapabilityFailure) return { code: error.code, message: `${kind}(): ${error.message}` };
  // Host errors can carry internal detail (bindings, hostnames, stack); the sandbox gets none of it.
  console.error(`capability ${kind}() failed unexpectedly`, error);
  return { code: "INTERNAL_ERROR", message: `${kind}(): internal error` };
}

/**
 * How long a call already under way may outlast the execution's deadline. The sandbox's own timer starts a few
 * ms after the parent fixed the deadline; without this grace a call cut off at the deadline would fail the run
 * with the capability's TIMEOUT error a moment before the run's timeout could report it as a timeout (with its
 * logs). It stays well inside PARENT_GRACE_MS, after which the parent stops waiting for the sandbox.
 */
const DEADLINE_GRACE_MS = 150;

/** Milliseconds a call may still take: to the deadline (plus the grace), capped; fails when none are left. */
export function remainingMs(deadlineAt: number, capMs: number): number {
  const left = deadlineAt + DEADLINE_GRACE_MS - Date.now();
  if (left <= 0) throw new CapabilityFailure("TIMEOUT", "the execution's time is up");
  return Math.min(left, capMs);
}

/** Settles with `promise`, or fails with TIMEOUT after `ms`. For calls that take no AbortSignal (D1, env.AI). */
export async function withinMs<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CapabilityFailure("TIMEOUT", `${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

import { CANCEL_GRACE_MS, GUARD_STEPS_PER_MS, MAX_LOG_FLUSHES, PARENT_GRACE_MS, SUBREQUEST_LIMIT } from "../../schemas/limits";
import { parseChildReply, type HarnessEntrypoint, type ReceivedReply } from "./child-protocol";
import type { Cancellation } from "./execution-events";
import { SANDBOX_MAIN_MODULE, SANDBOX_MODULES, USER_MODULE_NAME } from "./sandbox-modules";

/** How often a cancellable run looks at its signal (see `cancelled` below): part of the cancel's latency. */
const CANCEL_POLL_MS = 5;

/** Must not be later than the front Worker's own compatibility date (wrangler.jsonc). */
const SANDBOX_COMPATIBILITY_DATE = "2026-08-01";

export interface SandboxRun {
  moduleCode: string;
  childEnv: Record<string, unknown>;
  contextJson: string;
  timeoutMs: number;
  captureLogs: boolean;
  /** Cancels the run when set: the child is told, and the wait ends CANCEL_GRACE_MS later whatever it does. */
  cancellation?: Cancellation;
}

export type SandboxOutcome =
  | ReceivedReply
  | { kind: "unresponsive" }
  /** Cancelled, and the child did not answer within CANCEL_GRACE_MS. */
  | { kind: "cancelled" }
  | { kind: "failed"; name: string; message: string };

/**
 * One fresh isolate per execution: LOADER.load() never caches, so no global, prototype or module state survives
 * between runs. The isolate gets no outbound network (globalOutbound: null) and no Node built-ins (no
 * nodejs_compat flag). limits are enforced in production only; locally the instrumentation guard and the race
 * below do the work.
 */
export async function runInSandbox(loader: WorkerLoader, run: SandboxRun): Promise<SandboxOutcome> {
  const worker = loader.load({
    compatibilityDate: SANDBOX_COMPATIBILITY_DATE,
    compatibilityFlags: [],
    mainModule: SANDBOX_MAIN_MODULE,
    modules: { ...SANDBOX_MODULES, [USER_MODULE_NAME]: run.moduleCode },
    env: run.childEnv,
    globalOutbound: null,
    // The CPU ceiling sits past the timeout so the guard can stop the code first and keep its logs.
    // The log channel's batches may count as subrequests in production (not checkable locally): they get their
    // own share, so the user's code keeps SUBREQUEST_LIMIT.
    limits: { cpuMs: run.timeoutMs + PARENT_GRACE_MS, subRequests: SUBREQUEST_LIMIT + MAX_LOG_FLUSHES },
  });
  const harness = worker.getEntrypoint() as unknown as HarnessEntrypoint;

  let timer: number | undefined;
  const backstop = new Promise<{ kind: "unresponsive" }>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "unresponsive" }), run.timeoutMs + PARENT_GRACE_MS);
  });
  let cancelTimer: number | undefined;
  let cancelPoll: number | undefined;
  // Polled: the cancel may be set from another request, where this request's stub and timers cannot be touched.
  const cancelled = new Promise<{ kind: "cancelled" }>((resolve) => {
    const cancellation = run.cancellation;
    if (!cancellation) return;
    const check = () => {
      if (!cancellation.requested) return;
      if (cancelPoll !== undefined) clearInterval(cancelPoll);
      // Reaches the child when its code next yields; a loop that never yields is given up on by the grace timer
      // here (and stopped, in the child, by its guard at the timeout). Capability calls in flight are abandoned.
      harness.cancel().catch(() => {});
      cancelTimer = setTimeout(() => resolve({ kind: "cancelled" }), CANCEL_GRACE_MS);
    };
    cancelPoll = setInterval(check, CANCEL_POLL_MS);
    check();
  });
  const call = harness
    .run({ contextJson: run.contextJson, timeoutMs: run.timeoutMs, stepsPerMs: GUARD_STEPS_PER_MS, captureLogs: run.captureLogs })
    .then(
      (raw): SandboxOutcome => parseChildReply(raw),
      (error: unknown): SandboxOutcome => ({
        kind: "failed",
        name: error instanceof Error ? error.name : "Error",
        message: error instanceof Error ? error.message : String(error),
      }),
    );
  try {
    return await Promise.race([call, backstop, cancelled]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (cancelTimer !== undefined) clearTimeout(cancelTimer);
    if (cancelPoll !== undefined) clearInterval(cancelPoll);
  }
}

import { CANCEL_GRACE_MS, MAX_LOG_FLUSHES, PARENT_GRACE_MS, SUBREQUEST_LIMIT } from "../../schemas/limits";
import type { SandboxProgram } from "../languages";
import { buildChildEnv, type ChildEnvInput } from "../capabilities/child-env";
import { parseChildReply, type ChildRunInput, type HarnessEntrypoint, type ReceivedReply } from "./child-protocol";
import type { Cancellation } from "./execution-events";
import { RemoteSandboxHost } from "./remote-sandbox";

// Where a child isolate runs is one decision, made here: in this process through env.LOADER (production, and the
// vitest suite), or in a separate sandbox-host process (local dev and self-hosting, where workerd has no CPU or
// memory limits and one runaway would otherwise freeze or kill the whole service). The pipeline sees only
// SandboxHost.

/** Must not be later than the front Worker's own compatibility date (wrangler.jsonc). */
export const SANDBOX_COMPATIBILITY_DATE = "2026-08-01";

export interface SandboxRun {
  /** The language's child: its modules, main module, guard rate and startup allowance. */
  program: SandboxProgram;
  /** The execution's policy; each host turns it into capability bindings its own way. */
  capabilities: ChildEnvInput;
  contextJson: string;
  timeoutMs: number;
  captureLogs: boolean;
  /**
   * In process, user code must not start before this resolves: the pipeline passes the write of the "running" row,
   * and the isolate is created and its modules evaluated meanwhile (user.js only defines a function at evaluation).
   * The plane does not wait for it: the gate exists because a child that wedges this process freezes D1 with it,
   * and a child on a sandbox host cannot.
   */
  startGate?: Promise<void>;
  /** Session cells only (worker/sessions/): travels as data in the run input, never as a binding. */
  sessionStateJson?: string;
  /**
   * Cancels the run when set. In process: the child is told, and the wait ends CANCEL_GRACE_MS later whatever it
   * does. Remote: the request to the plane is aborted, and the plane kills the host that runs it.
   */
  cancellation?: Cancellation;
}

export type SandboxOutcome =
  | ReceivedReply
  | { kind: "unresponsive" }
  | { kind: "failed"; name: string; message: string }
  /** The process the child ran in died under it: out of memory, as far as anyone can tell. */
  | { kind: "out-of-memory"; message: string }
  /** Cancelled, and the child did not answer within CANCEL_GRACE_MS. */
  | { kind: "cancelled" };

export interface SandboxHost {
  run(run: SandboxRun): Promise<SandboxOutcome>;
}

/**
 * SANDBOX_PLANE_URL set (scripts/dev.mjs, self-hosting) = remote; empty = in-process, as deployed. Every language
 * describes its child for the plane (SandboxProgram.plane); one that did not would run in process.
 */
export function sandboxHostFor(env: Env, ctx: ExecutionContext, program: SandboxProgram): SandboxHost {
  const planeUrl: string = env.SANDBOX_PLANE_URL;
  if (planeUrl && program.plane) return new RemoteSandboxHost(planeUrl, program.plane, env.SANDBOX_PLANE);
  return new InProcessSandboxHost(env.LOADER, (input) => buildChildEnv(ctx, input));
}

export function childRunInput(run: SandboxRun): ChildRunInput {
  return {
    contextJson: run.contextJson,
    timeoutMs: run.timeoutMs,
    stepsPerMs: run.program.stepsPerMs,
    captureLogs: run.captureLogs,
    ...(run.sessionStateJson !== undefined ? { sessionStateJson: run.sessionStateJson } : {}),
  };
}

/** How long past the timeout the parent waits: its grace, plus the time the language's child takes to start. */
export function graceMs(run: SandboxRun): number {
  return PARENT_GRACE_MS + run.program.startupAllowanceMs;
}

export function childLimits(run: SandboxRun): { cpuMs: number; subRequests: number } {
  // The CPU ceiling sits past the timeout so the guard can stop the code first and keep its logs.
  // The log channel's batches may count as subrequests in production (not checkable locally): they get their
  // own share, so the user's code keeps SUBREQUEST_LIMIT.
  return { cpuMs: run.timeoutMs + graceMs(run), subRequests: SUBREQUEST_LIMIT + MAX_LOG_FLUSHES };
}

export function outcomeOfError(error: unknown): SandboxOutcome {
  return {
    kind: "failed",
    name: error instanceof Error ? error.name : "Error",
    message: error instanceof Error ? error.message : String(error),
  };
}

/**
 * One fresh isolate per execution: LOADER.load() never caches, so no global, prototype or module state survives
 * between runs. The isolate gets no outbound network (globalOutbound: null) and no Node built-ins (no
 * nodejs_compat flag). limits are enforced in production only; locally the instrumentation guard and the race
 * below do the work.
 */
export class InProcessSandboxHost implements SandboxHost {
  constructor(
    private readonly loader: WorkerLoader,
    private readonly childEnv: (input: ChildEnvInput) => Record<string, unknown>,
  ) {}

  async run(run: SandboxRun): Promise<SandboxOutcome> {
    let modules: Awaited<ReturnType<SandboxProgram["modules"]>>;
    try {
      modules = await run.program.modules({ timeoutMs: run.timeoutMs });
    } catch (error) {
      // A language whose files are missing (python-assets/ not built) fails its executions, not the service.
      console.error("sandbox: the child's modules could not be read", error);
      return { kind: "failed", name: "SandboxError", message: "this language's runtime files could not be loaded" };
    }
    const worker = this.loader.load({
      compatibilityDate: SANDBOX_COMPATIBILITY_DATE,
      compatibilityFlags: [],
      mainModule: run.program.mainModule,
      modules,
      env: this.childEnv(run.capabilities),
      globalOutbound: null,
      limits: childLimits(run),
    });
    const harness = worker.getEntrypoint() as unknown as HarnessEntrypoint;
    // load() starts creating the isolate at once (measured: it overlaps the gate); only run() waits for it.
    if (run.startGate) await run.startGate;

    let timer: number | undefined;
    const backstop = new Promise<{ kind: "unresponsive" }>((resolve) => {
      timer = setTimeout(() => resolve({ kind: "unresponsive" }), run.timeoutMs + graceMs(run));
    });
    const call = harness.run(childRunInput(run)).then(parseChildReply, outcomeOfError);
    const cancel = cancelWatch(run.cancellation, () => harness.cancel());
    try {
      const outcome = await Promise.race([call, backstop, cancel.cancelled]);
      if (run.cancellation && endedByTimeout(outcome)) await cancelReadAfterBusyThread();
      return outcome;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      cancel.stop();
    }
  }
}

/** How long a timed-out cancellable run waits for a cancel its busy thread could not read yet (below). */
const PENDING_CANCEL_WAIT_MS = 10;

/**
 * Locally the child runs on the front's thread, so a loop that never yields keeps the front from reading anything,
 * a cancel included, until the guard ends the loop at its timeout; the reply is then handled before the socket
 * message or RPC call that carried the cancel. Handing the event loop a turn lets such a cancel land, and the
 * pipeline reports the run as cancelled (it ended at its timeout either way). Costs timed-out streamed runs only.
 */
function cancelReadAfterBusyThread(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, PENDING_CANCEL_WAIT_MS));
}

function endedByTimeout(outcome: SandboxOutcome): boolean {
  return outcome.kind === "unresponsive" || (outcome.kind === "reply" && outcome.reply.status === "timeout");
}

/** How often a cancellable run looks at its cancellation (see cancelWatch): part of the cancel's latency. */
const CANCEL_POLL_MS = 5;

/**
 * Resolves CANCEL_GRACE_MS after the cancellation is set, having told the child at once. Polled, not listened to:
 * the cancel may be set from another request, where this request's stub and timers cannot be touched.
 */
export function cancelWatch(cancellation: Cancellation | undefined, tellChild: () => Promise<unknown>) {
  let poll: number | undefined;
  let grace: number | undefined;
  const cancelled = new Promise<{ kind: "cancelled" }>((resolve) => {
    if (!cancellation) return;
    const check = () => {
      if (!cancellation.requested) return;
      if (poll !== undefined) clearInterval(poll);
      // Reaches the child when its code next yields; a loop that never yields is given up on by the grace timer
      // here (and stopped, in the child, by its guard at the timeout). Capability calls in flight are abandoned.
      tellChild().catch(() => {});
      grace = setTimeout(() => resolve({ kind: "cancelled" }), CANCEL_GRACE_MS);
    };
    poll = setInterval(check, CANCEL_POLL_MS);
    check();
  });
  return {
    cancelled,
    stop() {
      if (poll !== undefined) clearInterval(poll);
      if (grace !== undefined) clearTimeout(grace);
    },
  };
}

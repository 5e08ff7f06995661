import { GUARD_STEPS_PER_MS, PARENT_GRACE_MS, SUBREQUEST_LIMIT } from "../../schemas/limits";
import { buildChildEnv, type ChildEnvInput } from "../capabilities/child-env";
import { parseChildReply, type ChildRunInput, type HarnessEntrypoint, type ReceivedReply } from "./child-protocol";
import { RemoteSandboxHost } from "./remote-sandbox";
import { RUN_LIMITS_MODULE, SANDBOX_MAIN_MODULE, SANDBOX_MODULES, USER_MODULE_NAME } from "./sandbox-modules";

// Where a child isolate runs is one decision, made here: in this process through env.LOADER (production, and the
// vitest suite), or in a separate sandbox-host process (local dev and self-hosting, where workerd has no CPU or
// memory limits and one runaway would otherwise freeze or kill the whole service). The pipeline sees only
// SandboxHost.

/** Must not be later than the front Worker's own compatibility date (wrangler.jsonc). */
export const SANDBOX_COMPATIBILITY_DATE = "2026-08-01";

export interface SandboxRun {
  moduleCode: string;
  /** The program's other modules (its files, its packages), as data, so any host can load them. */
  modules?: Record<string, WorkerLoaderModule>;
  /** The execution's policy; each host turns it into capability bindings its own way. */
  capabilities: ChildEnvInput;
  contextJson: string;
  timeoutMs: number;
  captureLogs: boolean;
  /**
   * User code must not start before this resolves: the pipeline passes the write of the "running" row. In process,
   * the isolate is created and its modules evaluated meanwhile (user.js only defines a function at evaluation).
   */
  startGate?: Promise<void>;
}

export type SandboxOutcome =
  | ReceivedReply
  | { kind: "unresponsive" }
  | { kind: "failed"; name: string; message: string }
  /** The process the child ran in died under it: out of memory, as far as anyone can tell. */
  | { kind: "out-of-memory"; message: string };

export interface SandboxHost {
  run(run: SandboxRun): Promise<SandboxOutcome>;
}

/** SANDBOX_PLANE_URL set (scripts/dev.mjs, self-hosting) = remote; empty = in-process, as deployed. */
export function sandboxHostFor(env: Env, ctx: ExecutionContext): SandboxHost {
  const planeUrl: string = env.SANDBOX_PLANE_URL;
  if (planeUrl) return new RemoteSandboxHost(planeUrl);
  return new InProcessSandboxHost(env.LOADER, (input) => buildChildEnv(ctx, input));
}

export function childRunInput(run: SandboxRun): ChildRunInput {
  return { contextJson: run.contextJson, timeoutMs: run.timeoutMs, stepsPerMs: GUARD_STEPS_PER_MS, captureLogs: run.captureLogs };
}

/**
 * The modules of this run besides the static set and user.js: the program's own (named src/ and packages/, so
 * they cannot collide with the static set), and the limits module-guard.js reads, which replaces the static default.
 */
export function runModules(run: SandboxRun): Record<string, WorkerLoaderModule> {
  return {
    ...(run.modules ?? {}),
    [RUN_LIMITS_MODULE]: { js: `export const timeoutMs = ${run.timeoutMs}; export const stepsPerMs = ${GUARD_STEPS_PER_MS};\n` },
  };
}

export function childLimits(run: SandboxRun): { cpuMs: number; subRequests: number } {
  // The CPU ceiling sits past the timeout so the guard can stop the code first and keep its logs.
  return { cpuMs: run.timeoutMs + PARENT_GRACE_MS, subRequests: SUBREQUEST_LIMIT };
}

/** What the harness's run() resolved with, wherever it ran: untrusted, parsed, validated and capped only there. */
export const outcomeOfReply: (raw: unknown) => SandboxOutcome = parseChildReply;

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
    const worker = this.loader.load({
      compatibilityDate: SANDBOX_COMPATIBILITY_DATE,
      compatibilityFlags: [],
      mainModule: SANDBOX_MAIN_MODULE,
      modules: { ...SANDBOX_MODULES, ...runModules(run), [USER_MODULE_NAME]: run.moduleCode },
      env: this.childEnv(run.capabilities),
      globalOutbound: null,
      limits: childLimits(run),
    });
    const harness = worker.getEntrypoint() as unknown as HarnessEntrypoint;
    // load() starts creating the isolate at once (measured: it overlaps the gate); only run() waits for it.
    if (run.startGate) await run.startGate;

    let timer: number | undefined;
    const backstop = new Promise<{ kind: "unresponsive" }>((resolve) => {
      timer = setTimeout(() => resolve({ kind: "unresponsive" }), run.timeoutMs + PARENT_GRACE_MS);
    });
    const call = harness.run(childRunInput(run)).then(outcomeOfReply, outcomeOfError);
    try {
      return await Promise.race([call, backstop]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

import { GUARD_STEPS_PER_MS, PARENT_GRACE_MS, SUBREQUEST_LIMIT } from "../../schemas/limits";
import { parseChildReply, type HarnessEntrypoint, type ReceivedReply } from "./child-protocol";
import { RUN_LIMITS_MODULE, SANDBOX_MAIN_MODULE, SANDBOX_MODULES, USER_MODULE_NAME } from "./sandbox-modules";

/** Must not be later than the front Worker's own compatibility date (wrangler.jsonc). */
const SANDBOX_COMPATIBILITY_DATE = "2026-08-01";

export interface SandboxRun {
  moduleCode: string;
  /** The program's other modules (its files, its packages), as data, so any host can load them. */
  modules?: Record<string, WorkerLoaderModule>;
  childEnv: Record<string, unknown>;
  contextJson: string;
  timeoutMs: number;
  captureLogs: boolean;
}

export type SandboxOutcome =
  | ReceivedReply
  | { kind: "unresponsive" }
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
    modules: {
      ...(run.modules ?? {}),
      ...SANDBOX_MODULES,
      [RUN_LIMITS_MODULE]: { json: { timeoutMs: run.timeoutMs, stepsPerMs: GUARD_STEPS_PER_MS } },
      [USER_MODULE_NAME]: run.moduleCode,
    },
    env: run.childEnv,
    globalOutbound: null,
    // The CPU ceiling sits past the timeout so the guard can stop the code first and keep its logs.
    limits: { cpuMs: run.timeoutMs + PARENT_GRACE_MS, subRequests: SUBREQUEST_LIMIT },
  });
  const harness = worker.getEntrypoint() as unknown as HarnessEntrypoint;

  let timer: number | undefined;
  const backstop = new Promise<{ kind: "unresponsive" }>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "unresponsive" }), run.timeoutMs + PARENT_GRACE_MS);
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
    return await Promise.race([call, backstop]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

import * as v from "valibot";
import { PARENT_GRACE_MS, SUBREQUEST_LIMIT } from "../../schemas/limits";
import type { SandboxProgram } from "../languages";
import { ChildReplySchema, type ChildReply, type HarnessEntrypoint } from "./child-protocol";

/** Must not be later than the front Worker's own compatibility date (wrangler.jsonc). */
const SANDBOX_COMPATIBILITY_DATE = "2026-08-01";

export interface SandboxRun {
  /** The language's child: its modules, main module, guard rate and startup allowance. */
  program: SandboxProgram;
  childEnv: Record<string, unknown>;
  contextJson: string;
  timeoutMs: number;
  captureLogs: boolean;
}

export type SandboxOutcome =
  | { kind: "reply"; reply: ChildReply }
  | { kind: "unresponsive" }
  | { kind: "failed"; name: string; message: string };

/**
 * One fresh isolate per execution: LOADER.load() never caches, so no global, prototype or module state survives
 * between runs. The isolate gets no outbound network (globalOutbound: null) and no Node built-ins (no
 * nodejs_compat flag). limits are enforced in production only; locally the instrumentation guard and the race
 * below do the work.
 */
export async function runInSandbox(loader: WorkerLoader, run: SandboxRun): Promise<SandboxOutcome> {
  const graceMs = PARENT_GRACE_MS + run.program.startupAllowanceMs;
  let modules: Awaited<ReturnType<SandboxProgram["modules"]>>;
  try {
    modules = await run.program.modules();
  } catch (error) {
    // A language whose files are missing (python-assets/ not built) fails its executions, not the service.
    console.error("sandbox: the child's modules could not be read", error);
    return { kind: "failed", name: "SandboxError", message: "this language's runtime files could not be loaded" };
  }
  const worker = loader.load({
    compatibilityDate: SANDBOX_COMPATIBILITY_DATE,
    compatibilityFlags: [],
    mainModule: run.program.mainModule,
    modules,
    env: run.childEnv,
    globalOutbound: null,
    // The CPU ceiling sits past the timeout so the guard can stop the code first and keep its logs.
    limits: { cpuMs: run.timeoutMs + graceMs, subRequests: SUBREQUEST_LIMIT },
  });
  const harness = worker.getEntrypoint() as unknown as HarnessEntrypoint;

  let timer: number | undefined;
  const backstop = new Promise<{ kind: "unresponsive" }>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "unresponsive" }), run.timeoutMs + graceMs);
  });
  const call = harness
    .run({ contextJson: run.contextJson, timeoutMs: run.timeoutMs, stepsPerMs: run.program.stepsPerMs, captureLogs: run.captureLogs })
    .then(
      (raw): SandboxOutcome => {
        // The Python child answers one JSON string (the JavaScript one moves to the same form).
        const parsed = v.safeParse(ChildReplySchema, typeof raw === "string" ? parseJsonOrNull(raw) : raw);
        if (parsed.success) return { kind: "reply", reply: parsed.output };
        return { kind: "failed", name: "SandboxError", message: "the sandbox answered with a malformed reply" };
      },
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

function parseJsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

import type { ExecutionError, ValidationIssue } from "../../schemas/result";
import type { ChildReply } from "../execution/child-protocol";
import type { PlaneProgram } from "../execution/plane-modules";
import type { ProgramSource } from "../execution/program";

/** What the modules of one run may depend on beyond the program itself. */
export interface ProgramRun {
  timeoutMs: number;
}

/**
 * What a language hands the pipeline: everything the sandbox needs to start its child and everything the
 * pipeline needs to read the child's reply back in the caller's terms. The pipeline and the sandbox never ask
 * which language this is.
 */
export interface SandboxProgram {
  /** The child's main module; it exports the harness entrypoint (run() -> ChildReply). */
  mainModule: string;
  /** Every module the child imports, user code included. Async: a language may read its files from assets. */
  modules(run: ProgramRun): Promise<Record<string, string | WorkerLoaderModule>>;
  /**
   * The same child as the sandbox plane's hosts load it: shared modules once per host, this run's as text. A
   * program without it runs in process (README, "Sandbox plane").
   */
  plane?: PlaneProgram;
  /** Guard checks per ms while the clock stands still (schemas/limits.ts): each language's guard ticks differently. */
  stepsPerMs: number;
  /** Added to the CPU limit and the parent's backstop: time the child spends starting before the user's code runs. */
  startupAllowanceMs: number;
  /** A log message as the caller sees it: harness frames dropped, positions in the caller's own code. */
  userLogText(message: string): string;
  /** Where in the caller's own code an error was raised (and in which file, for a multi-file program). */
  userPosition(error: NonNullable<ChildReply["error"]>): { file?: string; line: number; column: number } | undefined;
  /**
   * A child that failed to start because of the caller's code (a module's top level threw or ran out of time while
   * the isolate loaded), in the caller's terms; undefined when the failure is not that.
   */
  startFailure?(message: string, timeoutMs: number): { status: "timeout" | "error"; error: ExecutionError } | undefined;
}

export type PrepareOutcome = { ok: true; program: SandboxProgram } | { ok: false; issues: ValidationIssue[] };

export interface LanguageRuntime {
  /** POST /execute: checks what can be checked before a child starts, and builds the program. */
  prepare(source: ProgramSource, env: Env): Promise<PrepareOutcome>;
  /** POST /validate: the same checks /execute applies, all of them, so a dry run and a real run agree. */
  validate(source: ProgramSource, env: Env): Promise<ValidationIssue[]>;
}

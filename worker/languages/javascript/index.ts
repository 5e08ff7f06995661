import { GUARD_STEPS_PER_MS } from "../../../schemas/limits";
import type { ExecutionError } from "../../../schemas/result";
import { cutText, MAX_ERROR_MESSAGE_CHARS } from "../../execution/child-protocol";
import type { InstrumentedProgram } from "../../execution/instrument";
import type { ModulePositions } from "../../execution/module-graph";
import { prepareProgram, type ProgramSource } from "../../execution/program";
import { RUN_LIMITS_MODULE, SANDBOX_MAIN_MODULE, SANDBOX_MODULES, USER_MODULE_NAME } from "../../execution/sandbox-modules";
import type { SourcePosition } from "../../execution/source-map";
import { planeTextModules, type PlaneModuleSet } from "../../execution/plane-modules";
import type { LanguageRuntime, ProgramRun, SandboxProgram } from "../language";

/**
 * JavaScript and TypeScript: a thin adapter over worker/execution/program.ts (validate, transpile, instrument the
 * entry and every file and package it imports). One runtime serves both: the source says which its files are.
 */
export const javascriptFamily: LanguageRuntime = {
  async prepare(source) {
    const prepared = await prepareProgram(source);
    if (!prepared.ok) return prepared;
    return {
      ok: true,
      program: javascriptProgram(prepared.program, {
        modules: prepared.modules,
        positions: prepared.positions,
        ...(source.multiFile ? { entryFile: source.entry } : {}),
      }),
    };
  },
  async validate(source) {
    const prepared = await prepareProgram(source);
    return prepared.ok ? [] : prepared.issues;
  },
};

/** What a program has beyond its entry: its other files and packages, and where their positions map back to. */
export interface ProgramModules {
  /** Besides the harness and user.js (named src/ and packages/, so they cannot collide with the static set). */
  modules?: Record<string, WorkerLoaderModule>;
  /** Runtime positions in the other modules, by child module name. */
  positions?: ReadonlyMap<string, ModulePositions>;
  /** A files request's entry path: errors in user.js are in this file. */
  entryFile?: string;
}

/** The JavaScript harness running one instrumented program (also what a session cell runs as). */
export function javascriptProgram(program: InstrumentedProgram, extra: ProgramModules = {}): SandboxProgram {
  const hasModules = extra.modules !== undefined && Object.keys(extra.modules).length > 0;
  const runModules = (run: ProgramRun): Record<string, WorkerLoaderModule> =>
    hasModules
      ? {
          ...extra.modules,
          // module-guard.js's load-time limits: the other modules run their top level before run() can arm the
          // run's own guard. Without other modules nothing imports it, and the static default stands.
          [RUN_LIMITS_MODULE]: { js: `export const timeoutMs = ${run.timeoutMs}; export const stepsPerMs = ${GUARD_STEPS_PER_MS};\n` },
        }
      : {};
  return {
    mainModule: SANDBOX_MAIN_MODULE,
    modules: async (run) => ({ ...SANDBOX_MODULES, ...runModules(run), [USER_MODULE_NAME]: program.moduleCode }),
    plane: {
      moduleSet: javascriptPlaneSet,
      runModules: (run) => ({ ...planeTextModules(runModules(run)), [USER_MODULE_NAME]: { js: program.moduleCode } }),
    },
    stepsPerMs: GUARD_STEPS_PER_MS,
    startupAllowanceMs: 0,
    userLogText: userLogText(program),
    userPosition: (error) => (error.stack ? userPosition(error.stack, program, extra) : undefined),
    ...(hasModules ? { startFailure: (message: string, timeoutMs: number) => moduleLoadFailure(message, timeoutMs, program, extra) } : {}),
  };
}

const PLANE_SET: Promise<PlaneModuleSet> = Promise.resolve({
  mainModule: SANDBOX_MAIN_MODULE,
  modules: Object.fromEntries(Object.entries(SANDBOX_MODULES).map(([name, js]) => [name, { js }])),
  // The run's limits replace the static default (see runModules above).
  replaceable: [RUN_LIMITS_MODULE],
});
const javascriptPlaneSet = () => PLANE_SET;

/**
 * A multi-file program's other modules (and its packages) run their top level while the isolate starts, before
 * the harness can catch anything: workerd then fails the start with the uncaught error's text. The load-time
 * guard (sandbox-template/module-guard.js) throws the guard's own TimeoutError there.
 */
const MODULE_LOAD_FAILED = /^Failed to start Worker:/;
const LOAD_TIMED_OUT = /Uncaught Error: TimeoutError: Execution timed out\s+at guard\.js:/;

function moduleLoadFailure(
  message: string,
  timeoutMs: number,
  program: InstrumentedProgram,
  extra: ProgramModules,
): { status: "timeout" | "error"; error: ExecutionError } | undefined {
  if (!MODULE_LOAD_FAILED.test(message)) return undefined;
  if (LOAD_TIMED_OUT.test(message)) {
    return {
      status: "timeout",
      error: { code: "TIMEOUT", name: "TimeoutError", message: `Execution exceeded the timeout of ${timeoutMs} ms while loading the program's modules` },
    };
  }
  const thrown = message.replace(MODULE_LOAD_FAILED, "").trim().replace(/^Uncaught /, "");
  return {
    status: "error",
    error: {
      code: "RUNTIME_ERROR",
      name: "Error",
      message: cutText(thrown.split("\n")[0] ?? thrown, MAX_ERROR_MESSAGE_CHARS),
      ...userPosition(message, program, extra),
    },
  };
}

const SANDBOX_FRAME = /^\s*at .*\b(?:harness|primordials|encode|capabilities|guard|function-source|log-channel|state|module-guard|run-limits)\.js:\d+:\d+\)?$/;
const USER_FRAME = /\buser\.js:(\d+):(\d+)/g;

/** One mapper per program: a position seen in one log entry is mapped once for all. */
function userLogText(program: InstrumentedProgram): (message: string) => string {
  const positions = new Map<string, string>();
  return (message) => userStackText(message, program, positions);
}

/**
 * Logged errors carry stacks from inside the sandbox: frames of the harness say nothing to the caller, and frames
 * in user.js point at instrumented code. Harness frames are dropped and user frames become `code:line:column` in
 * the caller's own source. Log text is the user's: what only looks like a frame (`user.js:0:0`, a line past the
 * module) is left as it is.
 */
function userStackText(message: string, program: InstrumentedProgram, positions: Map<string, string>): string {
  if (!message.includes(".js:")) return message;
  return message
    .split("\n")
    .filter((line) => !SANDBOX_FRAME.test(line))
    .map((line) =>
      line.replace(USER_FRAME, (match: string, line: string, column: string) => {
        const key = `${line}:${column}`;
        let mapped = positions.get(key);
        if (mapped === undefined) {
          const generated = framePosition(line, column);
          const position = generated ? program.toSourcePosition(generated) : undefined;
          mapped = position ? `code:${position.line}:${position.column}` : generated ? "code" : match;
          positions.set(key, mapped);
        }
        return mapped;
      }),
    )
    .join("\n");
}

/** A position as V8 writes it in a frame (1-based line and column), or undefined for text that cannot be one. */
function framePosition(line: string, column: string): SourcePosition | undefined {
  const position = { line: Number(line), column: Number(column) };
  const plausible = (n: number) => Number.isSafeInteger(n) && n >= 1;
  return plausible(position.line) && plausible(position.column) ? position : undefined;
}

/** A frame in user.js or in one of a multi-file program's modules (module-resolution.ts names them src/<path>). */
const POSITION_FRAME = /\b(user\.js|src\/[A-Za-z0-9_./-]+):(\d+):(\d+)/;

/** The first stack frame in the user's code, mapped back through instrumentation (and TypeScript), with its file. */
function userPosition(stack: string, program: InstrumentedProgram, extra: ProgramModules): { file?: string; line: number; column: number } | undefined {
  const match = POSITION_FRAME.exec(stack);
  const generated = match ? framePosition(match[2] ?? "", match[3] ?? "") : undefined;
  if (!match || !generated) return undefined;
  if (match[1] === "user.js") {
    const position = program.toSourcePosition(generated);
    return position && extra.entryFile !== undefined ? { file: extra.entryFile, ...position } : position;
  }
  const module = extra.positions?.get(match[1] ?? "");
  const position = module?.toSourcePosition(generated);
  return module && position ? { file: module.file, ...position } : undefined;
}

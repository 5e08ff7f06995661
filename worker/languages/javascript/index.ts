import type { Language } from "../../../schemas/execute";
import { GUARD_STEPS_PER_MS } from "../../../schemas/limits";
import type { InstrumentedProgram } from "../../execution/instrument";
import { prepare } from "../../execution/prepare";
import { SANDBOX_MAIN_MODULE, SANDBOX_MODULES, USER_MODULE_NAME } from "../../execution/sandbox-modules";
import type { SourcePosition } from "../../execution/source-map";
import type { PlaneModuleSet } from "../../execution/plane-modules";
import type { LanguageRuntime, SandboxProgram } from "../language";

/** JavaScript and TypeScript: a thin adapter over worker/execution/prepare.ts (validate, transpile, instrument). */
export function javascriptFamily(language: Extract<Language, "javascript" | "typescript">): LanguageRuntime {
  return {
    async prepare(code) {
      const prepared = await prepare(code, language);
      return prepared.ok ? { ok: true, program: javascriptProgram(prepared.program) } : prepared;
    },
    async validate(code) {
      const prepared = await prepare(code, language);
      return prepared.ok ? [] : prepared.issues;
    },
  };
}

/** The JavaScript harness running one instrumented program (also what a session cell runs as). */
export function javascriptProgram(program: InstrumentedProgram): SandboxProgram {
  return {
    mainModule: SANDBOX_MAIN_MODULE,
    modules: async () => ({ ...SANDBOX_MODULES, [USER_MODULE_NAME]: program.moduleCode }),
    plane: { moduleSet: javascriptPlaneSet, runModules: { [USER_MODULE_NAME]: { js: program.moduleCode } } },
    stepsPerMs: GUARD_STEPS_PER_MS,
    startupAllowanceMs: 0,
    userLogText: userLogText(program),
    userPosition: (error) => (error.stack ? userPosition(error.stack, program) : undefined),
  };
}

const PLANE_SET: Promise<PlaneModuleSet> = Promise.resolve({
  mainModule: SANDBOX_MAIN_MODULE,
  modules: Object.fromEntries(Object.entries(SANDBOX_MODULES).map(([name, js]) => [name, { js }])),
});
const javascriptPlaneSet = () => PLANE_SET;

const SANDBOX_FRAME = /^\s*at .*\b(?:harness|primordials|encode|capabilities|guard|function-source|log-channel|state)\.js:\d+:\d+\)?$/;
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

/** The first stack frame in the user's module, mapped back through instrumentation (and TypeScript). */
function userPosition(stack: string, program: InstrumentedProgram): { line: number; column: number } | undefined {
  const match = /user\.js:(\d+):(\d+)/.exec(stack);
  const generated = match ? framePosition(match[1] ?? "", match[2] ?? "") : undefined;
  return generated ? program.toSourcePosition(generated) : undefined;
}

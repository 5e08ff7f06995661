import type { Language } from "../../../schemas/execute";
import { GUARD_STEPS_PER_MS } from "../../../schemas/limits";
import type { InstrumentedProgram } from "../../execution/instrument";
import { prepare } from "../../execution/prepare";
import { SANDBOX_MAIN_MODULE, SANDBOX_MODULES, USER_MODULE_NAME } from "../../execution/sandbox-modules";
import type { LanguageRuntime, SandboxProgram } from "../language";

/** JavaScript and TypeScript: a thin adapter over worker/execution/prepare.ts (validate, transpile, instrument). */
export function javascriptFamily(language: Extract<Language, "javascript" | "typescript">): LanguageRuntime {
  return {
    async prepare(code) {
      const prepared = await prepare(code, language);
      return prepared.ok ? { ok: true, program: sandboxProgram(prepared.program) } : prepared;
    },
    async validate(code) {
      const prepared = await prepare(code, language);
      return prepared.ok ? [] : prepared.issues;
    },
  };
}

function sandboxProgram(program: InstrumentedProgram): SandboxProgram {
  return {
    mainModule: SANDBOX_MAIN_MODULE,
    modules: async () => ({ ...SANDBOX_MODULES, [USER_MODULE_NAME]: program.moduleCode }),
    stepsPerMs: GUARD_STEPS_PER_MS,
    startupAllowanceMs: 0,
    userStackText: (message) => userStackText(message, program),
    userPosition: (error) => (error.stack ? userPosition(error.stack, program) : undefined),
  };
}

const SANDBOX_FRAME = /^\s*at .*\b(?:harness|encode|capabilities)\.js:\d+:\d+\)?$/;

/**
 * Logged errors carry stacks from inside the sandbox: frames of the harness say nothing to the caller, and frames
 * in user.js point at instrumented code. Harness frames are dropped and user frames become `code:line:column` in
 * the caller's own source.
 */
function userStackText(message: string, program: InstrumentedProgram): string {
  if (!message.includes(".js:")) return message;
  return message
    .split("\n")
    .filter((line) => !SANDBOX_FRAME.test(line))
    .map((line) =>
      line.replace(/\buser\.js:(\d+):(\d+)/g, (_match, line: string, column: string) => {
        const position = program.toSourcePosition({ line: Number(line), column: Number(column) });
        return position ? `code:${position.line}:${position.column}` : "code";
      }),
    )
    .join("\n");
}

/** The first stack frame in the user's module, mapped back through instrumentation (and TypeScript). */
function userPosition(stack: string, program: InstrumentedProgram): { line: number; column: number } | undefined {
  const match = /user\.js:(\d+):(\d+)/.exec(stack);
  if (!match) return undefined;
  return program.toSourcePosition({ line: Number(match[1]), column: Number(match[2]) });
}

import { PYTHON_GUARD_STEPS_PER_MS, PYTHON_STARTUP_ALLOWANCE_MS } from "../../../schemas/limits";
import type { ValidationIssue } from "../../../schemas/result";
import type { LanguageRuntime } from "../language";
import type { PlaneModuleSet } from "../../execution/plane-modules";
import {
  PYTHON_MAIN_MODULE,
  PYTHON_USER_MODULE,
  pythonChildModules,
  pythonPlaneModuleSet,
  readPythonBuildId,
  readPythonFiles,
  type PythonFiles,
} from "./child-modules";

/** Must not be later than the front Worker's own compatibility date (wrangler.jsonc). */
const CHILD_COMPATIBILITY_DATE = "2026-08-01";
/** /validate only compiles; anything slower than this is the child failing, not the code. */
const CHECK_DEADLINE_MS = 10_000;

// Once per front isolate: every child gets the same bytes. A failed read is not cached, so the next request retries.
let files: Promise<PythonFiles> | undefined;
function pythonFiles(env: Env): Promise<PythonFiles> {
  files ??= readPythonFiles(env.ASSETS, { withSnapshot: true }).catch((error: unknown) => {
    files = undefined;
    throw error;
  });
  return files;
}

// On the sandbox plane the front reads only the build's name; the hosts hold the files. Same caching as above.
let planeSet: Promise<PlaneModuleSet> | undefined;
function pythonPlaneSet(env: Env): Promise<PlaneModuleSet> {
  planeSet ??= readPythonBuildId(env.ASSETS).then(pythonPlaneModuleSet, (error: unknown) => {
    planeSet = undefined;
    throw error;
  });
  return planeSet;
}

/**
 * Python (CPython 3.14 on Pyodide) in the same kind of fresh Worker Loader child as JavaScript. Nothing is
 * instrumented: the child's guard sits in Pyodide's own signal check. Syntax is checked by CPython's compiler
 * inside the child, so /execute reports a syntax error from its one child, and /validate starts a child to compile.
 */
export const python: LanguageRuntime = {
  async prepare(source, env) {
    // Python takes `code` only (schemas/execute.ts refuses files for it): the one file is the program.
    const code = source.files.get(source.entry) ?? "";
    return {
      ok: true,
      program: {
        mainModule: PYTHON_MAIN_MODULE,
        modules: async () => pythonChildModules(await pythonFiles(env), code),
        plane: { moduleSet: () => pythonPlaneSet(env), runModules: () => ({ [PYTHON_USER_MODULE]: { text: code } }) },
        stepsPerMs: PYTHON_GUARD_STEPS_PER_MS,
        startupAllowanceMs: PYTHON_STARTUP_ALLOWANCE_MS,
        // runner.py already reduces tracebacks to the user's own frames (File "<code>", line N).
        userLogText: (message) => message,
        userPosition: (error) =>
          error.line !== undefined ? { line: error.line, column: error.column ?? 1 } : undefined,
      },
    };
  },

  async validate(source, env) {
    const code = source.files.get(source.entry) ?? "";
    const worker = env.LOADER.load({
      compatibilityDate: CHILD_COMPATIBILITY_DATE,
      compatibilityFlags: [],
      mainModule: PYTHON_MAIN_MODULE,
      modules: pythonChildModules(await pythonFiles(env), code),
      env: {},
      globalOutbound: null,
      limits: { cpuMs: CHECK_DEADLINE_MS },
    });
    const harness = worker.getEntrypoint() as unknown as { check(): Promise<unknown> };
    let timer: number | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the Python syntax check did not answer")), CHECK_DEADLINE_MS);
    });
    try {
      return checkIssues(await Promise.race([harness.check(), deadline]));
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  },
};

/** The child is untrusted: its answer is read field by field. */
function checkIssues(raw: unknown): ValidationIssue[] {
  if (typeof raw !== "string") throw new Error("the Python syntax check answered with a malformed reply");
  const parsed: unknown = JSON.parse(raw);
  if (parsed === null) return [];
  if (typeof parsed !== "object") throw new Error("the Python syntax check answered with a malformed reply");
  const { message, line, column } = parsed as Record<string, unknown>;
  return [
    {
      code: "SYNTAX_ERROR",
      message: typeof message === "string" ? message.slice(0, 2000) : "invalid syntax",
      ...(typeof line === "number" && Number.isInteger(line) ? { line } : {}),
      ...(typeof column === "number" && Number.isInteger(column) ? { column } : {}),
    },
  ];
}

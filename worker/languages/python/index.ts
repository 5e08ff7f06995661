import { fileKind } from "../../../schemas/files";
import { MAX_FILES, PYTHON_GUARD_STEPS_PER_MS, PYTHON_STARTUP_ALLOWANCE_MS } from "../../../schemas/limits";
import type { ValidationIssue } from "../../../schemas/result";
import type { ChildReply } from "../../execution/child-protocol";
import type { ProgramSource } from "../../execution/program";
import type { LanguageRuntime } from "../language";
import type { PlaneModuleSet } from "../../execution/plane-modules";
import {
  PYTHON_MAIN_MODULE,
  pythonChildModules,
  pythonPlaneModuleSet,
  pythonRunModules,
  readPythonBuildId,
  readPythonFiles,
  type PythonFiles,
  type PythonProgramFiles,
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

/** A files request's files for the child (program.json); undefined for a code request. */
function programFiles(source: ProgramSource): PythonProgramFiles | undefined {
  return source.multiFile ? { entry: source.entry, files: Object.fromEntries(source.files) } : undefined;
}

/**
 * The file a child's error or issue names, if it may name one: the child runs the user's code in its own
 * interpreter, so the code can forge anything runner.py answers. Only a .py file of this request is believed.
 */
function reportedFile(file: unknown, source: ProgramSource): string | undefined {
  return source.multiFile && typeof file === "string" && source.files.has(file) && fileKind(file) === "python" ? file : undefined;
}

/** Where the child says an error was raised, re-checked (see reportedFile). Exported for its unit test. */
export function pythonPosition(error: NonNullable<ChildReply["error"]>, source: ProgramSource): { file?: string; line: number; column: number } | undefined {
  if (error.line === undefined) return undefined;
  const file = reportedFile(error.file, source);
  return { ...(file !== undefined ? { file } : {}), line: error.line, column: error.column ?? 1 };
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
 * A files request is the same child with every file in program.json (runner.py installs them and their importer).
 */
export const python: LanguageRuntime = {
  async prepare(source, env) {
    const code = source.files.get(source.entry) ?? "";
    const program = programFiles(source);
    return {
      ok: true,
      program: {
        mainModule: PYTHON_MAIN_MODULE,
        modules: async () => pythonChildModules(await pythonFiles(env), code, program),
        plane: { moduleSet: () => pythonPlaneSet(env), runModules: () => pythonRunModules(code, program) },
        stepsPerMs: PYTHON_GUARD_STEPS_PER_MS,
        startupAllowanceMs: PYTHON_STARTUP_ALLOWANCE_MS,
        // runner.py already reduces tracebacks to the user's own frames (File "<code>" or "lib/x.py", line N).
        userLogText: (message) => message,
        userPosition: (error) => pythonPosition(error, source),
      },
    };
  },

  async validate(source, env) {
    const code = source.files.get(source.entry) ?? "";
    const worker = env.LOADER.load({
      compatibilityDate: CHILD_COMPATIBILITY_DATE,
      compatibilityFlags: [],
      mainModule: PYTHON_MAIN_MODULE,
      modules: pythonChildModules(await pythonFiles(env), code, programFiles(source)),
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
      return checkIssues(await Promise.race([harness.check(), deadline]), source);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  },
};

/**
 * The child is untrusted: its answer (a list of SyntaxErrors, at most one per file) is read field by field. No
 * user code runs during the check, but the parent does not lean on that.
 */
export function checkIssues(raw: unknown, source: ProgramSource): ValidationIssue[] {
  if (typeof raw !== "string") throw new Error("the Python syntax check answered with a malformed reply");
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed)) throw new Error("the Python syntax check answered with a malformed reply");
  return parsed.slice(0, MAX_FILES).map((item: unknown): ValidationIssue => {
    const { message, line, column, file } = (typeof item === "object" && item !== null ? item : {}) as Record<string, unknown>;
    const named = reportedFile(file, source);
    return {
      code: "SYNTAX_ERROR",
      message: typeof message === "string" ? message.slice(0, 2000) : "invalid syntax",
      ...(named !== undefined ? { file: named } : {}),
      ...(typeof line === "number" && Number.isInteger(line) ? { line } : {}),
      ...(typeof column === "number" && Number.isInteger(column) ? { column } : {}),
    };
  });
}

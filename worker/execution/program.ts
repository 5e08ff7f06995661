import type { Language } from "../../schemas/execute";
import { entryOf, fileKind } from "../../schemas/files";
import type { ValidationIssue } from "../../schemas/result";
import type { InstrumentedProgram } from "./instrument";
import { prepareFiles, type ModulePositions } from "./module-graph";
import { liftEntryImports } from "./entry-imports";
import { prepare } from "./prepare";

/** What a request asks to run: one `code` string, or `files` with an entry. Parsed requests only. */
export interface ProgramSource {
  language: Language;
  /** The entry's path; for a code request a placeholder that never leaves the service. */
  entry: string;
  files: ReadonlyMap<string, string>;
  /** A files request (errors then name their file). */
  multiFile: boolean;
}

/** Stands for the single file of a code request. */
const CODE_ENTRY = "code";

export function programSource(request: { code?: string; files?: Record<string, string>; entry?: string; language: Language }): ProgramSource {
  if (request.files === undefined) {
    return { language: request.language, entry: CODE_ENTRY, files: new Map([[CODE_ENTRY, request.code ?? ""]]), multiFile: false };
  }
  return {
    language: request.language,
    entry: entryOf(request.files, request.entry, request.language),
    // Object.entries: own keys only, and a Map from here on, so no path can collide with an Object.prototype name.
    files: new Map(Object.entries(request.files)),
    multiFile: true,
  };
}

/** The entry's language: a code request's `language`, a file's extension otherwise. */
export function entryLanguage(source: ProgramSource): Language {
  return source.multiFile ? (fileKind(source.entry) === "typescript" ? "typescript" : "javascript") : source.language;
}

export type PreparedProgram =
  | {
      ok: true;
      program: InstrumentedProgram;
      /** Modules besides the harness and user.js that this program's isolate gets (its other files, its packages). */
      modules: Record<string, WorkerLoaderModule>;
      /** Runtime positions in the program's other modules, by child module name (multi-file only). */
      positions?: ReadonlyMap<string, ModulePositions>;
    }
  | { ok: false; issues: ValidationIssue[] };

/**
 * validate -> transpile -> analyze -> instrument, for every file the entry reaches. A code request without the
 * word `import` takes exactly the path it always did, so programs that import nothing pay nothing for modules.
 */
export async function prepareProgram(source: ProgramSource): Promise<PreparedProgram> {
  const entryCode = source.files.get(source.entry) ?? "";
  if (!source.multiFile && !importsAtRunTime(entryCode, source.language)) {
    const prepared = await prepare(entryCode, source.language);
    return prepared.ok ? { ok: true, program: prepared.program, modules: {} } : prepared;
  }
  return prepareFiles(source, entryLanguage(source));
}

/** Whether code has an import that needs a module at run time (`import type` does not; analyze.ts erases it). */
function importsAtRunTime(code: string, language: Language): boolean {
  return /\bimport\b/.test(code) && liftEntryImports(code, language === "typescript").imports.length > 0;
}

import * as acorn from "acorn";
import * as walk from "acorn-walk";
import MagicString from "magic-string";
import type { SourceMapInput } from "@jridgewell/trace-mapping";
import { fileKind } from "../../schemas/files";
import type { Language } from "../../schemas/execute";
import type { ValidationIssue } from "../../schemas/result";
import { analyzeModule } from "./analyze";
import { importStatement, liftEntryImports } from "./entry-imports";
import { newGuardName } from "./instrument";
import { guardImport, placeModuleGuards } from "./instrument-module";
import { childModuleName, packageModuleName, relativeSpecifier, resolveImport, type Resolution } from "./module-resolution";
import { packageBundle } from "./package-set";
import { prepare } from "./prepare";
import type { PreparedProgram, ProgramSource } from "./program";
import { originalPosition, traceMap, type SourcePosition } from "./source-map";
import { transpileTypeScript } from "./transpile";
import { MODULE_GUARD_MODULE, USER_MODULE_NAME } from "./sandbox-modules";

// A multi-file program: the entry (an async function body, as `code` is) and the files it reaches through static
// imports (ordinary ES modules), each transpiled, checked and instrumented like `code`, plus the bundles of the
// packages it imports. Only what the entry reaches is given to the isolate; a file nobody imports is not checked
// or loaded.

/** Where a module's runtime positions map back to: its file, through its own instrumentation and transpiling. */
export interface ModulePositions {
  file: string;
  toSourcePosition(generated: SourcePosition): SourcePosition | undefined;
}

export async function prepareFiles(source: ProgramSource, entryLanguage: Language): Promise<PreparedProgram> {
  const { files, entry } = source;
  const issues: ValidationIssue[] = [];
  const modules: Record<string, WorkerLoaderModule> = {};
  const positions = new Map<string, ModulePositions>();
  const entrySource = files.get(entry) ?? "";
  const entryTs = entryLanguage === "typescript";
  // A code request names no files: its issues carry no file.
  const inFile = (file: string) => (source.multiFile ? { file } : {});

  const lifted = liftEntryImports(entrySource, entryTs);
  const prepared = await prepare(lifted.body, entryLanguage);
  if (!prepared.ok) issues.push(...prepared.issues.map((issue) => ({ ...issue, ...inFile(entry) })));

  const pending: string[] = [];
  const packages = new Set<string>();
  const follow = (resolution: Resolution, importer: string, at: SourcePosition | undefined): string | undefined => {
    if (resolution.kind === "refused") {
      issues.push({ code: "POLICY_VIOLATION", message: resolution.message, ...inFile(importer), ...(at ?? {}) });
      return undefined;
    }
    if (resolution.kind === "package") {
      packages.add(resolution.name);
      return packageModuleName(resolution.name);
    }
    pending.push(resolution.path);
    return childModuleName(resolution.path);
  };

  // A TypeScript entry's imports used only as types are left out, as TypeScript does (entry-imports.ts).
  const used = entryTs && prepared.ok && lifted.imports.length > 0 ? identifiersIn(prepared.program.moduleCode) : undefined;
  let header = "";
  for (const declaration of lifted.imports) {
    const target = follow(resolveImport(declaration.specifier, entry, files, entry), entry, positionAt(entrySource, declaration.start));
    if (target === undefined) continue;
    header += importStatement(declaration, relativeSpecifier(USER_MODULE_NAME, target), used) ?? "";
  }

  const seen = new Set<string>();
  while (pending.length > 0) {
    const path = pending.shift() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    const text = files.get(path) ?? "";
    const kind = fileKind(path);
    if (kind === "json") {
      try {
        modules[childModuleName(path)] = { json: JSON.parse(text) };
      } catch (error) {
        issues.push({ code: "SYNTAX_ERROR", message: `not valid JSON: ${error instanceof Error ? error.message : String(error)}`, file: path });
      }
      continue;
    }
    const module = await prepareModule(path, text, kind === "typescript", (specifier, at) =>
      follow(resolveImport(specifier, path, files, entry), path, at),
    );
    if (!module.ok) {
      issues.push(...module.issues.map((issue) => ({ ...issue, file: path })));
      continue;
    }
    modules[childModuleName(path)] = { js: module.code };
    positions.set(childModuleName(path), { file: path, toSourcePosition: module.toSourcePosition });
  }

  if (issues.length > 0 || !prepared.ok) return { ok: false, issues: sortIssues(issues) };
  for (const name of packages) modules[packageModuleName(name)] = { js: packageBundle(name) ?? "" };
  return {
    ok: true,
    // The imports go on the wrapper's own first line, so the lines of the entry's code do not move.
    program: { ...prepared.program, moduleCode: header + prepared.program.moduleCode },
    modules,
    positions,
  };
}

type ModuleOutcome =
  | { ok: true; code: string; toSourcePosition(generated: SourcePosition): SourcePosition | undefined }
  | { ok: false; issues: ValidationIssue[] };

/**
 * One non-entry file as an ordinary ES module: transpiled, checked (imports and exports allowed, dynamic import()
 * still refused), every specifier replaced with the module the parent resolved, and instrumented with the guard
 * imported from module-guard.js.
 */
async function prepareModule(
  path: string,
  source: string,
  typescript: boolean,
  resolve: (specifier: string, at: SourcePosition | undefined) => string | undefined,
): Promise<ModuleOutcome> {
  let js = source;
  let transpiledMap: string | undefined;
  if (typescript) {
    const out = await transpileTypeScript(source);
    if (!out.ok) return { ok: false, issues: out.issues.map((issue) => ({ code: "SYNTAX_ERROR", ...issue })) };
    js = out.code;
    transpiledMap = out.map;
  }
  const trace = transpiledMap ? traceMap(transpiledMap) : undefined;
  const toCallerPosition = (at: SourcePosition | undefined) => (at && trace ? originalPosition(trace, at) : at);

  const analyzed = analyzeModule(js);
  if (!analyzed.ok) {
    return { ok: false, issues: analyzed.issues.map(({ line, column, ...rest }) => ({ ...rest, ...(toCallerPosition(line !== undefined && column !== undefined ? { line, column } : undefined) ?? {}) })) };
  }
  const ast = analyzed.ast;
  const s = new MagicString(js);
  const moduleName = childModuleName(path);
  let unresolved = false;
  for (const node of ast.body) {
    const literal = moduleSource(node);
    if (!literal) continue;
    const start = literal.loc?.start;
    const target = resolve(String(literal.value), toCallerPosition(start ? { line: start.line, column: start.column + 1 } : undefined));
    if (target === undefined) unresolved = true;
    else s.overwrite(literal.start, literal.end, JSON.stringify(relativeSpecifier(moduleName, target)));
  }
  // Refusals were reported through resolve(); this file is not built.
  if (unresolved) return { ok: false, issues: [] };

  const guardName = newGuardName();
  placeModuleGuards(s, ast, guardName);
  s.prepend(guardImport(guardName, relativeSpecifier(moduleName, MODULE_GUARD_MODULE)));
  const code = s.toString();
  let instrumented: ReturnType<typeof traceMap> | undefined;
  return {
    ok: true,
    code,
    toSourcePosition(generated) {
      instrumented ??= traceMap(s.generateMap({ hires: true, source: path }) as unknown as SourceMapInput);
      const inJs = originalPosition(instrumented, generated);
      return inJs && trace ? originalPosition(trace, inJs) : inJs;
    },
  };
}

function moduleSource(node: acorn.Statement | acorn.ModuleDeclaration): acorn.Literal | undefined {
  if (node.type === "ImportDeclaration") return node.source;
  if ((node.type === "ExportNamedDeclaration" || node.type === "ExportAllDeclaration") && node.source) return node.source;
  return undefined;
}

/** 1-based line and column of an offset. */
function positionAt(text: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function sortIssues(issues: ValidationIssue[]): ValidationIssue[] {
  return issues;
}

/** Every identifier the module's code mentions (what TypeScript's import elision asks: is the binding used?). */
function identifiersIn(code: string): Set<string> {
  const names = new Set<string>();
  const ast = acorn.parse(code, { ecmaVersion: "latest", sourceType: "module" });
  walk.full(ast, (node) => {
    if (node.type === "Identifier") names.add((node as acorn.Identifier).name);
  });
  return names;
}

import type * as acorn from "acorn";
import type { Language } from "../../schemas/execute";
import type { ValidationIssue } from "../../schemas/result";
import { analyze, parseUserCode, RESERVED_PREFIX, WRAPPER_HEADER, wrappedBody, type ParsedProgram } from "../execution/analyze";
import { instrument, newGuardName, WrapperBreakout, type InstrumentedProgram } from "../execution/instrument";
import { rejectingOverflow, transpileAndAnalyze, type PrepareOutcome } from "../execution/prepare";
import { originalPosition, traceMap } from "../execution/source-map";
import type { Declaration } from "./declarations";

// A cell of a session becomes one program for a fresh isolate:
//
//   const __ce_s = <guard>.s, __ce_v = __ce_s.v;      the harness put the decoded state there (state.js)
//   let x = __ce_v["x"]; const y = __ce_v["y"];       persisted values, as they were declared
//   function f() {...}                               persisted functions and classes, from their source
//   return await (async function () { __ce_s.c = function () { return [["x", () => x], ...]; };
//   <the cell>
//   })();
//
// The cell runs in a function of its own, so it may declare again any name the prologue declares (a REPL
// redefines), and its capture function, hoisted to the top of that function, reads every top-level binding
// after the cell returned, wherever it returned. Function and class sources come only from the session's own
// record of what callers sent (Declaration.source), never from a child's reply, and are validated again here
// together with the cell.

export interface PreparedCell {
  program: InstrumentedProgram;
  /** What this cell declares at top level, in source order (not yet persisted: only a successful cell commits). */
  declared: Declaration[];
  /** The names whose values the child reports after the cell: the persisted values and the cell's own. */
  captured: string[];
}

export type PrepareCellOutcome = { ok: true; cell: PreparedCell } | { ok: false; issues: ValidationIssue[] };

const CELL_FOOTER = "\n})();";

export async function prepareCell(code: string, language: Language, persisted: readonly Declaration[], cell: number): Promise<PrepareCellOutcome> {
  return rejectingOverflow(() => prepareChecked(code, language, persisted, cell));
}

async function prepareChecked(code: string, language: Language, persisted: readonly Declaration[], cell: number): Promise<PrepareCellOutcome> {
  const checked = await transpileAndAnalyze(code, language);
  if (!checked.ok) return checked;
  const { js, transpiledMap } = checked;
  const declared = topLevelDeclarations(WRAPPER_HEADER + js, checked.program.body, cell);

  const sources = persisted.filter((d) => d.kind !== "value");
  const values = persisted.filter((d) => d.kind === "value");
  // Defence in depth: the record holds what an earlier cell sent and passed these checks, and it must still.
  if (sources.length > 0) {
    const again = analyze(sources.map((d) => d.source).join("\n"));
    if (!again.ok) return { ok: false, issues: [{ code: "POLICY_VIOLATION", message: "the session's persisted functions no longer pass validation" }] };
  }

  const declaredSources = new Set(declared.filter((d) => d.kind !== "value").map((d) => d.name));
  const captured = [...new Set([...values.map((d) => d.name), ...declared.filter((d) => d.kind === "value").map((d) => d.name)])].filter(
    (name) => !declaredSources.has(name),
  );

  const guardName = newGuardName();
  const stateName = `${RESERVED_PREFIX}s`;
  const valuesName = `${RESERVED_PREFIX}v`;
  let prologue = `const ${stateName} = ${guardName}.s, ${valuesName} = ${stateName}.v;\n`;
  for (const value of values) {
    prologue += `${value.declaredAs === "const" ? "const" : "let"} ${value.name} = ${valuesName}[${JSON.stringify(value.name)}];\n`;
  }
  for (const source of sources) prologue += `${source.source}\n`;
  const reads = captured.map((name) => `[${JSON.stringify(name)}, () => ${name}]`).join(", ");
  const header = `return await (async function () { ${stateName}.c = function () { return [${reads}]; };\n`;
  const combined = prologue + header + js + CELL_FOOTER;
  const lineOffset = countNewlines(prologue) + 1;

  let parsedCombined: ParsedProgram;
  try {
    const ast = parseUserCode(combined);
    parsedCombined = { ast, body: wrappedBody(ast, combined.length) };
  } catch {
    return { ok: false, issues: [{ code: "POLICY_VIOLATION", message: "the cell does not combine with the session's state" }] };
  }
  if (!combinedIntact(parsedCombined.body, WRAPPER_HEADER.length + combined.length, values.length, sources)) {
    return { ok: false, issues: [{ code: "POLICY_VIOLATION", message: "code escapes the cell it runs in" }] };
  }

  let instrumented: InstrumentedProgram;
  try {
    instrumented = instrument(combined, parsedCombined, guardName);
  } catch (error) {
    if (error instanceof WrapperBreakout) return { ok: false, issues: [{ code: "POLICY_VIOLATION", message: error.message }] };
    throw error;
  }
  let transpiled: ReturnType<typeof traceMap> | undefined;
  const program: InstrumentedProgram = {
    moduleCode: instrumented.moduleCode,
    toSourcePosition(generated) {
      const inCombined = instrumented.toSourcePosition(generated);
      // Positions in the prologue are the session's, not this cell's: no position rather than a wrong one.
      if (!inCombined || inCombined.line <= lineOffset) return undefined;
      const inCell = { line: inCombined.line - lineOffset, column: inCombined.column };
      if (!transpiledMap) return inCell;
      transpiled ??= traceMap(transpiledMap);
      return originalPosition(transpiled, inCell);
    },
  };
  return { ok: true, cell: { program, declared, captured } };
}

/** Lets the pipeline run a prepared cell in place of prepare(). */
export function asPrepareOutcome(outcome: PrepareCellOutcome): PrepareOutcome {
  return outcome.ok ? { ok: true, program: outcome.cell.program } : outcome;
}

/**
 * The top-level declarations of a cell (`body`: its statements, with offsets into `text`). `const f = () => ...`
 * (or a function or class expression) persists like a function declaration, by source: a closure cannot be
 * cloned, but its text can be declared again.
 */
export function topLevelDeclarations(js: string, body: readonly acorn.Statement[], cell: number): Declaration[] {
  const found = new Map<string, Declaration>();
  const add = (declaration: Declaration) => {
    found.delete(declaration.name);
    found.set(declaration.name, declaration);
  };
  for (const statement of body) {
    if (statement.type === "FunctionDeclaration" && statement.id) {
      add({ name: statement.id.name, kind: "function", declaredAs: "function", source: js.slice(statement.start, statement.end), cell });
    } else if (statement.type === "ClassDeclaration" && statement.id) {
      add({ name: statement.id.name, kind: "class", declaredAs: "class", source: js.slice(statement.start, statement.end), cell });
    } else if (statement.type === "VariableDeclaration") {
      const declaredAs = statement.kind === "var" ? "var" : statement.kind === "const" ? "const" : "let";
      for (const declarator of statement.declarations) {
        const init = declarator.init;
        const byValue =
          declaredAs !== "const" ||
          declarator.id.type !== "Identifier" ||
          !init ||
          (init.type !== "ArrowFunctionExpression" && init.type !== "FunctionExpression" && init.type !== "ClassExpression");
        if (!byValue && declarator.id.type === "Identifier" && init) {
          const name = declarator.id.name;
          const kind = init.type === "ClassExpression" ? "class" : "function";
          add({ name, kind, declaredAs: "const", source: `const ${name} = ${js.slice(init.start, init.end)};`, cell });
          continue;
        }
        for (const name of patternNames(declarator.id)) add({ name, kind: "value", declaredAs, cell });
      }
    }
  }
  return [...found.values()];
}

function patternNames(pattern: acorn.Pattern): string[] {
  switch (pattern.type) {
    case "Identifier":
      return [pattern.name];
    case "ObjectPattern":
      return pattern.properties.flatMap((p) => (p.type === "RestElement" ? patternNames(p.argument) : patternNames(p.value)));
    case "ArrayPattern":
      return pattern.elements.flatMap((e) => (e ? patternNames(e) : []));
    case "RestElement":
      return patternNames(pattern.argument);
    case "AssignmentPattern":
      return patternNames(pattern.left);
    default:
      return [];
  }
}

/**
 * The combined program must be exactly: the state line, one declaration per persisted value, one declaration of
 * the right name per persisted source, and the return of the cell's function, which ends where the footer
 * begins. A persisted source that became more than its one declaration is refused here.
 */
function combinedIntact(body: readonly acorn.Statement[], combinedEnd: number, valueCount: number, sources: readonly Declaration[]): boolean {
  if (body.length !== 1 + valueCount + sources.length + 1) return false;
  for (let i = 0; i < sources.length; i++) {
    const statement = body[1 + valueCount + i];
    const expected = sources[i]!;
    const name =
      statement?.type === "FunctionDeclaration" || statement?.type === "ClassDeclaration"
        ? statement.id?.name
        : statement?.type === "VariableDeclaration" && statement.kind === "const" && statement.declarations.length === 1 && statement.declarations[0]?.id.type === "Identifier"
          ? statement.declarations[0].id.name
          : undefined;
    if (name !== expected.name) return false;
  }
  const last = body[body.length - 1];
  if (last?.type !== "ReturnStatement" || last.argument?.type !== "AwaitExpression") return false;
  const call = last.argument.argument;
  if (call.type !== "CallExpression" || call.arguments.length !== 0) return false;
  const fn = call.callee;
  return fn.type === "FunctionExpression" && fn.async && fn.body.end === combinedEnd - 4;
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) count++;
  return count;
}

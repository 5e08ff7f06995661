import type * as acorn from "acorn";
import type { Language } from "../../schemas/execute";
import type { ValidationIssue } from "../../schemas/result";
import { analyze } from "./analyze";
import { instrument, newGuardName, WrapperBreakout, type InstrumentedProgram } from "./instrument";
import { originalPosition, traceMap } from "./source-map";
import { transpileTypeScript } from "./transpile";

export type PrepareOutcome = { ok: true; program: InstrumentedProgram } | { ok: false; issues: ValidationIssue[] };

/**
 * validate -> transpile -> analyze -> instrument. /validate runs the same function and discards the program, so a
 * dry run and a real run can never disagree. Policy checks run on the JavaScript that will execute (after
 * transpiling), so TypeScript syntax, comments or escapes cannot hide a banned construct.
 */
export async function prepare(code: string, language: Language): Promise<PrepareOutcome> {
  try {
    return await prepareOrOverflow(code, language);
  } catch (error) {
    // 100 KB of nesting (a 50 000-link member chain, deep TypeScript generics) can parse and still overflow the
    // stack of a recursive pass after it (transpile, walk, instrument). That is the caller's code, not our fault:
    // reject it like the parser's own "not enough stack space" instead of answering a 500.
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      return { ok: false, issues: [{ code: "SYNTAX_ERROR", message: "The code is nested too deeply to process" }] };
    }
    throw error;
  }
}

async function prepareOrOverflow(code: string, language: Language): Promise<PrepareOutcome> {
  let js = code;
  let transpiledMap: string | undefined;
  let parsed: acorn.Program | undefined;
  if (language === "typescript") {
    const out = await transpileTypeScript(code);
    if (!out.ok) return { ok: false, issues: out.issues.map((issue) => ({ code: "SYNTAX_ERROR", ...issue })) };
    js = out.code;
    transpiledMap = out.map;
    parsed = out.ast;
  }
  const analyzed = analyze(js, parsed);
  if (!analyzed.ok) {
    return { ok: false, issues: transpiledMap ? mapIssues(analyzed.issues, transpiledMap) : analyzed.issues };
  }
  try {
    return { ok: true, program: instrument(js, analyzed.program, newGuardName(), transpiledMap) };
  } catch (error) {
    if (error instanceof WrapperBreakout) {
      return { ok: false, issues: [{ code: "POLICY_VIOLATION", message: error.message }] };
    }
    throw error;
  }
}

/** Issues found in transpiled TypeScript point back at the TypeScript the caller wrote. */
function mapIssues(issues: ValidationIssue[], map: string): ValidationIssue[] {
  const trace = traceMap(map);
  return issues.map(({ line, column, ...rest }) => {
    if (line === undefined || column === undefined) return rest;
    return { ...rest, ...originalPosition(trace, { line, column }) };
  });
}

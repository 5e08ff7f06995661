import * as acorn from "acorn";
import * as walk from "acorn-walk";
import type { ValidationIssue } from "../../schemas/result";

/** Prefix reserved for identifiers the instrumentation introduces. */
export const RESERVED_PREFIX = "__ce_";

/**
 * Names that reach the host or escape the sandbox's model. Each is a real capability the sandbox does not have,
 * so even mentioning it is refused: a program that names `process` cannot mean anything else.
 */
const BANNED_IDENTIFIERS: Readonly<Record<string, string>> = {
  require: "require() is not available: the sandbox has no module system",
  process: "process is not available: the sandbox has no Node.js built-ins",
  __dirname: "__dirname is not available: the sandbox has no file system",
  __filename: "__filename is not available: the sandbox has no file system",
};

/**
 * Code generation from strings is banned as an act, not as a word: `x instanceof Function` and
 * `Function.prototype.call.bind(f)` are ordinary programs. The static check names the direct forms (calling or
 * constructing `Function`, calling `eval`); every other route (an aliased eval, `Reflect.construct(Function, …)`,
 * `(async function () {}).constructor("…")`) is refused by workerd at run time, and pipeline.ts reports that
 * refusal with the same code. Keep the message's words in sync with CODE_GENERATION_REFUSED in pipeline.ts.
 */
const MODULE_SYNTAX = {
  import: "import declarations are not allowed: the sandbox has no module system",
  export: "export is not allowed: return a value instead",
} as const;

export const CODE_GENERATION_MESSAGE = "code generation from strings is not allowed";
const CODE_GENERATORS: Readonly<Record<string, string>> = {
  eval: `${CODE_GENERATION_MESSAGE}: eval`,
  Function: `${CODE_GENERATION_MESSAGE}: the Function constructor`,
};

/**
 * The user's code is the body of `async function ()` inside a factory that receives the guard and the context
 * (keep in sync with instrument.ts, which builds the module from these same parts, and
 * sandbox-template/harness.js, which calls it). `context` is a parameter of the outer arrow, so the body can
 * shadow it. The header ends with a newline: the user's line N is line N + 1 of the module, columns unchanged.
 */
export const GUARD_PLACEHOLDER = `${RESERVED_PREFIX}${"0".repeat(32)}`;
export const WRAPPER_HEADER = `export default (${GUARD_PLACEHOLDER}, context) => async function () {\n`;
export const WRAPPER_FOOTER = "\n};\n";
/** Where the guard's name sits in the header, to be overwritten with the execution's own. */
export const GUARD_NAME_OFFSET = WRAPPER_HEADER.indexOf(GUARD_PLACEHOLDER);

export interface ParsedProgram {
  /** The wrapped module as parsed: offsets are offsets into WRAPPER_HEADER + code + WRAPPER_FOOTER. */
  ast: acorn.Program;
  /** The user's statements (the inner function's body), with the same offsets. */
  body: acorn.Statement[];
}

export type AnalyzeOutcome = { ok: true; program: ParsedProgram } | { ok: false; issues: ValidationIssue[] };

/**
 * The user's code is parsed where it runs: as the body of the async function it becomes, in the module that holds
 * it. A module is strict and has no HTML-like comments, so the parse sees exactly what the runtime will, and a
 * function body allows what a function body allows (`return`, `await`, `new.target`, a repeated `function f`).
 */
export function parseUserCode(code: string): acorn.Program {
  return acorn.parse(WRAPPER_HEADER + code + WRAPPER_FOOTER, {
    ecmaVersion: "latest",
    sourceType: "module",
    allowHashBang: false,
    locations: true,
  });
}

export class WrapperBreakout extends Error {
  override readonly name = "WrapperBreakout";
}

/**
 * The user's statements, if the parse is exactly the wrapper with the code entirely inside the inner function's
 * braces. Code that closes the function early (`}); …; (function () {`) parses too, but into another shape.
 * Statements after the footer are allowed: instrument.ts appends its insertion table there.
 */
export function wrappedBody(ast: acorn.Program, codeLength: number): acorn.Statement[] {
  const [only, ...rest] = ast.body;
  const factory = only?.type === "ExportDefaultDeclaration" ? only.declaration : undefined;
  const inner = factory?.type === "ArrowFunctionExpression" ? factory.body : undefined;
  const codeEnd = WRAPPER_HEADER.length + codeLength;
  const intact =
    rest.every((node) => node.start >= codeEnd + WRAPPER_FOOTER.length) &&
    factory?.type === "ArrowFunctionExpression" &&
    factory.params.length === 2 &&
    inner?.type === "FunctionExpression" &&
    inner.async &&
    !inner.generator &&
    inner.params.length === 0 &&
    inner.body.start === WRAPPER_HEADER.length - 2 &&
    inner.body.end === codeEnd + 2;
  if (!intact) throw new WrapperBreakout("code escapes the function it runs in");
  return inner.body.body;
}

/** `parsed`, when given, must be parseUserCode(code): the TypeScript fast path has already parsed it. */
export function analyze(code: string, parsed?: acorn.Program): AnalyzeOutcome {
  let ast: acorn.Program;
  try {
    ast = parsed ?? parseUserCode(code);
  } catch (error) {
    return { ok: false, issues: [syntaxIssue(error, code)] };
  }
  let body: acorn.Statement[];
  try {
    body = wrappedBody(ast, code.length);
  } catch (error) {
    if (error instanceof WrapperBreakout) return { ok: false, issues: [{ code: "POLICY_VIOLATION", message: error.message }] };
    throw error;
  }
  const issues = findPolicyViolations(body);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, program: { ast, body } };
}

function syntaxIssue(error: unknown, code: string): ValidationIssue {
  if (error instanceof SyntaxError && "loc" in error) {
    const loc = (error as SyntaxError & { loc?: { line: number; column: number } }).loc;
    // acorn appends " (line:col)" to its messages; the position is reported in its own fields.
    const message = error.message.replace(/ \(\d+:\d+\)$/, "");
    const position = loc ? userPosition(loc, code) : {};
    // Inside a function body, module syntax is a syntax error; it is refused for what it asks, as before.
    if (/'import' and 'export' may only appear at the top level/.test(message)) {
      const pos = (error as SyntaxError & { pos?: number }).pos ?? 0;
      const word = (WRAPPER_HEADER + code).startsWith("export", pos) ? "export" : "import";
      return { code: "POLICY_VIOLATION", message: MODULE_SYNTAX[word], ...position };
    }
    return { code: "SYNTAX_ERROR", message, ...position };
  }
  return { code: "SYNTAX_ERROR", message: error instanceof Error ? error.message : String(error) };
}

/**
 * A module position (1-based line, 0-based column) as the caller's (1-based both). An error the parser only finds
 * past the code (an unclosed brace, found at the footer) is reported at the end of the code.
 */
function userPosition(loc: { line: number; column: number }, code: string): { line: number; column: number } {
  const lines = code.split(/\r\n?|\n|\u2028|\u2029/);
  const line = loc.line - 1;
  if (line >= 1 && line <= lines.length) return { line, column: loc.column + 1 };
  if (line < 1) return { line: 1, column: 1 };
  return { line: lines.length, column: lines.at(-1)!.length + 1 };
}

function violation(node: acorn.Node, message: string): ValidationIssue {
  const start = node.loc?.start;
  return { code: "POLICY_VIOLATION", message, ...(start ? { line: start.line - 1, column: start.column + 1 } : {}) };
}

/** `eval`, `(eval)`, `(0, eval)`: the callee names the generator, however it is parenthesised or sequenced. */
function generatorNamed(callee: acorn.Node): acorn.Identifier | undefined {
  let node = callee;
  while (node.type === "SequenceExpression") node = (node as acorn.SequenceExpression).expressions.at(-1)!;
  if (node.type !== "Identifier") return undefined;
  return Object.hasOwn(CODE_GENERATORS, (node as acorn.Identifier).name) ? (node as acorn.Identifier) : undefined;
}

function findPolicyViolations(body: acorn.Statement[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const checkName = (node: acorn.Node, name: string) => {
    const reason = Object.hasOwn(BANNED_IDENTIFIERS, name) ? BANNED_IDENTIFIERS[name] : undefined;
    if (reason !== undefined) issues.push(violation(node, reason));
    else if (name.startsWith(RESERVED_PREFIX)) {
      issues.push(violation(node, `identifiers starting with ${RESERVED_PREFIX} are reserved by the sandbox`));
    }
  };

  const statements = { type: "Program", body, sourceType: "module", start: 0, end: 0 } as unknown as acorn.Program;
  walk.full(statements, (node) => {
    switch (node.type) {
      case "Identifier":
        checkName(node, (node as acorn.Identifier).name);
        break;
      case "CallExpression":
      case "NewExpression": {
        const generator = generatorNamed((node as acorn.CallExpression | acorn.NewExpression).callee);
        if (generator) issues.push(violation(generator, CODE_GENERATORS[generator.name]!));
        break;
      }
      case "ImportExpression":
        issues.push(violation(node, "dynamic import() is not allowed: the sandbox has no module system"));
        break;
      case "MetaProperty": {
        const meta = node as acorn.MetaProperty;
        if (meta.meta.name === "import") issues.push(violation(node, "import.meta is not allowed"));
        break;
      }
    }
  });
  // acorn-walk does not visit non-computed property keys as Identifiers, so `obj.process` and `{ eval: 1 }` stay
  // allowed; they name properties, not the host's globals.
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return issues;
}

/**
 * A non-entry file of a multi-file program (worker/execution/module-graph.ts): an ordinary ES module, so import and
 * export declarations are its own syntax; everything else is the entry's policy, dynamic import() included.
 */
export function analyzeModule(code: string): { ok: true; ast: acorn.Program } | { ok: false; issues: ValidationIssue[] } {
  let ast: acorn.Program;
  try {
    ast = acorn.parse(code, { ecmaVersion: "latest", sourceType: "module", allowHashBang: false, locations: true });
  } catch (error) {
    const loc = (error as SyntaxError & { loc?: { line: number; column: number } }).loc;
    const message = (error instanceof Error ? error.message : String(error)).replace(/ \(\d+:\d+\)$/, "");
    return { ok: false, issues: [{ code: "SYNTAX_ERROR", message, ...(loc ? { line: loc.line, column: loc.column + 1 } : {}) }] };
  }
  // violation() reports lines of the wrapped entry (its header is line 1); a module has no header.
  const issues = findPolicyViolations(ast.body as acorn.Statement[]).map((issue) =>
    issue.line === undefined ? issue : { ...issue, line: issue.line + 1 },
  );
  return issues.length > 0 ? { ok: false, issues } : { ok: true, ast };
}

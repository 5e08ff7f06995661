import * as acorn from "acorn";
import * as walk from "acorn-walk";
import type { ValidationIssue } from "../../schemas/result";

/** Prefix reserved for identifiers the instrumentation introduces. */
export const RESERVED_PREFIX = "__ce_";

/**
 * Names that reach the host or escape the sandbox's model. workerd refuses eval/new Function at run time anyway;
 * rejecting them up front gives a clear error with a position instead of a runtime failure.
 */
const BANNED_IDENTIFIERS: Readonly<Record<string, string>> = {
  require: "require() is not available: the sandbox has no module system",
  eval: "eval is not allowed",
  Function: "the Function constructor is not allowed",
  process: "process is not available: the sandbox has no Node.js built-ins",
  __dirname: "__dirname is not available: the sandbox has no file system",
  __filename: "__filename is not available: the sandbox has no file system",
};

export interface ParsedProgram {
  ast: acorn.Program;
}

export type AnalyzeOutcome = { ok: true; program: ParsedProgram } | { ok: false; issues: ValidationIssue[] };

/**
 * The user's code is parsed on its own, as a module body where top-level `return` is allowed. Module goal
 * matters: it is strict, and it has no HTML-like comments, so the parse sees exactly what the runtime will.
 * Whatever parses here cannot close the function it is later wrapped in.
 */
export function parseUserCode(code: string): acorn.Program {
  return acorn.parse(code, {
    ecmaVersion: "latest",
    sourceType: "module",
    allowReturnOutsideFunction: true,
    allowHashBang: false,
    locations: true,
  });
}

/** `parsed`, when given, must be parseUserCode(code): the TypeScript fast path has already parsed it. */
export function analyze(code: string, parsed?: acorn.Program): AnalyzeOutcome {
  let ast: acorn.Program;
  try {
    ast = parsed ?? parseUserCode(code);
  } catch (error) {
    return { ok: false, issues: [syntaxIssue(error)] };
  }
  const issues = findPolicyViolations(ast);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, program: { ast } };
}

function syntaxIssue(error: unknown): ValidationIssue {
  if (error instanceof SyntaxError && "loc" in error) {
    const loc = (error as SyntaxError & { loc?: { line: number; column: number } }).loc;
    // acorn appends " (line:col)" to its messages; the position is reported in its own fields.
    const message = error.message.replace(/ \(\d+:\d+\)$/, "");
    return { code: "SYNTAX_ERROR", message, ...(loc ? { line: loc.line, column: loc.column + 1 } : {}) };
  }
  return { code: "SYNTAX_ERROR", message: error instanceof Error ? error.message : String(error) };
}

function violation(node: acorn.Node, message: string): ValidationIssue {
  const start = node.loc?.start;
  return { code: "POLICY_VIOLATION", message, ...(start ? { line: start.line, column: start.column + 1 } : {}) };
}

function findPolicyViolations(ast: acorn.Program): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const checkName = (node: acorn.Node, name: string) => {
    const reason = Object.hasOwn(BANNED_IDENTIFIERS, name) ? BANNED_IDENTIFIERS[name] : undefined;
    if (reason !== undefined) issues.push(violation(node, reason));
    else if (name.startsWith(RESERVED_PREFIX)) {
      issues.push(violation(node, `identifiers starting with ${RESERVED_PREFIX} are reserved by the sandbox`));
    }
  };

  walk.full(ast, (node) => {
    switch (node.type) {
      case "Identifier":
        checkName(node, (node as acorn.Identifier).name);
        break;
      case "ImportDeclaration":
        issues.push(violation(node, "import declarations are not allowed: the sandbox has no module system"));
        break;
      case "ImportExpression":
        issues.push(violation(node, "dynamic import() is not allowed: the sandbox has no module system"));
        break;
      case "MetaProperty": {
        const meta = node as acorn.MetaProperty;
        if (meta.meta.name === "import") issues.push(violation(node, "import.meta is not allowed"));
        break;
      }
      case "ExportNamedDeclaration":
      case "ExportDefaultDeclaration":
      case "ExportAllDeclaration":
        issues.push(violation(node, "export is not allowed: return a value instead"));
        break;
    }
  });
  // acorn-walk does not visit non-computed property keys as Identifiers, so `obj.process` and `{ eval: 1 }` stay
  // allowed; they name properties, not the host's globals.
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return issues;
}

import * as acorn from "acorn";
import * as walk from "acorn-walk";
import MagicString from "magic-string";
import type { SourceMapInput, TraceMap } from "@jridgewell/trace-mapping";
import { RESERVED_PREFIX } from "./analyze";
import { originalPosition, traceMap, type SourcePosition } from "./source-map";

export interface InstrumentedProgram {
  /** The complete user.js module for the sandbox. */
  moduleCode: string;
  /** Maps a 1-based line/column in user.js back to the caller's source (1-based), when it can. */
  toSourcePosition(generated: SourcePosition): SourcePosition | undefined;
}

/** Unguessable per execution, so user code can neither call nor shadow the guard on purpose. */
export function newGuardName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return RESERVED_PREFIX + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

type LoopNode = acorn.WhileStatement | acorn.DoWhileStatement | acorn.ForStatement | acorn.ForInStatement | acorn.ForOfStatement;
type FunctionNode = acorn.FunctionDeclaration | acorn.FunctionExpression | acorn.ArrowFunctionExpression;
type ClassNode = acorn.ClassDeclaration | acorn.ClassExpression;

/**
 * Puts a guard check at every place where code starts running (the forms are listed in placeGuards), then wraps
 * the code as the body of `async function (context)` inside a factory that receives the guard (keep in sync with
 * sandbox-template/harness.js). Insertions never add newlines, so lines stay where the user wrote them.
 */
export function instrument(
  code: string,
  ast: acorn.Program,
  guardName: string,
  transpiledMap?: string,
): InstrumentedProgram {
  const s = new MagicString(code);
  placeGuards(s, code, ast, guardName);

  const header = `export default function (${guardName}) { return async function (context) {\n`;
  const footer = `\n}; }\n`;
  s.prepend(header);
  s.append(footer);
  const moduleCode = s.toString();
  assertWrapperIntact(moduleCode, header.length, footer.length);

  let traces: { instrumented: TraceMap; transpiled?: TraceMap } | undefined;
  return {
    moduleCode,
    toSourcePosition(generated) {
      // Built only when an error needs a position: most executions never pay for source maps.
      traces ??= {
        instrumented: traceMap(s.generateMap({ hires: true, source: "user" }) as unknown as SourceMapInput),
        ...(transpiledMap ? { transpiled: traceMap(transpiledMap) } : {}),
      };
      const inJs = originalPosition(traces.instrumented, generated);
      if (!inJs || !traces.transpiled) return inJs;
      return originalPosition(traces.transpiled, inJs);
    },
  };
}

/**
 * Every place where code starts running gets a check before it does anything else, so that no call, loop or
 * recursion can run without passing the guard: a function's parameters are evaluated before its body, class
 * field initialisers and static blocks run without any function body of their own, and a class's computed keys
 * and heritage run where the class is defined, which can be a parameter default.
 *
 * Exactly three forms are inserted, and nothing of the user's text is removed or moved, so deleting them gives
 * back the user's source (which is what Function.prototype.toString must show): `G();` right after an opening
 * `{`; `{G();` ... `}` around a loop body that is not a block; `(G(), ` ... `)` around an expression. No
 * parameter gains or loses a default, so Function.prototype.length and the simple/non-simple parameter-list
 * distinction are unchanged.
 */
function placeGuards(s: MagicString, code: string, ast: acorn.Program, guardName: string): void {
  const check = `${guardName}();`;
  // Openers attach to the text after their offset, closers to the text before it: an expression that ends where
  // another starts keeps its own parentheses. simple() visits children before parents, so at one offset inner
  // closers are appended first and outer openers are prepended last, which nests them correctly.
  const afterBrace = (braceAt: number) => s.prependRight(braceAt + 1, check);
  const wrapExpression = (node: acorn.Node) => {
    s.prependRight(node.start, `(${guardName}(), `);
    s.appendLeft(node.end, ")");
  };
  // Wrapping `a = function () {}` in a comma expression would lose the name it infers ("a"); creating a function
  // or class runs no code by itself (its computed keys, heritage and static parts are guarded on their own).
  const wrapUnlessAnonymousDefinition = (node: acorn.Expression) => {
    const anonymous =
      node.type === "ArrowFunctionExpression" ||
      ((node.type === "FunctionExpression" || node.type === "ClassExpression") && !node.id);
    if (!anonymous) wrapExpression(node);
  };
  const guardLoopBody = (body: acorn.Statement) => {
    if (body.type === "BlockStatement") {
      afterBrace(body.start);
    } else {
      s.prependRight(body.start, `{${check}`);
      s.appendLeft(body.end, "}");
    }
  };
  // Everything a parameter list evaluates before the body: defaults and computed keys, at any depth.
  const guardPattern = (pattern: acorn.Pattern | acorn.AssignmentProperty | acorn.RestElement | null): void => {
    if (!pattern) return;
    switch (pattern.type) {
      case "AssignmentPattern":
        guardPattern(pattern.left);
        wrapUnlessAnonymousDefinition(pattern.right);
        return;
      case "ArrayPattern":
        for (const element of pattern.elements) guardPattern(element);
        return;
      case "ObjectPattern":
        for (const property of pattern.properties) guardPattern(property);
        return;
      case "Property":
        if (pattern.computed) wrapExpression(pattern.key);
        guardPattern(pattern.value);
        return;
      case "RestElement":
        guardPattern(pattern.argument);
        return;
      default:
        return;
    }
  };
  const guardFunction = (fn: FunctionNode) => {
    for (const param of fn.params) guardPattern(param);
    if (fn.body.type === "BlockStatement") afterBrace(fn.body.start);
    else wrapExpression(fn.body);
  };

  walk.simple(ast, {
    WhileStatement: (node) => guardLoopBody((node as LoopNode).body),
    DoWhileStatement: (node) => guardLoopBody((node as LoopNode).body),
    ForStatement: (node) => guardLoopBody((node as LoopNode).body),
    ForInStatement: (node) => guardLoopBody((node as LoopNode).body),
    ForOfStatement: (node) => guardLoopBody((node as LoopNode).body),
    // Declarations, expressions, arrows, and every method, getter, setter and constructor (their values are
    // FunctionExpressions, which acorn-walk visits as "Function").
    Function: (node) => guardFunction(node as FunctionNode),
    Class: (node) => {
      const superClass = (node as ClassNode).superClass;
      if (superClass) wrapExpression(superClass);
    },
    MethodDefinition: (node) => {
      if (node.computed) wrapExpression(node.key);
    },
    PropertyDefinition: (node) => {
      if (node.computed) wrapExpression(node.key);
      if (node.value) wrapUnlessAnonymousDefinition(node.value);
    },
    StaticBlock: (node) => afterBrace(openingBraceOf(code, node)),
  });
}

/** acorn gives a static block no node for its braces: the `{` follows `static`, past whitespace and comments. */
function openingBraceOf(code: string, block: acorn.StaticBlock): number {
  let at = block.start + "static".length;
  for (;;) {
    const char = code[at];
    if (char === "{") return at;
    if (code.startsWith("//", at)) at = code.indexOf("\n", at);
    else if (code.startsWith("/*", at)) at = code.indexOf("*/", at) + 2;
    else if (char !== undefined && /\s/.test(char)) at++;
    else throw new Error(`no opening brace for the static block at ${block.start}`);
  }
}

export class WrapperBreakout extends Error {
  override readonly name = "WrapperBreakout";
}

/**
 * Defence in depth: the code already parsed as a standalone body, but the assembled module is parsed again and
 * must be exactly the wrapper, with the user's code entirely inside the inner function. Anything else is
 * refused before it reaches a loader.
 */
function assertWrapperIntact(moduleCode: string, headerLength: number, footerLength: number): void {
  let ast: acorn.Program;
  try {
    ast = acorn.parse(moduleCode, { ecmaVersion: "latest", sourceType: "module" });
  } catch {
    throw new WrapperBreakout("instrumented code does not parse");
  }
  const [only, ...rest] = ast.body;
  const factory = only?.type === "ExportDefaultDeclaration" ? only.declaration : undefined;
  const ret = factory?.type === "FunctionDeclaration" ? factory.body.body : undefined;
  const inner = ret?.length === 1 && ret[0]?.type === "ReturnStatement" ? ret[0].argument : undefined;
  const intact =
    rest.length === 0 &&
    inner?.type === "FunctionExpression" &&
    inner.async &&
    inner.body.start === headerLength - 2 &&
    inner.body.end === moduleCode.length - footerLength + 2;
  if (!intact) throw new WrapperBreakout("code escapes the function it runs in");
}

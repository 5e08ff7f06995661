import * as acorn from "acorn";
import * as walk from "acorn-walk";
import MagicString from "magic-string";
import type { SourceMapInput, TraceMap } from "@jridgewell/trace-mapping";
import {
  GUARD_NAME_OFFSET,
  GUARD_PLACEHOLDER,
  RESERVED_PREFIX,
  WRAPPER_FOOTER,
  WRAPPER_HEADER,
  WrapperBreakout,
  wrappedBody,
  type ParsedProgram,
} from "./analyze";
import { originalPosition, traceMap, type SourcePosition } from "./source-map";

export { WrapperBreakout } from "./analyze";

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

/**
 * The export that carries where the guard insertions are (keep in sync with sandbox-template/function-source.js):
 * a flat list of [start, length] pairs, in offsets of the factory's own source text (what
 * Function.prototype.toString gives for the default export), sorted and disjoint. Its name is reserved, so the
 * user's code cannot refer to it.
 */
export const INSERTIONS_EXPORT = `${RESERVED_PREFIX}insertions`;
/** The factory's source text starts at its `(`: `export default (` . */
const FACTORY_OFFSET = WRAPPER_HEADER.indexOf("(");

type LoopNode = acorn.WhileStatement | acorn.DoWhileStatement | acorn.ForStatement | acorn.ForInStatement | acorn.ForOfStatement;
type FunctionNode = acorn.FunctionDeclaration | acorn.FunctionExpression | acorn.ArrowFunctionExpression;
type ClassNode = acorn.ClassDeclaration | acorn.ClassExpression;

/**
 * Records how many characters each insertion adds at each offset of the original text, whichever MagicString
 * method the guard walk uses. At one offset all insertions end up adjacent (left-attached, then right-attached),
 * so one total per offset says exactly which characters of the output are not the user's.
 */
class InsertionRecorder extends MagicString {
  readonly insertedAt = new Map<number, number>();
  private record(index: number, content: string): void {
    this.insertedAt.set(index, (this.insertedAt.get(index) ?? 0) + content.length);
  }
  override appendLeft(index: number, content: string): this {
    this.record(index, content);
    return super.appendLeft(index, content) as this;
  }
  override appendRight(index: number, content: string): this {
    this.record(index, content);
    return super.appendRight(index, content) as this;
  }
  override prependLeft(index: number, content: string): this {
    this.record(index, content);
    return super.prependLeft(index, content) as this;
  }
  override prependRight(index: number, content: string): this {
    this.record(index, content);
    return super.prependRight(index, content) as this;
  }
  /** [start, length] pairs in output offsets, shifted by -origin. */
  table(origin: number): number[] {
    const pairs: number[] = [];
    let shift = 0;
    for (const [index, length] of [...this.insertedAt].sort((a, b) => a[0] - b[0])) {
      if (length === 0) continue;
      pairs.push(index + shift - origin, length);
      shift += length;
    }
    return pairs;
  }
}

/**
 * Puts a guard check at every place where code starts running (the forms are listed in placeGuards) in the
 * user's statements, in the very module analyze.ts parsed, `export default (guard, context) => async function () {\n<code>\n};` (keep in
 * sync with sandbox-template/harness.js, which calls it). The table of insertions is appended as a second
 * export for sandbox-template/function-source.js. Insertions never add newlines, so lines stay where the user
 * wrote them.
 */
export function instrument(
  code: string,
  program: ParsedProgram,
  guardName: string,
  transpiledMap?: string,
): InstrumentedProgram {
  const wrapped = WRAPPER_HEADER + code + WRAPPER_FOOTER;
  const s = new InsertionRecorder(wrapped);
  // Only the user's statements are walked: the wrapper's own functions get no guard.
  const ast = { type: "Program", body: program.body, sourceType: "module", start: 0, end: 0 } as unknown as acorn.Program;
  placeGuards(s, wrapped, ast, guardName);

  if (guardName.length !== GUARD_PLACEHOLDER.length) throw new Error("a guard name is as long as its placeholder");
  s.overwrite(GUARD_NAME_OFFSET, GUARD_NAME_OFFSET + guardName.length, guardName);
  const moduleCode = `${s.toString()}export const ${INSERTIONS_EXPORT} = ${JSON.stringify(s.table(FACTORY_OFFSET))};\n`;
  assertWrapperIntact(moduleCode, code.length + [...s.insertedAt.values()].reduce((a, b) => a + b, 0));

  let traces: { instrumented: TraceMap; transpiled?: TraceMap } | undefined;
  return {
    moduleCode,
    toSourcePosition(generated) {
      // Built only when an error needs a position: most executions never pay for source maps.
      traces ??= {
        instrumented: traceMap(s.generateMap({ hires: true, source: "user" }) as unknown as SourceMapInput),
        ...(transpiledMap ? { transpiled: traceMap(transpiledMap) } : {}),
      };
      const inWrapped = originalPosition(traces.instrumented, generated);
      // The map's source is the wrapped module: the header is line 1, the user's line N is its line N + 1.
      const inJs = inWrapped && inWrapped.line > 1 ? { line: inWrapped.line - 1, column: inWrapped.column } : undefined;
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

/**
 * Defence in depth: the code already parsed inside the wrapper, but the assembled module is parsed again and
 * must still be exactly the wrapper, with the instrumented code entirely inside the inner function. Anything else
 * is refused before it reaches a loader.
 */
function assertWrapperIntact(moduleCode: string, instrumentedCodeLength: number): void {
  let ast: acorn.Program;
  try {
    ast = acorn.parse(moduleCode, { ecmaVersion: "latest", sourceType: "module" });
  } catch {
    throw new WrapperBreakout("instrumented code does not parse");
  }
  wrappedBody(ast, instrumentedCodeLength);
  const [, table, ...rest] = ast.body;
  const declared = table?.type === "ExportNamedDeclaration" ? table.declaration : undefined;
  const intact =
    rest.length === 0 &&
    declared?.type === "VariableDeclaration" &&
    declared.declarations.length === 1 &&
    declared.declarations[0]?.id.type === "Identifier" &&
    declared.declarations[0].id.name === INSERTIONS_EXPORT &&
    declared.declarations[0].init?.type === "ArrayExpression";
  if (!intact) throw new WrapperBreakout("code escapes the function it runs in");
}

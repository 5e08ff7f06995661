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
 * Puts a guard check at the top of every loop body and every function body of the user's statements, in the
 * very module analyze.ts parsed, `export default (guard, context) => async function () {\n<code>\n};` (keep in
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
  const check = `${guardName}();`;

  const guardStatementBody = (body: acorn.Statement) => {
    if (body.type === "BlockStatement") {
      s.appendLeft(body.start + 1, check);
    } else {
      s.appendLeft(body.start, `{${check}`);
      s.appendLeft(body.end, "}");
    }
  };
  const guardFunctionBody = (fn: FunctionNode) => {
    const body = fn.body;
    if (body.type === "BlockStatement") {
      s.appendLeft(body.start + 1, check);
    } else {
      s.appendLeft(body.start, `(${guardName}(), `);
      s.appendLeft(body.end, ")");
    }
  };

  // simple() visits children before parents, so closing insertions that share an offset nest correctly.
  walk.simple(ast, {
    WhileStatement: (node) => guardStatementBody((node as LoopNode).body),
    DoWhileStatement: (node) => guardStatementBody((node as LoopNode).body),
    ForStatement: (node) => guardStatementBody((node as LoopNode).body),
    ForInStatement: (node) => guardStatementBody((node as LoopNode).body),
    ForOfStatement: (node) => guardStatementBody((node as LoopNode).body),
    Function: (node) => guardFunctionBody(node as FunctionNode),
  });

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

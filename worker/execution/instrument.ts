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

/**
 * Puts a guard check at the top of every loop body and every function body, then wraps the code as the body of
 * `async function (context)` inside a factory that receives the guard (keep in sync with
 * sandbox-template/harness.js). Insertions never add newlines, so lines stay where the user wrote them.
 */
export function instrument(
  code: string,
  ast: acorn.Program,
  guardName: string,
  transpiledMap?: string,
): InstrumentedProgram {
  const s = new MagicString(code);
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

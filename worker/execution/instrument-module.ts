import * as acorn from "acorn";
import * as walk from "acorn-walk";
import MagicString from "magic-string";

// Guards for ordinary ES modules: a multi-file program's non-entry files (module-graph.ts) and, at build time,
// the package bundles (scripts/build-packages.mjs bundles this file for Node, so it imports nothing of the
// Worker's). The placement is instrument.ts's for the entry, keep in sync: a check at the top of every loop body
// and every function body, inserted without newlines. The guard comes from sandbox-template/module-guard.js
// through an import, not a global, so nothing else in the realm can reach or replace it.

/** The guard's local name in package bundles: they are the operator's code, so a fixed reserved name does. */
export const PACKAGE_GUARD_NAME = "__ce_package_guard";

type LoopNode = acorn.WhileStatement | acorn.DoWhileStatement | acorn.ForStatement | acorn.ForInStatement | acorn.ForOfStatement;
type FunctionNode = acorn.FunctionDeclaration | acorn.FunctionExpression | acorn.ArrowFunctionExpression;

/** Places the checks in `s` (a MagicString over the module's JavaScript, whose tree is `ast`). */
export function placeModuleGuards(s: MagicString, ast: acorn.Program, guardName: string): void {
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
}

/** The import that binds the guard, on the module's first line (the module's own lines do not move). */
export function guardImport(guardName: string, guardSpecifier: string): string {
  return `import { guard as ${guardName} } from ${JSON.stringify(guardSpecifier)}; `;
}

/** A bundled package, guarded (build time). */
export function instrumentPackageBundle(code: string, guardSpecifier: string): string {
  const ast = acorn.parse(code, { ecmaVersion: "latest", sourceType: "module" });
  const s = new MagicString(code);
  placeModuleGuards(s, ast, PACKAGE_GUARD_NAME);
  s.prepend(guardImport(PACKAGE_GUARD_NAME, guardSpecifier));
  return s.toString();
}

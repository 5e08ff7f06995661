import * as acorn from "acorn";
import { tsPlugin } from "@sveltejs/acorn-typescript";
import { parseUserCode, wrappedBody } from "./analyze";

/**
 * The fast path for TypeScript: erase type-only syntax by overwriting it with spaces (as Node's strip-types and
 * ts-blank-space do), in pure JavaScript, so it costs about a millisecond and never touches WebAssembly.
 *
 * It is only an optimisation, and it proves each answer before giving it: the stripped code is parsed again as
 * JavaScript, and that tree must equal the TypeScript tree with its types erased, node for node. Anything the
 * proof does not cover (enum, namespace, parameter properties, decorators, `this` parameters, import/export,
 * an ASI hazard that blanking would create, a parse error) returns undefined and esbuild handles it. Blanking keeps
 * every line and column where the caller wrote it.
 */
/**
 * What the fast path hands on: the JavaScript and its already-parsed tree (analyze.ts would parse the very same
 * text with the very same function). No source map: blanking moves nothing, so positions are the caller's.
 */
export interface StrippedProgram {
  code: string;
  ast: acorn.Program;
}

/**
 * The TypeScript parser ran out of stack: esbuild's parser recurses the same way (and stops its service for
 * every later caller when it overflows), so it must not see the code, and analyze.ts could not parse it anyway.
 */
export class NestedTooDeeply extends Error {
  override readonly name = "NestedTooDeeply";
}

/** undefined: esbuild decides (a parse error, or syntax the proof does not cover). Throws NestedTooDeeply. */
export function stripTypes(source: string): StrippedProgram | undefined {
  try {
    return stripAndProve(source);
  } catch (error) {
    if (error instanceof RangeError || (error instanceof SyntaxError && /stack space/.test(error.message))) {
      throw new NestedTooDeeply("The code is nested too deeply to transpile");
    }
    return undefined;
  }
}

function stripAndProve(source: string): StrippedProgram | undefined {
  const tsAst = TypeScriptParser.parse(source, TS_PARSE_OPTIONS) as unknown as Node;
  if (!(tsAst.body as Node[]).every(isPlainStatement)) return undefined;

  const found: [number, number][] = [];
  collectTypeRanges(source, tsAst, found);
  const ranges = merge(found);
  const blanked = blank(source, ranges);

  // The TypeScript is parsed as a module top level (where `import type` can be), the JavaScript where it runs, as
  // the body of the wrapper's function: their statements must match. A program only a function body allows
  // (`new.target`, a repeated `function f`) fails the first parse and goes to esbuild.
  const jsAst = parseUserCode(blanked);
  if (!sameAfterErasure(tsAst.body, wrappedBody(jsAst, blanked.length))) return undefined;
  return { code: blanked, ast: jsAst };
}

type Node = { type: string; start: number; end: number; [key: string]: unknown };

const TypeScriptParser = acorn.Parser.extend(tsPlugin());

// The same goal and options as the JavaScript parse in analyze.ts, so both trees come from the same grammar.
const TS_PARSE_OPTIONS: acorn.Options = {
  ecmaVersion: "latest",
  sourceType: "module",
  allowReturnOutsideFunction: true,
  allowHashBang: false,
  // acorn-typescript refuses to run without locations.
  locations: true,
};

const isNode = (value: unknown): value is Node =>
  typeof value === "object" && value !== null && typeof (value as Node).type === "string";

/**
 * esbuild elides unused imports in TypeScript; leaving module syntax to esbuild keeps both paths identical.
 * Type-only imports and exports are the exception: they are erased whatever is used, so blanking is exact.
 */
const isPlainStatement = (node: Node) =>
  isTypeOnlyStatement(node) || !/^(Import|Export|TSImportEquals|TSExportAssignment|TSNamespaceExport)/.test(node.type);

/**
 * Statements with no runtime meaning: erasing them is the whole of their semantics. `import type …`,
 * `export type …` and `export interface …` included: they name types only (the sandbox has no modules to load
 * them from, and needs none).
 */
function isTypeOnlyStatement(node: Node): boolean {
  return (
    node.type === "TSInterfaceDeclaration" ||
    node.type === "TSTypeAliasDeclaration" ||
    node.type === "TSDeclareFunction" ||
    node.declare === true ||
    (node.type === "ImportDeclaration" && node.importKind === "type") ||
    (node.type === "ExportNamedDeclaration" &&
      (node.exportKind === "type" || (isNode(node.declaration) && isTypeOnlyStatement(node.declaration))))
  );
}

/** Class members with no runtime meaning: overload and abstract signatures, index signatures, `declare` fields. */
function isTypeOnlyMember(node: Node): boolean {
  return (
    node.type === "TSIndexSignature" ||
    node.type === "TSDeclareMethod" ||
    node.declare === true ||
    node.abstract === true ||
    (isNode(node.value) && node.value.type === "TSDeclareMethod")
  );
}

/** Expressions whose runtime value is their operand's. */
const TRANSPARENT_EXPRESSIONS = new Set([
  "TSAsExpression",
  "TSSatisfiesExpression",
  "TSNonNullExpression",
  "TSTypeAssertion",
  "TSInstantiationExpression",
]);

/** Whole subtrees that are types. */
const TYPE_NODES = new Set(["TSTypeAnnotation", "TSTypeParameterDeclaration", "TSTypeParameterInstantiation"]);

const MEMBER_MODIFIERS = /\b(?:public|private|protected|readonly|override)\b/g;

/**
 * Where the type syntax is. Mistakes here cannot change a program's meaning: whatever blanking produces must pass
 * sameAfterErasure, or the source goes to esbuild.
 */
function collectTypeRanges(source: string, node: Node, ranges: [number, number][]): void {
  if (TYPE_NODES.has(node.type)) {
    ranges.push([node.start, node.end]);
    return;
  }
  if (TRANSPARENT_EXPRESSIONS.has(node.type)) {
    const operand = node.expression as Node;
    const type = (node.typeAnnotation ?? node.typeArguments) as Node;
    if (node.type === "TSAsExpression" || node.type === "TSSatisfiesExpression") {
      const keyword = node.type === "TSAsExpression" ? "as" : "satisfies";
      ranges.push([source.lastIndexOf(keyword, type.start - keyword.length), node.end]);
    } else if (node.type === "TSNonNullExpression") {
      ranges.push([node.end - 1, node.end]);
    } else if (node.type === "TSTypeAssertion") {
      ranges.push([node.start, source.indexOf(">", type.end) + 1]);
    } else {
      ranges.push([type.start, type.end]);
    }
    collectTypeRanges(source, operand, ranges);
    return;
  }
  // Any other TypeScript node has runtime meaning (enum, namespace, parameter property...): left in place, it
  // fails the proof and the source goes to esbuild.
  if (node.type.startsWith("TS")) return;

  switch (node.type) {
    case "ClassDeclaration":
    case "ClassExpression": {
      const implemented = node.implements as Node[] | undefined;
      if (implemented?.length) {
        ranges.push([source.lastIndexOf("implements", implemented[0]!.start), implemented.at(-1)!.end]);
      }
      if (node.abstract === true) ranges.push(wordAt(source, "abstract", node.start, (node.body as Node).start));
      break;
    }
    case "PropertyDefinition":
    case "MethodDefinition": {
      const key = node.key as Node;
      for (const match of source.slice(node.start, key.start).matchAll(MEMBER_MODIFIERS)) {
        ranges.push([node.start + match.index, node.start + match.index + match[0].length]);
      }
      if (node.optional === true) ranges.push(charAfter(source, "?", key.end));
      if (node.definite === true) ranges.push(charAfter(source, "!", key.end));
      break;
    }
    case "Identifier":
      if (node.optional === true) ranges.push(charAfter(source, "?", node.start));
      break;
    case "VariableDeclarator":
      if (node.definite === true) ranges.push(charAfter(source, "!", (node.id as Node).start));
      break;
  }

  for (const key in node) {
    if (key === "loc") continue;
    const value = node[key];
    if (Array.isArray(value)) {
      for (const child of value) {
        if (!isNode(child)) continue;
        if (isErased(child, node.type === "ClassBody")) ranges.push([child.start, child.end]);
        else collectTypeRanges(source, child, ranges);
      }
    } else if (isNode(value)) {
      collectTypeRanges(source, value, ranges);
    }
  }
}

const isErased = (node: Node, inClassBody: boolean) => (inClassBody ? isTypeOnlyMember(node) : isTypeOnlyStatement(node));

function wordAt(source: string, word: string, from: number, to: number): [number, number] {
  const at = source.indexOf(word, from);
  return at >= 0 && at < to ? [at, at + word.length] : [0, 0];
}

function charAfter(source: string, char: string, from: number): [number, number] {
  const at = source.indexOf(char, from);
  return at >= 0 ? [at, at + 1] : [0, 0];
}

/** Sorted, without empty or overlapping ranges, as blank() needs. */
function merge(ranges: [number, number][]): [number, number][] {
  const merged: [number, number][] = [];
  for (const [start, end] of ranges.filter(([a, b]) => a >= 0 && b > a).sort((a, b) => a[0] - b[0])) {
    const last = merged.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/** Spaces over every (sorted, disjoint) range, line terminators kept, so positions do not move. */
function blank(source: string, ranges: [number, number][]): string {
  let out = "";
  let from = 0;
  for (const [start, end] of ranges) {
    out += source.slice(from, start) + source.slice(start, end).replace(/[^\n\r\u2028\u2029]/g, " ");
    from = end;
  }
  return out + source.slice(from);
}

/** Keys the TypeScript tree may carry and the JavaScript tree lacks, none of which has runtime meaning. */
const TYPE_ONLY_KEYS = new Set([
  "typeAnnotation",
  "typeParameters",
  "typeArguments",
  "returnType",
  "implements",
  "superTypeParameters",
  "superTypeArguments",
  "accessibility",
  "readonly",
  "override",
  "definite",
  "optional",
  "abstract",
  "predicate",
]);

const POSITION_KEYS = new Set(["start", "end", "loc", "range"]);

/**
 * The proof: the JavaScript tree equals the TypeScript tree after erasure (type-only statements and members
 * dropped, `x as T`, `x!`, `<T>x`, `x satisfies T` and `f<T>` reduced to their operand, type-only keys ignored).
 * Every other key, node type, name, operator and literal must match exactly.
 */
function sameAfterErasure(ts: unknown, js: unknown, inClassBody = false): boolean {
  if (Array.isArray(ts)) {
    if (!Array.isArray(js)) return false;
    const kept = ts.filter((item) => !(isNode(item) && (isErased(item, inClassBody) || item.type === "EmptyStatement")));
    const jsKept = js.filter((item) => !(isNode(item) && item.type === "EmptyStatement"));
    return kept.length === jsKept.length && kept.every((item, i) => sameAfterErasure(item, jsKept[i]));
  }
  if (isNode(ts)) {
    let node: Node = ts;
    while (TRANSPARENT_EXPRESSIONS.has(node.type)) node = node.expression as Node;
    if (!isNode(js) || node.type !== js.type) return false;
    for (const key in node) {
      if (POSITION_KEYS.has(key)) continue;
      if (key in js) {
        if (!sameAfterErasure(node[key], js[key], node.type === "ClassBody")) return false;
      } else if (!TYPE_ONLY_KEYS.has(key) && !isAbsent(node[key])) {
        return false;
      }
    }
    // acorn-typescript omits some keys that acorn sets to their default (CallExpression.optional: false).
    for (const key in js) if (!POSITION_KEYS.has(key) && !(key in node) && !isAbsent(js[key])) return false;
    return true;
  }
  if (typeof ts === "object" && ts !== null) {
    // Literal.regex ({ pattern, flags }) and the like; a RegExp value has no own keys and is covered by regex.
    if (typeof js !== "object" || js === null) return false;
    const keys = Object.keys(ts);
    return keys.length === Object.keys(js).length && keys.every((key) => sameAfterErasure((ts as never)[key], (js as never)[key]));
  }
  return ts === js;
}

const isAbsent = (value: unknown) =>
  value === undefined || value === null || value === false || (Array.isArray(value) && value.length === 0);

/**
 * For the esbuild tier: `import type …` and `export type …` blanked, when the source parses as TypeScript, so that
 * esbuild does not read the code as a module (where top-level `return` is an error). Anything else is left to
 * esbuild as it is.
 */
export function eraseTypeOnlyModuleSyntax(source: string): string {
  if (!/\b(?:import|export)\b/.test(source)) return source;
  let tsAst: Node;
  try {
    tsAst = TypeScriptParser.parse(source, TS_PARSE_OPTIONS) as unknown as Node;
  } catch {
    return source;
  }
  const ranges = (tsAst.body as Node[])
    .filter((node) => /^(Import|Export)/.test(node.type) && isTypeOnlyStatement(node))
    .map((node): [number, number] => [node.start, node.end]);
  return ranges.length > 0 ? blank(source, ranges) : source;
}

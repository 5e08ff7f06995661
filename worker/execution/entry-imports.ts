import * as acorn from "acorn";
import { tsPlugin } from "@sveltejs/acorn-typescript";

// The entry of a multi-file program is an async function body (top-level return and await), which no module
// grammar allows together with `import`. So its import declarations are lifted out before anything else sees the
// code: each is overwritten with spaces (newlines kept, so every position stays where the caller wrote it), and
// re-emitted at the top of user.js, outside the function, with the specifier the parent resolved.

export interface EntryImport {
  specifier: string;
  /** The import clause as written in JavaScript (`{ a as b }`, `* as ns`, `x, { y }`), or "" for `import "x"`. */
  clause: string;
  /** Offset in the entry's source, for error positions. */
  start: number;
}

export interface LiftedEntry {
  /** The entry without its import declarations, same length and lines. */
  body: string;
  imports: EntryImport[];
}

const TypeScriptParser = acorn.Parser.extend(tsPlugin());

const PARSE_OPTIONS: acorn.Options = {
  ecmaVersion: "latest",
  sourceType: "module",
  allowReturnOutsideFunction: true,
  allowHashBang: false,
  locations: true,
};

type Node = { type: string; start: number; end: number; [key: string]: unknown };

/**
 * The entry's top-level imports, lifted. Code that does not parse is returned unchanged: the regular pipeline then
 * reports its syntax error with its own message and position.
 */
export function liftEntryImports(source: string, typescript: boolean): LiftedEntry {
  if (!/\bimport\b/.test(source)) return { body: source, imports: [] };
  let ast: Node;
  try {
    ast = (typescript ? TypeScriptParser : acorn.Parser).parse(source, PARSE_OPTIONS) as unknown as Node;
  } catch {
    return { body: source, imports: [] };
  }
  const imports: EntryImport[] = [];
  const ranges: [number, number][] = [];
  for (const statement of ast.body as Node[]) {
    if (statement.type !== "ImportDeclaration") continue;
    ranges.push([statement.start, statement.end]);
    // `import type { T } from "x"`: nothing at run time.
    if (statement.importKind === "type") continue;
    const clause = importClause(statement.specifiers as Node[]);
    // `import { type A } from "x"` keeps nothing but is still evaluated in TypeScript only if it has values.
    if (clause === undefined) continue;
    imports.push({ specifier: String((statement.source as Node).value), clause, start: statement.start });
  }
  return { body: blank(source, ranges), imports };
}

/** The clause in plain JavaScript; undefined when every specifier was a type. */
function importClause(specifiers: Node[]): string | undefined {
  if (specifiers.length === 0) return "";
  let defaultName: string | undefined;
  let namespace: string | undefined;
  const named: string[] = [];
  for (const specifier of specifiers) {
    const local = (specifier.local as Node).name as string;
    if (specifier.type === "ImportDefaultSpecifier") defaultName = local;
    else if (specifier.type === "ImportNamespaceSpecifier") namespace = local;
    else if (specifier.importKind !== "type") {
      const imported = specifier.imported as Node;
      const name = imported.type === "Literal" ? JSON.stringify(imported.value) : (imported.name as string);
      named.push(name === local ? local : `${name} as ${local}`);
    }
  }
  const parts: string[] = [];
  if (defaultName !== undefined) parts.push(defaultName);
  if (namespace !== undefined) parts.push(`* as ${namespace}`);
  if (named.length > 0) parts.push(`{ ${named.join(", ")} }`);
  return parts.length === 0 ? undefined : parts.join(", ");
}

function blank(source: string, ranges: [number, number][]): string {
  let out = "";
  let at = 0;
  for (const [start, end] of ranges) {
    out += source.slice(at, start) + source.slice(start, end).replace(/[^\n\r\u2028\u2029]/g, " ");
    at = end;
  }
  return out + source.slice(at);
}

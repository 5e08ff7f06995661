import * as acorn from "acorn";
import { tsPlugin } from "@sveltejs/acorn-typescript";

// The entry of a multi-file program is an async function body (top-level return and await), which no module
// grammar allows together with `import`. So its import declarations are lifted out before anything else sees the
// code: each is overwritten with spaces (newlines kept, so every position stays where the caller wrote it), and
// re-emitted at the top of user.js, outside the function, with the specifier the parent resolved.

export interface EntryImport {
  specifier: string;
  defaultName?: string;
  namespace?: string;
  /** `{ imported as local }`; `imported` already written as JavaScript (a name or a string literal). */
  named: { imported: string; local: string }[];
  /** `import "x"`: evaluated for its effects only. */
  bare: boolean;
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
    const specifiers = statement.specifiers as Node[];
    const parsed: EntryImport = { specifier: String((statement.source as Node).value), named: [], bare: specifiers.length === 0, start: statement.start };
    for (const specifier of specifiers) {
      const local = (specifier.local as Node).name as string;
      if (specifier.type === "ImportDefaultSpecifier") parsed.defaultName = local;
      else if (specifier.type === "ImportNamespaceSpecifier") parsed.namespace = local;
      else if (specifier.importKind !== "type") {
        const imported = specifier.imported as Node;
        parsed.named.push({ imported: imported.type === "Literal" ? JSON.stringify(imported.value) : (imported.name as string), local });
      }
    }
    // `import { type A } from "x"`: only types, nothing at run time (TypeScript elides it too).
    if (!parsed.bare && parsed.defaultName === undefined && parsed.namespace === undefined && parsed.named.length === 0) continue;
    imports.push(parsed);
  }
  return { body: blank(source, ranges), imports };
}

/**
 * The declaration in plain JavaScript, importing `target`. With `used` (a TypeScript entry), bindings the
 * transpiled code never mentions are left out, as TypeScript elides imports used only as types: importing an
 * interface by name would fail to link at run time. Undefined when nothing is left to import.
 */
export function importStatement(entryImport: EntryImport, target: string, used?: ReadonlySet<string>): string | undefined {
  const from = JSON.stringify(target);
  if (entryImport.bare) return `import ${from}; `;
  const keep = (local: string) => used === undefined || used.has(local);
  const parts: string[] = [];
  if (entryImport.defaultName !== undefined && keep(entryImport.defaultName)) parts.push(entryImport.defaultName);
  if (entryImport.namespace !== undefined && keep(entryImport.namespace)) parts.push(`* as ${entryImport.namespace}`);
  const named = entryImport.named.filter(({ local }) => keep(local));
  if (named.length > 0) parts.push(`{ ${named.map(({ imported, local }) => (imported === local ? local : `${imported} as ${local}`)).join(", ")} }`);
  return parts.length === 0 ? undefined : `import ${parts.join(", ")} from ${from}; `;
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

import type { StateEntry } from "../../schemas/session";
import type { CheckedState } from "./state-blob";

/**
 * One persisted top-level name of a session. The record is the session's, built by the front from the code
 * callers sent: a value's data is in the state blob, a function's or class's source is here.
 */
export interface Declaration {
  name: string;
  kind: "value" | "function" | "class";
  declaredAs: "var" | "let" | "const" | "function" | "class";
  /** Functions and classes: their declaration as JavaScript (TypeScript cells: after transpiling). */
  source?: string;
  /** The cell that declared it. */
  cell: number;
}

/**
 * The record after a successful cell: what it declared replaces earlier declarations of the same names (and
 * moves to the end, so sources are declared again in the order they were last defined), and a value name the
 * child did not carry leaves the record, named in a warning.
 */
export function commitDeclarations(
  persisted: readonly Declaration[],
  declared: readonly Declaration[],
  state: CheckedState,
): { declarations: Declaration[]; warnings: string[] } {
  const byName = new Map<string, Declaration>();
  for (const d of persisted) byName.set(d.name, d);
  for (const d of declared) {
    byName.delete(d.name);
    byName.set(d.name, d);
  }
  const warnings: string[] = [];
  const reasons = new Map(state.warnings);
  for (const [name, d] of byName) {
    if (d.kind !== "value" || state.sizes.has(name)) continue;
    byName.delete(name);
    warnings.push(`Session state: ${name} was not kept: ${reasons.get(name) ?? "its value was not reported"}.`);
  }
  return { declarations: [...byName.values()], warnings };
}

export function stateEntries(declarations: readonly Declaration[], sizes: ReadonlyMap<string, number>): StateEntry[] {
  return declarations.map((d) => ({
    name: d.name,
    kind: d.kind,
    declaredAs: d.declaredAs,
    sizeBytes: d.kind === "value" ? (sizes.get(d.name) ?? 0) : new TextEncoder().encode(d.source ?? "").byteLength,
    cell: d.cell,
  }));
}

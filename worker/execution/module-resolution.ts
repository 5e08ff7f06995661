import { fileKind } from "../../schemas/files";
import { isPackageInSet, PACKAGE_SET_FILE } from "./package-set";

// How an import in a multi-file program is resolved. The parent resolves every specifier itself and rewrites it
// to the module it chose, so the child's module names (and the harness's own modules) are never reachable by a
// name the user wrote. Paths were checked at the edge (schemas/files.ts): plain segments, no `..`, no URLs.

/** Module names in the child: user files under src/, package bundles under packages/. */
export const USER_FILES_DIR = "src";
export const PACKAGES_DIR = "packages";

export type Resolution =
  | { kind: "file"; path: string }
  | { kind: "package"; name: string }
  | { kind: "refused"; message: string };

/** What an extensionless or TypeScript-style specifier may mean, in order (the way TypeScript's bundler mode reads it). */
const SUFFIXES = [".ts", ".js", ".mts", ".mjs", ".json", "/index.ts", "/index.js"];
const JS_TO_TS: Readonly<Record<string, string>> = { ".js": ".ts", ".mjs": ".mts" };

const BARE_PACKAGE = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

export function childModuleName(path: string): string {
  return `${USER_FILES_DIR}/${path}`;
}

export function packageModuleName(name: string): string {
  return `${PACKAGES_DIR}/${name}.js`;
}

/**
 * `specifier` as imported by the file `importer`. `entry` cannot be imported: it is the program's body (an async
 * function), not a module.
 */
export function resolveImport(specifier: string, importer: string, files: ReadonlyMap<string, string>, entry: string): Resolution {
  const shown = JSON.stringify(specifier.length > 100 ? `${specifier.slice(0, 100)}…` : specifier);
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    const joined = joinPath(dirname(importer), specifier);
    if (joined === undefined) return { kind: "refused", message: `import ${shown} in ${importer} leads outside the program's files` };
    const path = findFile(joined, files);
    if (path === undefined) {
      return { kind: "refused", message: `import ${shown} in ${importer}: no such file among files (${[...files.keys()].slice(0, 10).join(", ")})` };
    }
    if (path === entry) {
      return { kind: "refused", message: `import ${shown} in ${importer}: the entry file ${entry} is the program's body and cannot be imported` };
    }
    return { kind: "file", path };
  }
  if (specifier.startsWith("/") || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(specifier)) {
    return { kind: "refused", message: `import ${shown} in ${importer}: only relative imports (./x) and packages of the set can be imported` };
  }
  const name = packageNameOf(specifier);
  if (name === undefined) return { kind: "refused", message: `import ${shown} in ${importer} is not a relative path or a package name` };
  if (!isPackageInSet(name)) {
    return {
      kind: "refused",
      message: `package ${JSON.stringify(name)} (imported in ${importer}) is not in this deployment's package set; the operator configures it in ${PACKAGE_SET_FILE} (GET /packages lists it)`,
    };
  }
  if (name !== specifier) {
    return { kind: "refused", message: `import ${shown} in ${importer}: packages are bundled whole; import from ${JSON.stringify(name)} instead of a subpath` };
  }
  return { kind: "package", name };
}

/** The package a bare specifier names (`@scope/pkg/sub` -> `@scope/pkg`), or undefined if it cannot be one. */
function packageNameOf(specifier: string): string | undefined {
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  return name !== undefined && BARE_PACKAGE.test(name) ? name : undefined;
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/** `relative` against the directory `base`, or undefined when it climbs above the root. */
function joinPath(base: string, relative: string): string | undefined {
  const out = base === "" ? [] : base.split("/");
  for (const part of relative.split("/")) {
    if (part === "." || part === "") continue;
    if (part === "..") {
      if (out.length === 0) return undefined;
      out.pop();
    } else {
      out.push(part);
    }
  }
  return out.join("/");
}

function findFile(path: string, files: ReadonlyMap<string, string>): string | undefined {
  if (files.has(path) && fileKind(path) !== undefined) return path;
  for (const suffix of SUFFIXES) if (files.has(path + suffix)) return path + suffix;
  const dot = path.lastIndexOf(".");
  const swapped = dot < 0 ? undefined : JS_TO_TS[path.slice(dot)];
  if (swapped !== undefined && files.has(path.slice(0, dot) + swapped)) return path.slice(0, dot) + swapped;
  return undefined;
}

/** The specifier that imports the module `to` from the module `from` (both child module names). */
export function relativeSpecifier(from: string, to: string): string {
  const fromParts = from.split("/").slice(0, -1);
  const toParts = to.split("/");
  let common = 0;
  while (common < fromParts.length && common < toParts.length - 1 && fromParts[common] === toParts[common]) common++;
  const up = fromParts.length - common;
  const rest = toParts.slice(common).join("/");
  return up === 0 ? `./${rest}` : `${"../".repeat(up)}${rest}`;
}

import * as v from "valibot";
import { isPlainObject } from "./plain-object";
import { MAX_CODE_BYTES, MAX_FILE_PATH_CHARS, MAX_FILE_PATH_SEGMENTS, MAX_FILES } from "./limits";

// A multi-file program: `files` maps paths to sources. Paths are checked here, once, so everything after the edge
// can treat a path as a plain name inside one flat root (worker/execution/module-graph.ts resolves imports in it).

/** Extensions a file may have, and what each is. Python files join when Python does. */
export const FILE_KINDS = { ".js": "javascript", ".mjs": "javascript", ".ts": "typescript", ".mts": "typescript", ".json": "json" } as const;
export type FileKind = (typeof FILE_KINDS)[keyof typeof FILE_KINDS];

/** The entry file when the request names none: main.<ext> of the request's language. */
export const DEFAULT_ENTRY = { javascript: "main.js", typescript: "main.ts" } as const;

/**
 * One path segment: starts with a letter, digit or underscore (so no `.`, `..`, hidden files or empty segments),
 * then letters, digits, `_`, `-`, `.`. This also rules out absolute paths, backslashes, `:` (URLs, drive letters),
 * `?`, `#`, `%` escapes and whitespace, because none of them can appear.
 */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function fileKind(path: string): FileKind | undefined {
  const dot = path.lastIndexOf(".");
  const extension = dot < 0 ? "" : path.slice(dot);
  return Object.hasOwn(FILE_KINDS, extension) ? FILE_KINDS[extension as keyof typeof FILE_KINDS] : undefined;
}

/** Why `path` is not an acceptable file name, or undefined. */
export function pathProblem(path: string): string | undefined {
  const shown = JSON.stringify(path.length > 80 ? `${path.slice(0, 80)}…` : path);
  if (path.length === 0) return "file paths must not be empty";
  if (path.length > MAX_FILE_PATH_CHARS) return `file path ${shown} is longer than ${MAX_FILE_PATH_CHARS} characters`;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path)) return `file path ${shown} is a URL; files are named by relative paths like lib/util.ts`;
  if (path.startsWith("/") || path.startsWith("\\")) return `file path ${shown} is absolute; use a relative path like lib/util.ts`;
  const segments = path.split("/");
  if (segments.some((segment) => segment === "..")) return `file path ${shown} contains ..; every file lives inside the program's root`;
  if (segments.length > MAX_FILE_PATH_SEGMENTS) return `file path ${shown} is nested deeper than ${MAX_FILE_PATH_SEGMENTS} levels`;
  const bad = segments.find((segment) => !SEGMENT.test(segment));
  if (bad !== undefined) {
    return `file path ${shown}: each part must start with a letter, digit or _ and contain only letters, digits, _, - and . (got ${JSON.stringify(bad)})`;
  }
  if (fileKind(path) === undefined) return `file path ${shown} needs one of the extensions ${Object.keys(FILE_KINDS).join(", ")}`;
  return undefined;
}

/** Why `files` is not an acceptable program, or undefined. Own keys only: JSON.parse keeps `__proto__` as one. */
export function filesProblem(files: Record<string, unknown>): string | undefined {
  const entries = Object.entries(files);
  if (entries.length === 0) return "files must contain at least one file";
  if (entries.length > MAX_FILES) return `files may hold at most ${MAX_FILES} files (got ${entries.length})`;
  for (const [path, source] of entries) {
    const problem = pathProblem(path);
    if (problem !== undefined) return problem;
    if (typeof source !== "string") return `files[${JSON.stringify(path)}] must be a string (the file's source)`;
  }
  return undefined;
}

/** The size rule on its own, so the edge can answer it with 413 like an oversized `code` (worker/parse.ts). */
export function filesWithinSize(files: Record<string, string>): boolean {
  return filesBytes(files) <= MAX_CODE_BYTES;
}

function filesBytes(files: Record<string, string>): number {
  const encoder = new TextEncoder();
  let totalBytes = 0;
  for (const source of Object.values(files)) totalBytes += encoder.encode(source).byteLength;
  return totalBytes;
}

/** The entry of a files request: as given, else main.<ext> of the language, else the other main file present. */
export function entryOf(files: Record<string, string>, entry: string | undefined, language: string): string {
  if (entry !== undefined) return entry;
  const preferred = Object.hasOwn(DEFAULT_ENTRY, language) ? DEFAULT_ENTRY[language as keyof typeof DEFAULT_ENTRY] : DEFAULT_ENTRY.javascript;
  if (Object.hasOwn(files, preferred)) return preferred;
  return Object.values(DEFAULT_ENTRY).find((name) => Object.hasOwn(files, name)) ?? preferred;
}

export function entryProblem(files: Record<string, string>, entry: string | undefined, language: string): string | undefined {
  const name = entryOf(files, entry, language);
  if (!Object.hasOwn(files, name)) {
    return entry === undefined
      ? `files has no ${Object.values(DEFAULT_ENTRY).join(" or ")}: name the entry file with entry`
      : `entry ${JSON.stringify(entry)} is not among files`;
  }
  const kind = fileKind(name);
  if (kind !== "javascript" && kind !== "typescript") return `entry ${JSON.stringify(name)} must be a JavaScript or TypeScript file`;
  return undefined;
}

/** A plain JSON object; its own type check, so no key is dropped (see ContextObjectSchema in execute.ts). */
export const FilesObjectSchema = v.custom<Record<string, string>>(isPlainObject, 'files must be a JSON object of path -> source, like { "main.ts": "...", "lib/util.ts": "..." }');

export const FilesSchema = v.pipe(
  FilesObjectSchema,
  v.check(
    (files) => filesProblem(files) === undefined,
    (issue) => filesProblem(issue.input as Record<string, unknown>) ?? "invalid files",
  ),
  v.check(filesWithinSize, (issue) => `files must be at most ${MAX_CODE_BYTES} bytes (UTF-8) together; these are ${filesBytes(issue.input as Record<string, string>)}`),
  v.description(
    `A multi-file program instead of code: path -> source. At most ${MAX_FILES} files of ${Object.keys(FILE_KINDS).join(", ")}, ${MAX_CODE_BYTES} bytes (UTF-8) together; relative paths without .., URLs or absolute paths. The entry runs as the async function body; relative imports between the files and imports of the package set (GET /packages) work.`,
  ),
);

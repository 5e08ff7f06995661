import * as esbuild from "esbuild-wasm/esm/browser.js";
// wrangler and the test pool both import .wasm files as compiled WebAssembly.Module objects.
import esbuildWasm from "esbuild-wasm/esbuild.wasm";
import type * as acorn from "acorn";
import { eraseTypeOnlyModuleSyntax, NestedTooDeeply, stripTypes } from "./strip-types";

export interface TranspileIssue {
  message: string;
  line?: number;
  column?: number;
}

export type TranspileOutcome =
  /** `map` is absent when positions did not move; `ast` is present when the JavaScript is already parsed. */
  | { ok: true; code: string; map?: string; ast?: acorn.Program }
  | { ok: false; issues: TranspileIssue[] };

/**
 * TypeScript -> JavaScript in two tiers. Most programs only use erasable syntax (annotations, interfaces, type
 * aliases, generics, `as`): stripTypes blanks it in about a millisecond and proves the result equal to the
 * erased source. Everything else (enum, namespace, parameter properties, decorators, syntax errors) goes to
 * esbuild, the reference, and its outcome is cached by source.
 *
 * Why not esbuild alone: every new child isolate makes V8 flush the Liftoff code of all WebAssembly in the
 * process, so the first esbuild transform after each execution recompiles its hot functions (36-190 ms
 * measured here, against 6-14 ms warm); production takes no V8 flags to turn that off. See README, Benchmarks.
 */
export async function transpileTypeScript(source: string): Promise<TranspileOutcome> {
  let stripped;
  try {
    stripped = stripTypes(source);
  } catch (error) {
    if (error instanceof NestedTooDeeply) return { ok: false, issues: [{ message: error.message }] };
    throw error;
  }
  if (stripped) return { ok: true, ...stripped };

  const cached = esbuildOutcomes.get(source);
  if (cached) {
    // Re-inserting makes the Map's insertion order an LRU order.
    esbuildOutcomes.delete(source);
    esbuildOutcomes.set(source, cached);
    return cached;
  }
  // esbuild's parser recurses per nesting level inside WebAssembly, and overflowing that stack stops its service
  // for every later caller (30 000 parentheses did). Deep programs are refused before esbuild sees them: when the
  // TypeScript parser above overflowed (any form of nesting), or when brackets nest deeper than the limit (the
  // parse may have stopped at a syntax error before the depth).
  const depth = maxNestingDepth(source);
  if (depth > MAX_TYPESCRIPT_NESTING) {
    return {
      ok: false,
      issues: [{ message: `The code is nested too deeply to transpile (${depth} levels of brackets; at most ${MAX_TYPESCRIPT_NESTING})` }],
    };
  }
  const outcome = await transformWithEsbuild(source);
  remember(source, outcome);
  return outcome;
}

/**
 * Far below where esbuild-wasm overflows (between 3 000 and 10 000 parentheses, measured) and far above what
 * people write; the JavaScript path has no such limit to respect (acorn's overflow is caught in prepare.ts).
 */
export const MAX_TYPESCRIPT_NESTING = 1_000;

/**
 * The deepest nesting of (), [], {}, `${` and type arguments, outside strings and comments. Regular expressions are read as
 * code, so a bracket in a regex can only raise the count a little; it never needs to be exact, only cheap and
 * never low for real nesting.
 */
export function maxNestingDepth(source: string): number {
  let depth = 0;
  // Type arguments nest as deeply (`Array<Array<…>>`), but `<` is also less-than: angles count only until the
  // end of the statement or line, so comparisons never add up across a program.
  let angles = 0;
  let max = 0;
  // Each open template literal remembers the brace depth its `${` opened at.
  const templates: number[] = [];
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === "/" && source[i + 1] === "/") {
      const end = source.indexOf("\n", i);
      i = end < 0 ? source.length : end;
    } else if (char === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end < 0 ? source.length : end + 1;
    } else if (char === "'" || char === '"') {
      for (i++; i < source.length && source[i] !== char && source[i] !== "\n"; i++) if (source[i] === "\\") i++;
    } else if (char === "`" || (char === "}" && templates.at(-1) === depth)) {
      if (char === "}") {
        templates.pop();
        depth--;
      }
      // Inside a template literal until its closing backtick or a `${`.
      for (i++; i < source.length; i++) {
        if (source[i] === "\\") i++;
        else if (source[i] === "`") break;
        else if (source[i] === "$" && source[i + 1] === "{") {
          i++;
          depth++;
          max = Math.max(max, depth);
          templates.push(depth);
          break;
        }
      }
    } else if (char === "(" || char === "[" || char === "{") {
      depth++;
      if (depth + angles > max) max = depth + angles;
    } else if (char === ")" || char === "]" || char === "}") {
      if (depth > 0) depth--;
    } else if (char === "<" && source[i + 1] !== "=" && source[i + 1] !== "<") {
      angles++;
      if (depth + angles > max) max = depth + angles;
    } else if (char === ">") {
      if (angles > 0) angles--;
    } else if (char === ";" || char === "\n") {
      angles = 0;
    }
  }
  return max;
}

/** A transform that has not answered by then never will: the service is restarted. */
const ESBUILD_TRANSFORM_TIMEOUT_MS = 10_000;

let ready: Promise<void> | undefined;
/** Counts restarts, so that callers failing together restart esbuild once, not once each. */
let generation = 0;

/** esbuild-wasm runs one service per isolate; every caller shares the same promise. */
export function initializeTranspiler(): Promise<void> {
  ready ??= esbuild.initialize({ wasmModule: esbuildWasm, worker: false }).catch((error: unknown) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

/**
 * A failure that is not a compile error (the WebAssembly overflowed its stack, or the service stopped) leaves
 * esbuild answering "The service is no longer running" to everyone after: stop it and start afresh.
 */
async function restartTranspiler(failedGeneration: number): Promise<void> {
  if (failedGeneration !== generation) return;
  generation++;
  await esbuild.stop();
  ready = undefined;
}

class TransformTimeout extends Error {}

/** The reference tier: also what the tests compare the fast path against. */
export async function transformWithEsbuild(source: string): Promise<TranspileOutcome> {
  // Type-only imports and exports would make esbuild read the code as a module, where top-level return is an
  // error; they mean nothing at run time, so they are blanked first (positions do not move).
  const input = eraseTypeOnlyModuleSyntax(source);
  for (let attempt = 1; ; attempt++) {
    await initializeTranspiler();
    const started = generation;
    try {
      return await transformOnce(input);
    } catch (error) {
      const failure = error as Partial<esbuild.TransformFailure>;
      if (Array.isArray(failure.errors)) {
        return {
          ok: false,
          issues: failure.errors.map((m) => ({
            message: m.text,
            ...(m.location ? { line: m.location.line, column: m.location.column + 1 } : {}),
          })),
        };
      }
      await restartTranspiler(started);
      // Once more on a fresh service: the failure may have been an earlier caller's.
      if (attempt >= 2) {
        console.error("esbuild failed and was restarted", error);
        return { ok: false, issues: [{ message: "The TypeScript compiler failed on this program" }] };
      }
    }
  }
}

async function transformOnce(source: string): Promise<TranspileOutcome> {
  let timer: number | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransformTimeout("esbuild did not answer")), ESBUILD_TRANSFORM_TIMEOUT_MS);
  });
  try {
    const out = await Promise.race([
      esbuild.transform(source, {
        loader: "ts",
        sourcefile: "user.ts",
        sourcemap: "external",
        target: "esnext",
        // Keeps `return`/`await` at the top level intact: the code becomes a function body afterwards.
        format: undefined,
        logLevel: "silent",
      }),
      timeout,
    ]);
    return { ok: true, code: out.code, map: out.map };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * Bounded by characters held (source + code + map), not by entries: a 100 KB program with its source map weighs
 * as much as a hundred small ones. Outcomes are a pure function of the source, so they never go stale.
 */
const ESBUILD_CACHE_MAX_CHARS = 4 * 1024 * 1024;
const esbuildOutcomes = new Map<string, TranspileOutcome>();
let esbuildCacheChars = 0;

const weight = (source: string, outcome: TranspileOutcome) =>
  source.length + (outcome.ok ? outcome.code.length + (outcome.map?.length ?? 0) : 0);

function remember(source: string, outcome: TranspileOutcome): void {
  const chars = weight(source, outcome);
  if (chars > ESBUILD_CACHE_MAX_CHARS / 4) return;
  esbuildOutcomes.set(source, outcome);
  esbuildCacheChars += chars;
  for (const [oldest, old] of esbuildOutcomes) {
    if (esbuildCacheChars <= ESBUILD_CACHE_MAX_CHARS) break;
    esbuildOutcomes.delete(oldest);
    esbuildCacheChars -= weight(oldest, old);
  }
}

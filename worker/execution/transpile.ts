import * as esbuild from "esbuild-wasm/esm/browser.js";
// wrangler and the test pool both import .wasm files as compiled WebAssembly.Module objects.
import esbuildWasm from "esbuild-wasm/esbuild.wasm";
import type * as acorn from "acorn";
import { stripTypes } from "./strip-types";

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
  const stripped = stripTypes(source);
  if (stripped) return { ok: true, ...stripped };

  const cached = esbuildOutcomes.get(source);
  if (cached) {
    // Re-inserting makes the Map's insertion order an LRU order.
    esbuildOutcomes.delete(source);
    esbuildOutcomes.set(source, cached);
    return cached;
  }
  const outcome = await transformWithEsbuild(source);
  remember(source, outcome);
  return outcome;
}

let ready: Promise<void> | undefined;

/** esbuild-wasm can only be initialized once per isolate; every caller shares the same promise. */
export function initializeTranspiler(): Promise<void> {
  ready ??= esbuild.initialize({ wasmModule: esbuildWasm, worker: false }).catch((error: unknown) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

/** The reference tier: also what the tests compare the fast path against. */
export async function transformWithEsbuild(source: string): Promise<TranspileOutcome> {
  await initializeTranspiler();
  try {
    const out = await esbuild.transform(source, {
      loader: "ts",
      sourcefile: "user.ts",
      sourcemap: "external",
      target: "esnext",
      // Keeps `return`/`await` at the top level intact: the code becomes a function body afterwards.
      format: undefined,
      logLevel: "silent",
    });
    return { ok: true, code: out.code, map: out.map };
  } catch (error) {
    const failure = error as Partial<esbuild.TransformFailure>;
    if (!Array.isArray(failure.errors)) throw error;
    return {
      ok: false,
      issues: failure.errors.map((m) => ({
        message: m.text,
        ...(m.location ? { line: m.location.line, column: m.location.column + 1 } : {}),
      })),
    };
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

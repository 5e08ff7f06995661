import * as esbuild from "esbuild-wasm/esm/browser.js";
// wrangler and the test pool both import .wasm files as compiled WebAssembly.Module objects.
import esbuildWasm from "esbuild-wasm/esbuild.wasm";

export interface TranspileIssue {
  message: string;
  line?: number;
  column?: number;
}

export type TranspileOutcome =
  | { ok: true; code: string; map: string }
  | { ok: false; issues: TranspileIssue[] };

let ready: Promise<void> | undefined;

/** esbuild-wasm can only be initialized once per isolate; every caller shares the same promise. */
export function initializeTranspiler(): Promise<void> {
  ready ??= esbuild.initialize({ wasmModule: esbuildWasm, worker: false }).catch((error: unknown) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

export async function transpileTypeScript(source: string): Promise<TranspileOutcome> {
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

// The Python child's module set, shared by the service (worker/languages/python/) and the build-time snapshot
// maker (scripts/python-snapshot/), so a snapshot is always made by the same boot code that restores it.
// @ts-ignore Text module (wrangler.jsonc "rules")
import harness from "./child/harness.js";
// @ts-ignore Text module (wrangler.jsonc "rules")
import runner from "./child/runner.py";
// @ts-ignore Text module
import guard from "../../../sandbox-template/guard.js";
// @ts-ignore Text module
import logChannel from "../../../sandbox-template/log-channel.js";
// @ts-ignore Text module
import primordials from "../../../sandbox-template/primordials.js";

export const PYTHON_MAIN_MODULE = "harness.js";

/** Built by scripts/build-python.mjs into python-assets/ and read back through the ASSETS binding. */
export const PYTHON_ASSET_FILES = {
  wasm: "pyodide.asm.wasm",
  /** Patched at build time: the signal check calls the harness's guard (see scripts/build-python.mjs). */
  emscripten: "pyodide.asm.mjs",
  loader: "pyodide.mjs",
  stdlib: "python_stdlib.zip",
  snapshotGzip: "snapshot.bin.gz",
} as const;

export interface PythonFiles {
  wasm: ArrayBuffer;
  emscripten: string;
  loader: string;
  stdlib: ArrayBuffer;
  /** The memory snapshot, gunzipped; empty while the snapshot itself is being made. */
  snapshot: ArrayBuffer;
}

/** A multi-file program as runner.py receives it (program.json): every file by path, and which one is the entry. */
export interface PythonProgramFiles {
  entry: string;
  files: Record<string, string>;
}

/** `program` is set for a files request; a code request (and the snapshot maker) sends null, and user.py is all. */
export function pythonChildModules(files: PythonFiles, code: string, program?: PythonProgramFiles): Record<string, WorkerLoaderModule> {
  return {
    [PYTHON_MAIN_MODULE]: { js: harness as unknown as string },
    "guard.js": { js: guard as unknown as string },
    "log-channel.js": { js: logChannel as unknown as string },
    "primordials.js": { js: primordials as unknown as string },
    "runner.py": { text: runner as unknown as string },
    "user.py": { text: code },
    // Per run, like user.py: runner.py writes these files into the child's file system and imports from them.
    "program.json": { text: JSON.stringify(program ?? null) },
    "pyodide.mjs": { js: files.loader },
    "pyodide.asm.mjs": { js: files.emscripten },
    // Bytes, compiled by the loader while it builds the child: compiling at request time is forbidden there.
    "pyodide.asm.wasm": { wasm: files.wasm },
    "python_stdlib.zip": { data: files.stdlib },
    "snapshot.bin": { data: files.snapshot },
  };
}

/** Reads the files once per front isolate (~30-60 ms, plus ~100 ms to gunzip the snapshot). */
export async function readPythonFiles(assets: Fetcher, { withSnapshot }: { withSnapshot: boolean }): Promise<PythonFiles> {
  const read = async (name: string): Promise<ArrayBuffer> => {
    const response = await assets.fetch(new Request(`https://assets.local/${name}`));
    if (!response.ok) throw new Error(`python asset ${name}: ${response.status} (run npm run build:python)`);
    return response.arrayBuffer();
  };
  const [wasm, emscripten, loader, stdlib, snapshotGzip] = await Promise.all([
    read(PYTHON_ASSET_FILES.wasm),
    read(PYTHON_ASSET_FILES.emscripten),
    read(PYTHON_ASSET_FILES.loader),
    read(PYTHON_ASSET_FILES.stdlib),
    withSnapshot ? read(PYTHON_ASSET_FILES.snapshotGzip) : Promise.resolve(new ArrayBuffer(0)),
  ]);
  const text = new TextDecoder();
  const snapshot = withSnapshot
    ? await new Response(new Blob([snapshotGzip]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer()
    : new ArrayBuffer(0);
  return { wasm, emscripten: text.decode(emscripten), loader: text.decode(loader), stdlib, snapshot };
}

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
import type { PlaneModuleSet, PlaneTextModule } from "../../execution/plane-modules";

export const PYTHON_MAIN_MODULE = "harness.js";
export const PYTHON_USER_MODULE = "user.py";
export const PYTHON_PROGRAM_MODULE = "program.json";

/** Built by scripts/build-python.mjs into python-assets/ and read back through the ASSETS binding. */
export const PYTHON_ASSET_FILES = {
  wasm: "pyodide.asm.wasm",
  /** Patched at build time: the signal check calls the harness's guard (see scripts/build-python.mjs). */
  emscripten: "pyodide.asm.mjs",
  loader: "pyodide.mjs",
  stdlib: "python_stdlib.zip",
  snapshotGzip: "snapshot.bin.gz",
  /** { inputsSha256, ... }: which build the other files are. */
  manifest: "manifest.json",
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

/** The harness's own modules, source text: the same in process and on the sandbox plane. */
function pythonHarnessModules() {
  return {
    [PYTHON_MAIN_MODULE]: { js: harness as unknown as string },
    "guard.js": { js: guard as unknown as string },
    "log-channel.js": { js: logChannel as unknown as string },
    "primordials.js": { js: primordials as unknown as string },
    "runner.py": { text: runner as unknown as string },
  };
}

/**
 * The run's own modules, the same in process and on the plane: the user's code as user.py, and for a files request
 * the program (program.json: runner.py writes its files into the child's file system and imports from them). A
 * code request (and the snapshot maker) sends null there, and user.py is all.
 */
export function pythonRunModules(code: string, program?: PythonProgramFiles): Record<string, PlaneTextModule> {
  return {
    [PYTHON_USER_MODULE]: { text: code },
    [PYTHON_PROGRAM_MODULE]: { text: JSON.stringify(program ?? null) },
  };
}

export function pythonChildModules(files: PythonFiles, code: string, program?: PythonProgramFiles): Record<string, WorkerLoaderModule> {
  return {
    ...pythonHarnessModules(),
    ...pythonRunModules(code, program),
    "pyodide.mjs": { js: files.loader },
    "pyodide.asm.mjs": { js: files.emscripten },
    // Bytes, compiled by the loader while it builds the child: compiling at request time is forbidden there.
    "pyodide.asm.wasm": { wasm: files.wasm },
    "python_stdlib.zip": { data: files.stdlib },
    "snapshot.bin": { data: files.snapshot },
  };
}

/**
 * The same child as a sandbox-plane host builds it (README, "Sandbox plane"): the harness as text, Pyodide's files
 * from the host's own copy of python-assets/ (never sent), and the run's user.py. Keep the file modules in step with
 * pythonChildModules above.
 */
export function pythonPlaneModuleSet(buildId: string): PlaneModuleSet {
  return {
    mainModule: PYTHON_MAIN_MODULE,
    modules: pythonHarnessModules(),
    assets: {
      buildId,
      modules: {
        "pyodide.mjs": { file: PYTHON_ASSET_FILES.loader, type: "js" },
        "pyodide.asm.mjs": { file: PYTHON_ASSET_FILES.emscripten, type: "js" },
        "pyodide.asm.wasm": { file: PYTHON_ASSET_FILES.wasm, type: "wasm" },
        "python_stdlib.zip": { file: PYTHON_ASSET_FILES.stdlib, type: "data" },
        "snapshot.bin": { file: PYTHON_ASSET_FILES.snapshotGzip, type: "data", gzip: true },
      },
    },
  };
}

/** The build python-assets/ holds (scripts/build-python.mjs writes manifest.json): a hash of all its inputs. */
export async function readPythonBuildId(assets: Fetcher): Promise<string> {
  const response = await assets.fetch(new Request(`https://assets.local/${PYTHON_ASSET_FILES.manifest}`));
  if (!response.ok) throw new Error(`python asset ${PYTHON_ASSET_FILES.manifest}: ${response.status} (run npm run build:python)`);
  const { inputsSha256 } = (await response.json()) as { inputsSha256?: unknown };
  if (typeof inputsSha256 !== "string" || !/^[0-9a-f]{64}$/.test(inputsSha256)) {
    throw new Error(`python asset ${PYTHON_ASSET_FILES.manifest} names no build (run npm run build:python)`);
  }
  return inputsSha256;
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

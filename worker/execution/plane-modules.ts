// What the front hands a sandbox-plane host as modules (README, "Sandbox plane"). Keep in sync with
// sandbox-host/host.js, which checks every module it is sent against these shapes.

import type { ProgramRun } from "../languages/language";

/** Source text only: a host never takes a binary module (wasm, data) from the network. */
export type PlaneTextModule = { js: string } | { text: string } | { json: unknown };

/**
 * A module the host reads from its own copy of the language files (its ASSETS directory, python-assets/): named
 * by file, never sent. `gzip`: the file is stored gzipped and the module is its content.
 */
export interface PlaneAssetModule {
  file: string;
  type: "wasm" | "data" | "js" | "text";
  gzip?: boolean;
}

/** The modules every run of a language shares: sent to each host once, named by the SHA-256 of its JSON. */
export interface PlaneModuleSet {
  mainModule: string;
  modules: Readonly<Record<string, PlaneTextModule>>;
  /**
   * buildId: the build of the files the front expects (python-assets/manifest.json inputsSha256, which covers the
   * harness that boots them); a host whose files are another build refuses the run.
   */
  assets?: { buildId: string; modules: Readonly<Record<string, PlaneAssetModule>> };
  /** Modules of the set a run may replace with its own (a static default); no other name may be reused. */
  replaceable?: readonly string[];
}

export interface PlaneProgram {
  /** Resolves to the same object for every run of the language, so the front hashes it once. */
  moduleSet(): Promise<PlaneModuleSet>;
  /**
   * This run's own modules (the user's code; a multi-file program's other files and its packages), source text;
   * they may not reuse a name of the set.
   */
  runModules(run: ProgramRun): Record<string, PlaneTextModule>;
}

/** Loader modules as a host may be sent them; a binary module is a bug of the front, refused here already. */
export function planeTextModules(modules: Readonly<Record<string, WorkerLoaderModule>>): Record<string, PlaneTextModule> {
  const out: Record<string, PlaneTextModule> = {};
  for (const [name, module] of Object.entries(modules)) {
    if ("js" in module && typeof module.js === "string") out[name] = { js: module.js };
    else if ("text" in module && typeof module.text === "string") out[name] = { text: module.text };
    else if ("json" in module) out[name] = { json: module.json };
    else throw new Error(`module ${name} is not source text: a sandbox host takes no binary module from the network`);
  }
  return out;
}

#!/usr/bin/env node
// Builds python-assets/ (the Static Assets wrangler.jsonc serves to the Worker, never to the public): Pyodide's
// files from node_modules/pyodide, pyodide.asm.mjs patched so its signal check calls the harness's guard, and the
// memory snapshot Python children restore instead of booting (~1.4 s -> ~0.1 s).
//
// Runs before dev, test, bench, build and deploy (package.json pre-scripts). Cached: python-assets/manifest.json
// records a SHA-256 of every input (Pyodide's files, the child harness and runner, the guard, the snapshot maker,
// this script, the wrangler/workerd version); when it matches, nothing is done. `--force` rebuilds.
//
// The snapshot must be made inside workerd by the boot code that restores it, so this starts the small worker in
// scripts/python-snapshot/ with wrangler dev on a random loopback port and asks it once (~3-6 s).

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, startLocalService } from "./local-service.mjs";

const OUT = path.join(ROOT, "python-assets");
const PYODIDE = path.join(ROOT, "node_modules", "pyodide");
const CHILD = path.join(ROOT, "worker", "languages", "python", "child");
const SNAPSHOT_CONFIG = path.join(ROOT, "scripts", "python-snapshot", "wrangler.jsonc");

/** Copied unchanged; pyodide.asm.mjs is written patched. Keep in sync with worker/languages/python/child-modules.ts. */
const COPIED = ["pyodide.asm.wasm", "pyodide.mjs", "python_stdlib.zip"];
const EMSCRIPTEN = "pyodide.asm.mjs";
const SNAPSHOT = "snapshot.bin.gz";
const MANIFEST = "manifest.json";

/**
 * Pyodide's eval loop calls this EM_JS helper every ~50 eval-breaker ticks, also inside C loops that check signals
 * (regex, big-int arithmetic, sort). A JS error thrown from it unwinds through wasm: no Python `except` sees it.
 * Keep in sync with worker/languages/python/child/harness.js (py._module.__guard).
 */
const GUARD_PATCH_POINT = "function _Py_CheckEmscriptenSignals_Helper(){";
const GUARD_PATCH = `${GUARD_PATCH_POINT}if(Module.__guard)Module.__guard();`;

function inputFiles() {
  const child = readdirSync(CHILD).map((name) => path.join(CHILD, name));
  return [
    ...[...COPIED, EMSCRIPTEN, "package.json"].map((name) => path.join(PYODIDE, name)),
    ...child,
    path.join(ROOT, "worker", "languages", "python", "child-modules.ts"),
    path.join(ROOT, "sandbox-template", "guard.js"),
    path.join(ROOT, "sandbox-template", "log-channel.js"),
    path.join(ROOT, "sandbox-template", "primordials.js"),
    path.join(ROOT, "scripts", "python-snapshot", "index.ts"),
    SNAPSHOT_CONFIG,
    path.join(ROOT, "scripts", "build-python.mjs"),
    // The snapshot is a heap image of one workerd build.
    path.join(ROOT, "node_modules", "wrangler", "package.json"),
    path.join(ROOT, "node_modules", "miniflare", "package.json"),
  ].sort();
}

function inputsHash() {
  const hash = createHash("sha256");
  for (const file of inputFiles()) {
    if (!existsSync(file)) throw new Error(`build-python: ${path.relative(ROOT, file)} is missing (npm install?)`);
    hash.update(path.relative(ROOT, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return hash.digest("hex");
}

function upToDate(hash) {
  try {
    const manifest = JSON.parse(readFileSync(path.join(OUT, MANIFEST), "utf8"));
    return manifest.inputsSha256 === hash && [...COPIED, EMSCRIPTEN, SNAPSHOT].every((name) => existsSync(path.join(OUT, name)));
  } catch {
    return false;
  }
}

async function build(hash) {
  const began = Date.now();
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  for (const name of COPIED) writeFileSync(path.join(OUT, name), readFileSync(path.join(PYODIDE, name)));
  const emscripten = readFileSync(path.join(PYODIDE, EMSCRIPTEN), "utf8");
  if (emscripten.split(GUARD_PATCH_POINT).length !== 2) {
    throw new Error(`build-python: ${EMSCRIPTEN} has no single "${GUARD_PATCH_POINT}" (a new Pyodide?): the time limit cannot be installed`);
  }
  writeFileSync(path.join(OUT, EMSCRIPTEN), emscripten.replace(GUARD_PATCH_POINT, GUARD_PATCH));

  const service = await startLocalService({ label: "python-snapshot", config: SNAPSHOT_CONFIG, migrate: false });
  let snapshot;
  try {
    const response = await fetch(`${service.url}/snapshot`, { signal: AbortSignal.timeout(120_000) });
    if (!response.ok) throw new Error(`build-python: the snapshot worker answered ${response.status}: ${await response.text()}\n${service.output().slice(-3000)}`);
    snapshot = Buffer.from(await response.arrayBuffer());
  } finally {
    await service.stop();
  }
  writeFileSync(path.join(OUT, SNAPSHOT), snapshot);
  const pyodideVersion = JSON.parse(readFileSync(path.join(PYODIDE, "package.json"), "utf8")).version;
  const sizes = Object.fromEntries(readdirSync(OUT).map((name) => [name, readFileSync(path.join(OUT, name)).byteLength]));
  writeFileSync(path.join(OUT, MANIFEST), `${JSON.stringify({ inputsSha256: hash, pyodideVersion, sizes }, null, 2)}\n`);
  console.log(`build-python: python-assets/ built in ${((Date.now() - began) / 1000).toFixed(1)} s (snapshot ${(snapshot.byteLength / 1e6).toFixed(2)} MB gzip)`);
}

const hash = inputsHash();
if (!process.argv.includes("--force") && upToDate(hash)) {
  console.log("build-python: python-assets/ is up to date");
} else {
  await build(hash);
}

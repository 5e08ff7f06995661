// Bundles the operator's package set (packages.json) into worker/generated/package-bundles.ts, which the front
// Worker imports and hands to a child isolate only when the child's program imports a package.
//
// Each package becomes one ES module (esbuild: ESM, platform neutral, no Node built-ins), so nothing is fetched at
// run time; integrity comes from package-lock.json, as for any dependency. The output is cached by a hash of its
// inputs, so `npm test` and `npm run dev` pay for the bundling only when the set, the lock file or this script
// changes. Run by the dev, test, typecheck, build, deploy and local-service scripts (package.json).

import { createHash } from "node:crypto";
import { builtinModules } from "node:module";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as esbuild from "esbuild-wasm";

const ROOT = path.resolve(import.meta.dirname, "..");
const SET_FILE = path.join(ROOT, "packages.json");
const OUT_DIR = path.join(ROOT, "worker", "generated");
const OUT_FILE = path.join(OUT_DIR, "package-bundles.ts");
/** Where a bundle finds the guard at run time (sandbox-template/module-guard.js; keep in sync). */
export const GUARD_MODULE = "module-guard.js";
/** Inputs whose change must rebuild the bundles. */
const HASHED = [
  "packages.json",
  "package-lock.json",
  "scripts/build-packages.mjs",
  "worker/execution/instrument-module.ts",
];
const NAME = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

function fail(message) {
  console.error(`[build-packages] ${message}`);
  process.exit(1);
}

/** packages.json, checked: names npm would accept, exact versions, each installed at exactly that version. */
function readSet() {
  let set;
  try {
    set = JSON.parse(readFileSync(SET_FILE, "utf8"));
  } catch (error) {
    fail(`packages.json is not readable JSON: ${error.message}`);
  }
  if (!Array.isArray(set?.packages)) fail(`packages.json must have a "packages" array`);
  const declared = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).dependencies ?? {};
  const seen = new Set();
  return set.packages.map((entry, index) => {
    const { name, version, why } = entry ?? {};
    if (typeof name !== "string" || !NAME.test(name)) fail(`packages.json packages[${index}].name is not a package name`);
    if (typeof version !== "string" || !EXACT_VERSION.test(version)) {
      fail(`packages.json ${name}: version must be exact (like 1.2.3), got ${JSON.stringify(version)}`);
    }
    if (seen.has(name)) fail(`packages.json lists ${name} twice`);
    seen.add(name);
    if (declared[name] !== version) {
      fail(`${name}@${version} is in packages.json but package.json dependencies have ${declared[name] ?? "nothing"}: run npm install --save-exact ${name}@${version}`);
    }
    const manifest = path.join(ROOT, "node_modules", name, "package.json");
    const installed = existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")).version : undefined;
    if (installed !== version) fail(`${name}@${version} is not installed (found ${installed ?? "nothing"}): run npm install`);
    return { name, version, why: typeof why === "string" ? why : "" };
  });
}

function inputHash() {
  const hash = createHash("sha256");
  for (const file of HASHED) {
    const full = path.join(ROOT, file);
    hash.update(`${file}\0${existsSync(full) ? readFileSync(full) : ""}\0`);
  }
  return hash.digest("hex");
}

const NODE_BUILTINS = new Set(builtinModules);

/** Refuses Node built-ins by name, so the build says which package needs which one instead of "could not resolve". */
const noNodeBuiltins = {
  name: "no-node-builtins",
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.replace(/^node:/, "").split("/")[0];
      if (args.path.startsWith("node:") || (NODE_BUILTINS.has(bare) && !args.path.startsWith("."))) {
        return { errors: [{ text: `needs the Node built-in "${args.path}" (imported by ${args.importer || "the entry"}); the sandbox has none` }] };
      }
      return undefined;
    });
  },
};

/** One ES module exporting what the package exports: its named exports and, where it has one, its default. */
async function bundle(name) {
  const attempts = [
    `export * from ${JSON.stringify(name)}; export { default } from ${JSON.stringify(name)};`,
    `export * from ${JSON.stringify(name)};`,
  ];
  let lastError;
  for (const contents of attempts) {
    try {
      const result = await esbuild.build({
        stdin: { contents, resolveDir: ROOT, sourcefile: `${name}-entry.js` },
        bundle: true,
        format: "esm",
        platform: "neutral",
        // Workers are closest to browsers: packages with a "browser" build (nanoid, yaml) use Web APIs there.
        conditions: ["workerd", "worker", "browser", "import"],
        mainFields: ["browser", "module", "main"],
        target: "es2022",
        define: { "process.env.NODE_ENV": '"production"' },
        plugins: [noNodeBuiltins],
        write: false,
        logLevel: "silent",
        legalComments: "none",
        // Every isolate that imports a package parses its bundle afresh (no code cache crosses isolates): less text
        // is less to parse (zod 805 -> 510 KiB). A package's own frames are not the caller's code: errors keep
        // their messages, and positions are only ever reported in the caller's files.
        minify: true,
      });
      return result.outputFiles[0].text;
    } catch (error) {
      lastError = error;
      // A missing default export is the only reason to try the next form; anything else is the package's problem.
      if (!/No matching export|does not provide an export named "default"/.test(String(error.message))) break;
    }
  }
  const detail = lastError?.errors?.map((e) => e.text).join("; ") ?? String(lastError);
  fail(`cannot bundle ${name} for the sandbox: ${detail}. Remove it from packages.json or pick another version.`);
}

/** Build-time guard placement (worker/execution/instrument-module.ts). */
async function loadInstrumenter() {
  const source = path.join(ROOT, "worker", "execution", "instrument-module.ts");
  const built = await esbuild.build({
    entryPoints: [source],
    bundle: true,
    format: "esm",
    platform: "node",
    write: false,
    logLevel: "silent",
  });
  const url = `data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString("base64")}`;
  return (await import(url)).instrumentPackageBundle;
}

async function main() {
  const packages = readSet();
  const hash = inputHash();
  const marker = `// input-hash: ${hash}`;
  if (existsSync(OUT_FILE) && readFileSync(OUT_FILE, "utf8").includes(marker)) return;

  const started = Date.now();
  const instrument = await loadInstrumenter();
  const entries = [];
  for (const { name, version, why } of packages) {
    let code = await bundle(name);
    // The bundle is loaded as packages/<name>.js (worker/execution/module-resolution.ts): the guard module is at the root.
    if (instrument) code = instrument(code, `${"../".repeat(name.split("/").length)}${GUARD_MODULE}`);
    entries.push(`  ${JSON.stringify(name)}: { version: ${JSON.stringify(version)}, why: ${JSON.stringify(why)}, code: ${JSON.stringify(code)} },`);
    console.log(`[build-packages] ${name}@${version}: ${(code.length / 1024).toFixed(0)} KiB${instrument ? ", instrumented" : ""}`);
  }
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(
    OUT_FILE,
    `// Generated by scripts/build-packages.mjs from packages.json. Do not edit; not committed.\n${marker}\n` +
      `export const PACKAGE_BUNDLES_INSTRUMENTED = ${instrument ? "true" : "false"};\n` +
      `export const PACKAGE_BUNDLES: Readonly<Record<string, { version: string; why: string; code: string }>> = {\n${entries.join("\n")}\n};\n`,
  );
  console.log(`[build-packages] ${packages.length} packages bundled in ${Date.now() - started} ms -> ${path.relative(ROOT, OUT_FILE)}`);
}

await main();

#!/usr/bin/env node
// The build step every script that typechecks, tests, runs or deploys the service needs first (package.json
// pre-scripts): the package bundles (worker/generated/, imported by the front Worker) and the Python assets
// (python-assets/, served to it as Static Assets). Each is cached by a hash of its inputs, so a second run is a no-op.
import { spawnSync } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const forced = process.argv.includes("--force") ? ["--force"] : [];

for (const step of ["build-harness.mjs", "build-packages.mjs", "build-python.mjs"]) {
  const done = spawnSync(process.execPath, [path.join(ROOT, "scripts", step), ...(step === "build-python.mjs" ? forced : [])], { stdio: "inherit" });
  if (done.status !== 0) {
    console.error(`[build-assets] scripts/${step} failed (exit ${done.status ?? done.signal}); nothing else was run`);
    process.exit(done.status ?? 1);
  }
}

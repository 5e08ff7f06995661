// @ts-check
// The guard as a module, for the modules of a multi-file program and for package bundles: ordinary ES modules
// import it (`import { guard as __ce_... } from ".../module-guard.js"`, placed by worker/execution/instrument.ts and
// at build time by scripts/build-packages.mjs), because they have no wrapper to receive it as a parameter. Nothing
// the user writes can import it: the parent resolves every specifier itself and never to this module.
//
// Those modules run their top level when the isolate loads, before harness.js's run() exists, so until run()
// arms this module with the run's own guard (armModuleGuard), a load-time guard stops a top-level loop at the same
// timeout (run-limits.js, replaced per run by worker/execution/sandbox.ts; keep in sync).

import { createGuard } from "./guard.js";
import { stepsPerMs, timeoutMs } from "./run-limits.js";

const DateNow = Date.now;

let control = createGuard(DateNow() + timeoutMs, stepsPerMs);

/** A live binding: importers see the run's guard once run() has armed this module. */
export let guard = control.guard;

let armed = false;

/**
 * Called once by harness.js run(), before the entry runs: from then on every module checks the run's guard, so a
 * timeout in a package trips the same sticky guard the harness reads. A load-time guard that already tripped
 * stays tripped.
 * @param {{ guard: () => void, trip: () => void, isTripped: () => boolean }} runControl
 */
export function armModuleGuard(runControl) {
  if (armed) return;
  armed = true;
  if (control.isTripped()) runControl.trip();
  control = runControl;
  guard = runControl.guard;
}

// Console output at load time would reach the host's log: until run() installs the capture, it is discarded.
for (const method of ["log", "info", "warn", "error", "debug", "trace"]) {
  /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (console))[method] = () => {};
}

// The sandbox-template/ files are real JavaScript (type-checked with checkJs, tested); a child gets them minified
// (scripts/build-harness.mjs, built by every script's pre-step into worker/generated/): a fresh isolate compiles
// every module it is given, and less text is less CPU per execution.
import { SANDBOX_TEMPLATE } from "../generated/sandbox-template";

export const USER_MODULE_NAME = "user.js";
export const SANDBOX_MAIN_MODULE = "harness.js";
/** The guard for ordinary modules (sandbox-template/module-guard.js); scripts/build-packages.mjs GUARD_MODULE. */
export const MODULE_GUARD_MODULE = "module-guard.js";
/** Limits module-guard.js reads at load: defaults here, replaced per run (sandbox.ts runModules). */
export const RUN_LIMITS_MODULE = "run-limits.js";

/** The harness's modules (every file of sandbox-template/), by the name a child imports them with. */
export const SANDBOX_MODULES: Readonly<Record<string, string>> = SANDBOX_TEMPLATE;

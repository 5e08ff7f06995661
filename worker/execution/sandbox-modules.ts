// The sandbox-template/ files are real JavaScript (type-checked with checkJs, tested) that wrangler's Text rule
// bundles as strings (wrangler.jsonc "rules"). TypeScript resolves them as the JS modules they are, so the
// imports are untyped here and cast once.
// @ts-ignore Text module
import harness from "../../sandbox-template/harness.js";
// @ts-ignore Text module
import encode from "../../sandbox-template/encode.js";
// @ts-ignore Text module
import guard from "../../sandbox-template/guard.js";
// @ts-ignore Text module
import primordials from "../../sandbox-template/primordials.js";
// @ts-ignore Text module
import logChannel from "../../sandbox-template/log-channel.js";
// @ts-ignore Text module
import capabilities from "../../sandbox-template/capabilities.js";
// @ts-ignore Text module
import moduleGuard from "../../sandbox-template/module-guard.js";
// @ts-ignore Text module
import runLimits from "../../sandbox-template/run-limits.js";
// @ts-ignore Text module
import functionSource from "../../sandbox-template/function-source.js";
// @ts-ignore Text module
import state from "../../sandbox-template/state.js";

export const USER_MODULE_NAME = "user.js";
export const SANDBOX_MAIN_MODULE = "harness.js";
/** The guard for ordinary modules (sandbox-template/module-guard.js); scripts/build-packages.mjs GUARD_MODULE. */
export const MODULE_GUARD_MODULE = "module-guard.js";
/** Limits module-guard.js reads at load: defaults here, replaced per run (sandbox.ts runModules). */
export const RUN_LIMITS_MODULE = "run-limits.js";

export const SANDBOX_MODULES: Readonly<Record<string, string>> = {
  [SANDBOX_MAIN_MODULE]: harness as unknown as string,
  "primordials.js": primordials as unknown as string,
  "encode.js": encode as unknown as string,
  "capabilities.js": capabilities as unknown as string,
  "guard.js": guard as unknown as string,
  "log-channel.js": logChannel as unknown as string,
  [MODULE_GUARD_MODULE]: moduleGuard as unknown as string,
  [RUN_LIMITS_MODULE]: runLimits as unknown as string,
  "function-source.js": functionSource as unknown as string,
  "state.js": state as unknown as string,
};

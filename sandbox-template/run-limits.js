// @ts-check
// The limits module-guard.js applies while the isolate loads. The parent replaces this module per run with the
// run's own (worker/execution/sandbox.ts runModules; keep the export names in sync); these defaults only apply
// where the harness is loaded without it (tests, benches), and are the widest a run may have.
export const timeoutMs = 120_000;
export const stepsPerMs = 500_000;

// The per-stage profile behind `npm run bench:stages` (scripts/bench-stages.mjs): the service's own modules,
// bundled with the service's wrangler.jsonc (bindings, Text rules) but with this file as main, so each stage of
// one `return 1 + 1` execution can be timed on its own, in the same runtime, with the same inputs. A bench-only
// build: nothing here ships, and the service's code is not changed to be measured.
//
// Each stage runs many times in a row: workerd's clock (performance.now() too) moves only between I/O events, in
// whole ms, so only a batch can be timed from inside. The driver also reads the CPU time the runtime's processes
// used around each batch (from /proc), which a busy machine inflates much less than wall time.

import * as acorn from "acorn";
import { ExecuteRequestSchema } from "../../schemas/execute";
import { GUARD_STEPS_PER_MS, MAX_REQUEST_BYTES } from "../../schemas/limits";
import { buildChildEnv } from "../../worker/capabilities/child-env";
import { analyze } from "../../worker/execution/analyze";
import { instrument, newGuardName, type InstrumentedProgram } from "../../worker/execution/instrument";
import { executeRequest, type ExecutionRecorder } from "../../worker/execution/pipeline";
import { prepare } from "../../worker/execution/prepare";
import { InProcessSandboxHost } from "../../worker/execution/sandbox";
import { SANDBOX_MAIN_MODULE, SANDBOX_MODULES } from "../../worker/execution/sandbox-modules";
import { createRecorder } from "../../worker/history/recorder";
import { parseInput, readJsonBody } from "../../worker/parse";

// ctx.exports only sees classes exported from the main module: the capability stubs need them.
export { CodeExecutor } from "../../worker/rpc";
export { AiCapability } from "../../worker/capabilities/ai";
export { ApiCapability } from "../../worker/capabilities/api";
export { DbCapability } from "../../worker/capabilities/db";
export { LogsCapability } from "../../worker/capabilities/logs";
export { ExecutionSession } from "../../worker/sessions/session-object";

/** Calls per batch: synchronous stages are µs, so they need many; the ones that wait on I/O fewer. */
const SYNC_ITERATIONS = 2_000;
const ASYNC_ITERATIONS = 100;
const CODE = "return 1 + 1";
const BODY = JSON.stringify({ code: CODE });
const COMPATIBILITY_DATE = "2026-08-01";

/** A trivial child, as the bench's floor loads: creating an isolate and one RPC call, nothing else. */
const TRIVIAL_MAIN = `import { WorkerEntrypoint } from "cloudflare:workers";
export default class extends WorkerEntrypoint { run() { return { status: "success", logs: [], resultJson: "2" }; } }`;
/** The harness's modules evaluated (imported) but not run: their evaluation cost on top of the trivial child. */
const PROBE_MAIN = `import { WorkerEntrypoint } from "cloudflare:workers";
import "./harness.js";
export default class extends WorkerEntrypoint { run() { return { status: "success", logs: [], resultJson: "2" }; } }`;

/** A timer callback: the clock is read again only after I/O, and this is the cheapest. */
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Mean wall ms per call of `fn` over `iterations` calls in a row. */
async function batch(iterations: number, fn: () => unknown): Promise<number> {
  await tick();
  const before = performance.now();
  for (let i = 0; i < iterations; i++) await fn();
  await tick();
  return (performance.now() - before) / iterations;
}

interface Stage {
  name: string;
  iterations: number;
  fn: () => unknown;
}

function stages(env: Env, ctx: ExecutionContext, prepared: InstrumentedProgram): Stage[] {
  const request = parseInput(ExecuteRequestSchema, JSON.parse(BODY));
  const childEnv = () =>
    buildChildEnv(ctx, { executionId: crypto.randomUUID(), config: request.config, deadlineAt: Date.now() + request.config.timeout });
  const load = (main: string, user: string) =>
    env.LOADER.load({
      compatibilityDate: COMPATIBILITY_DATE,
      mainModule: "probe.js",
      modules: { ...SANDBOX_MODULES, "user.js": user, "probe.js": main },
      env: childEnv(),
      globalOutbound: null,
    }).getEntrypoint() as unknown as { run(): Promise<unknown> };
  const recorder = createRecorder(env, ctx);
  const started = () => ({ executionId: crypto.randomUUID(), caller: { kind: "http" as const, identity: "anonymous" }, request, startedAt: Date.now() });
  const result = { executionId: "x", success: true, status: "success" as const, result: 2, logs: [], language: "javascript" as const, durationMs: 1 };

  const list: Stage[] = [];
  const add = (name: string, fn: () => unknown, iterations = SYNC_ITERATIONS) => list.push({ name, iterations, fn });
  add("nothing (subtracted from every stage)", () => undefined);
  add("request body read + JSON.parse", () =>
    readJsonBody(new Request("http://x/execute", { method: "POST", headers: { "content-type": "application/json" }, body: BODY }), MAX_REQUEST_BYTES),
  );
  add("validation (valibot ExecuteRequestSchema)", () => parseInput(ExecuteRequestSchema, JSON.parse(BODY)));
  add("parse (acorn)", () => acorn.parse(CODE, { ecmaVersion: "latest", sourceType: "module", allowReturnOutsideFunction: true, locations: true }));
  add("parse + policy checks (analyze)", () => analyze(CODE));
  add("instrumentation (instrument)", () => {
    const analyzed = analyze(CODE);
    if (analyzed.ok) instrument(CODE, analyzed.program, newGuardName());
  });
  add("prepare (all of the above for JS)", () => prepare(CODE, "javascript"));
  add("child env (3 capability stubs)", childEnv);
  let warmChild: { run(): Promise<unknown> } | undefined;
  add("RPC call alone (to a child already loaded)", () => (warmChild ??= load(TRIVIAL_MAIN, "export default () => async () => 2;")).run(), ASYNC_ITERATIONS);
  add("isolate + RPC call (trivial child, as the floor)", () => load(TRIVIAL_MAIN, "export default () => async () => 2;").run(), ASYNC_ITERATIONS);
  add("isolate + harness modules evaluated + RPC", () => load(PROBE_MAIN, prepared.moduleCode).run(), ASYNC_ITERATIONS);
  const inProcess = new InProcessSandboxHost(env.LOADER, (input) => buildChildEnv(ctx, input));
  add("runInSandbox (isolate, harness, run(), reply check)", () =>
    inProcess.run({
      program: {
        mainModule: SANDBOX_MAIN_MODULE,
        modules: async () => ({ ...SANDBOX_MODULES, "user.js": prepared.moduleCode }),
        stepsPerMs: GUARD_STEPS_PER_MS,
        startupAllowanceMs: 0,
        userLogText: (message) => message,
        userPosition: () => undefined,
      },
      capabilities: { executionId: crypto.randomUUID(), config: request.config, deadlineAt: Date.now() + request.config.timeout },
      contextJson: "{}",
      timeoutMs: 30_000,
      captureLogs: true,
    }),
    ASYNC_ITERATIONS,
  );
  // Whether load() starts creating the isolate at once, so that waiting for the running row can overlap it:
  // the same trivial child and the same 10 ms wait, before load() or between load() and the call.
  const wait = () => new Promise<void>((resolve) => setTimeout(resolve, 10));
  add("overlap probe: wait 10 ms, then load + call", async () => {
    await wait();
    await load(TRIVIAL_MAIN, "export default () => async () => 2;").run();
  }, ASYNC_ITERATIONS);
  add("overlap probe: load, wait 10 ms, then call", async () => {
    const child = load(TRIVIAL_MAIN, "export default () => async () => 2;");
    await wait();
    await child.run();
  }, ASYNC_ITERATIONS);
  add("D1: SELECT 1 (what any one query costs)", () => env.EXECUTIONS_DB.prepare("SELECT 1").run(), ASYNC_ITERATIONS);
  add("D1: db.batch of one SELECT 1", () => env.EXECUTIONS_DB.batch([env.EXECUTIONS_DB.prepare("SELECT 1")]), ASYNC_ITERATIONS);
  add("D1: db.batch of 4 x SELECT 1 (per batch)", () => env.EXECUTIONS_DB.batch([1, 2, 3, 4].map(() => env.EXECUTIONS_DB.prepare("SELECT 1"))), ASYNC_ITERATIONS);
  add("D1: 4 running rows at once (per 4)", () => Promise.all([1, 2, 3, 4].map(() => recorder.started(started()))), ASYNC_ITERATIONS);
  add("D1: running row (recorder.started)", () => recorder.started(started()), ASYNC_ITERATIONS);
  add("D1: running row + outcome (started, finished)", async () => {
    const execution = started();
    await recorder.started(execution);
    await recorder.finished(execution, result);
  }, ASYNC_ITERATIONS);
  add("encoding (Response.json of the result)", () => Response.json(result).text());
  add("executeRequest, no history", () => executeRequest({ env, ctx }, request, { kind: "http", identity: "anonymous" }), ASYNC_ITERATIONS);
  // For comparison only: the outcome written after the response (ctx.waitUntil) instead of before it.
  const deferredOutcome: ExecutionRecorder = {
    started: (execution) => recorder.started(execution),
    finished: async (execution, outcome) => ctx.waitUntil(recorder.finished(execution, outcome)),
  };
  add("executeRequest with history, outcome in waitUntil", () =>
    executeRequest({ env, ctx, recorder: deferredOutcome }, request, { kind: "http", identity: "anonymous" }),
    ASYNC_ITERATIONS,
  );
  add("executeRequest with history (both writes)", () =>
    executeRequest({ env, ctx, recorder }, request, { kind: "http", identity: "anonymous" }),
    ASYNC_ITERATIONS,
  );
  add("4 executeRequest at once, both writes (per 4)", () =>
    Promise.all([1, 2, 3, 4].map(() => executeRequest({ env, ctx, recorder }, request, { kind: "http", identity: "anonymous" }))),
    ASYNC_ITERATIONS,
  );
  add("8 executeRequest at once, both writes (per 8)", () =>
    Promise.all(Array.from({ length: 8 }, () => executeRequest({ env, ctx, recorder }, request, { kind: "http", identity: "anonymous" }))),
    ASYNC_ITERATIONS / 2,
  );
  return list;
}

/**
 * GET / lists the stages; POST /?stage=N runs stage N its number of times and answers the calls made and the
 * mean wall ms per call. The driver reads the runtime's CPU time around each POST.
 */
export default {
  async fetch(request, env, ctx) {
    const prepared = await prepare(CODE, "javascript");
    if (!prepared.ok) throw new Error("the profile's program did not prepare");
    const list = stages(env, ctx, prepared.program);
    if (request.method !== "POST") return Response.json(list.map(({ name, iterations }) => ({ name, iterations })));
    const stage = list[Number(new URL(request.url).searchParams.get("stage"))];
    if (!stage) return Response.json({ error: "no such stage" }, { status: 404 });
    return Response.json({ iterations: stage.iterations, wallMs: await batch(stage.iterations, stage.fn) });
  },
} satisfies ExportedHandler<Env>;

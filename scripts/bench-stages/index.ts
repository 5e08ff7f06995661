// The per-stage profile behind `npm run bench:stages` (scripts/bench-stages.mjs): the service's own modules,
// bundled with the service's wrangler.jsonc (bindings, Text rules) but with this file as main, so each stage of
// one `return 1 + 1` execution can be timed on its own, in the same runtime, with the same inputs. A bench-only
// build: nothing here ships, and the service's code is not changed to be measured.
//
// workerd's clock (performance.now() too) moves only between I/O events, in whole ms: so every stage runs many
// times in a row between two timer callbacks, and the mean per call, less an empty batch's, is reported in µs.

import * as acorn from "acorn";
import { ExecuteRequestSchema } from "../../schemas/execute";
import { MAX_REQUEST_BYTES } from "../../schemas/limits";
import { buildChildEnv } from "../../worker/capabilities/child-env";
import { analyze } from "../../worker/execution/analyze";
import { instrument, newGuardName } from "../../worker/execution/instrument";
import { executeRequest } from "../../worker/execution/pipeline";
import { prepare } from "../../worker/execution/prepare";
import { runInSandbox } from "../../worker/execution/sandbox";
import { SANDBOX_MODULES } from "../../worker/execution/sandbox-modules";
import { createRecorder } from "../../worker/history/recorder";
import { parseInput, readJsonBody } from "../../worker/parse";

// ctx.exports only sees classes exported from the main module: the capability stubs need them.
export { CodeExecutor } from "../../worker/rpc";
export { AiCapability } from "../../worker/capabilities/ai";
export { ApiCapability } from "../../worker/capabilities/api";
export { DbCapability } from "../../worker/capabilities/db";

/** Calls per batch: synchronous stages are µs, so they need many; the ones that wait on I/O fewer. */
const SYNC_ITERATIONS = 400;
const ASYNC_ITERATIONS = 40;
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

/** Mean ms per call of `fn` over `iterations` calls in a row, less what an empty batch costs. */
async function batch(iterations: number, fn: () => unknown): Promise<number> {
  await tick();
  const before = performance.now();
  for (let i = 0; i < iterations; i++) await fn();
  await tick();
  return (performance.now() - before) / iterations;
}

async function stage(name: string, iterations: number, fn: () => unknown): Promise<[string, number]> {
  const empty = await batch(iterations, () => undefined);
  return [name, Math.round((await batch(iterations, fn)) * 1000 - empty * 1000)];
}

async function profile(env: Env, ctx: ExecutionContext): Promise<Record<string, number>> {
  const request = parseInput(ExecuteRequestSchema, JSON.parse(BODY));
  const prepared = await prepare(CODE, "javascript");
  if (!prepared.ok) throw new Error("the profile's program did not prepare");
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

  const stages: [string, number][] = [];
  const add = async (name: string, fn: () => unknown, iterations = SYNC_ITERATIONS) => stages.push(await stage(name, iterations, fn));
  await add("request body read + JSON.parse", () =>
    readJsonBody(new Request("http://x/execute", { method: "POST", headers: { "content-type": "application/json" }, body: BODY }), MAX_REQUEST_BYTES),
  );
  await add("validation (valibot ExecuteRequestSchema)", () => parseInput(ExecuteRequestSchema, JSON.parse(BODY)));
  await add("parse (acorn)", () => acorn.parse(CODE, { ecmaVersion: "latest", sourceType: "module", allowReturnOutsideFunction: true, locations: true }));
  await add("parse + policy checks (analyze)", () => analyze(CODE));
  await add("instrumentation (instrument)", () => {
    const analyzed = analyze(CODE);
    if (analyzed.ok) instrument(CODE, analyzed.program.ast, newGuardName());
  });
  await add("prepare (all of the above for JS)", () => prepare(CODE, "javascript"));
  await add("child env (3 capability stubs)", childEnv);
  const warmChild = load(TRIVIAL_MAIN, "export default () => async () => 2;");
  await warmChild.run();
  await add("RPC call alone (to a child already loaded)", () => warmChild.run(), ASYNC_ITERATIONS);
  await add("isolate + RPC call (trivial child, as the floor)", () => load(TRIVIAL_MAIN, "export default () => async () => 2;").run(), ASYNC_ITERATIONS);
  await add("isolate + harness modules evaluated + RPC", () => load(PROBE_MAIN, prepared.program.moduleCode).run(), ASYNC_ITERATIONS);
  await add("runInSandbox (isolate, harness, run(), reply check)", () =>
    runInSandbox(env.LOADER, { moduleCode: prepared.program.moduleCode, childEnv: childEnv(), contextJson: "{}", timeoutMs: 30_000, captureLogs: true }),
    ASYNC_ITERATIONS,
  );
  await add("D1: running row (recorder.started)", () => recorder.started(started()), ASYNC_ITERATIONS);
  await add("D1: running row + outcome (started, finished)", async () => {
    const execution = started();
    await recorder.started(execution);
    await recorder.finished(execution, result);
  }, ASYNC_ITERATIONS);
  await add("encoding (Response.json of the result)", () => Response.json(result).text());
  await add("executeRequest, no history", () => executeRequest({ env, ctx }, request, { kind: "http", identity: "anonymous" }), ASYNC_ITERATIONS);
  await add("executeRequest with history (both writes)", () =>
    executeRequest({ env, ctx, recorder }, request, { kind: "http", identity: "anonymous" }),
    ASYNC_ITERATIONS,
  );
  return Object.fromEntries(stages);
}

export default {
  async fetch(request, env, ctx) {
    if (request.method !== "POST") return Response.json({ ok: true });
    return Response.json(await profile(env, ctx));
  },
} satisfies ExportedHandler<Env>;

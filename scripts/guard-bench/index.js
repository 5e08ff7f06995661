// @ts-check
// Measures one guard.js (sent in the request) in a fresh isolate, the way instrumented code calls it: the guard
// is a parameter of the factory, called once per loop iteration. scripts/guard-bench.mjs compares two versions.
//   { kind: "tight", loopMs }            -> { checksPerMs }: a loop whose body is only the guard check
//   { kind: "expensive", warmupChecks }  -> { pastDeadlineMs }: a loop of a.join over 2e5 holes (about 1 ms each)
//                                           against a 100 ms deadline, after warmupChecks cheap iterations

const MAIN = `
import { WorkerEntrypoint } from "cloudflare:workers";
import { createGuard } from "./guard.js";
const FAR_MS = 1e9;
const STEPS_PER_MS = 500000;
export default class extends WorkerEntrypoint {
  tight(loopMs) {
    const G = createGuard(Date.now() + FAR_MS, STEPS_PER_MS).guard;
    const startedAt = performance.now();
    let checks = 0;
    while (performance.now() - startedAt < loopMs) {
      for (let i = 0; i < 100000; i++) {G();}
      checks += 100000;
    }
    return { checksPerMs: checks / (performance.now() - startedAt) };
  }
  expensive(warmupChecks) {
    const deadlineAt = Date.now() + 100;
    const G = createGuard(deadlineAt, STEPS_PER_MS).guard;
    const a = new Array(2e5);
    try {
      for (let i = 0; ; i++) {G(); if (i >= warmupChecks) a.join(","); }
    } catch {
      return { pastDeadlineMs: Date.now() - deadlineAt };
    }
  }
}
`;

export default {
  /**
   * @param {Request} request
   * @param {{ LOADER: WorkerLoader }} env
   */
  async fetch(request, env) {
    // GET is the readiness probe of scripts/local-service.mjs.
    if (request.method !== "POST") return new Response("guard bench");
    const { guardSource, kind, loopMs, warmupChecks } = /** @type {any} */ (await request.json());
    const worker = env.LOADER.load({
      compatibilityDate: "2026-08-01",
      mainModule: "main.js",
      modules: { "main.js": MAIN, "guard.js": guardSource },
      globalOutbound: null,
    });
    const entrypoint = /** @type {any} */ (worker.getEntrypoint());
    return Response.json(kind === "tight" ? await entrypoint.tight(loopMs) : await entrypoint.expensive(warmupChecks));
  },
};

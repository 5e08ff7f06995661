// @ts-check
// The floor scripts/bench.mjs compares POST /execute against: per request, one fresh isolate with a trivial
// child, called once over RPC, exactly as the service calls its harness. Nothing else: no parsing, no
// validation, no instrumentation, no history. GET /noop answers without loading anything: the bench subtracts
// it, so what is left is the cost of one execution.

const CHILD_MAIN = `
import { WorkerEntrypoint } from "cloudflare:workers";
export default class extends WorkerEntrypoint {
  run() { return { status: "success", resultJson: JSON.stringify(1 + 1) }; }
}
`;

export default {
  /**
   * @param {Request} request
   * @param {{ LOADER: WorkerLoader }} env
   */
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/noop") return Response.json({ ok: true });
    const worker = env.LOADER.load({
      compatibilityDate: "2026-08-01",
      mainModule: "main.js",
      modules: { "main.js": CHILD_MAIN },
      globalOutbound: null,
    });
    const entrypoint = /** @type {{ run(): Promise<unknown> }} */ (/** @type {unknown} */ (worker.getEntrypoint()));
    return Response.json(await entrypoint.run());
  },
};

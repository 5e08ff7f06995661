// @ts-check
// A peer for scripts/bench.mjs: Cloudflare's own Worker Loader executor, @cloudflare/codemode's
// DynamicWorkerExecutor, running `return 1 + 1` with no tools, as a codemode agent would. It does no validation,
// no instrumentation and no history, so it shows what a lean executor costs per execution on this machine.
// GET /noop answers without executing: the bench subtracts it.

import { DynamicWorkerExecutor } from "@cloudflare/codemode";

export default {
  /**
   * @param {Request} request
   * @param {{ LOADER: WorkerLoader }} env
   */
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/noop") return Response.json({ ok: true });
    // One executor per request, as an agent builds it from its env; it keeps no isolate between calls.
    const executor = new DynamicWorkerExecutor({ loader: env.LOADER, timeout: 30_000 });
    const outcome = await executor.execute("return 1 + 1", []);
    return Response.json({ success: outcome.error === undefined, result: outcome.result, error: outcome.error });
  },
};

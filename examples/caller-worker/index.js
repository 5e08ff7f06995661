// An example Worker that calls code-exec over a service binding (see its wrangler.jsonc). The tests use it as
// the most honest RPC client: a separate Worker calling through a real binding.
export default {
  /**
   * POST a JSON body { method, args } to call env.CODE_EXEC[method](...args) and get its result as JSON.
   * @param {Request} request
   * @param {{ CODE_EXEC: Record<string, (...args: unknown[]) => Promise<unknown>> }} env
   */
  async fetch(request, env) {
    const { method, args } = /** @type {{ method: string, args: unknown[] }} */ (await request.json());
    try {
      const result = await env.CODE_EXEC[method](...args);
      return Response.json({ ok: true, result });
    } catch (error) {
      const e = /** @type {Error} */ (error);
      return Response.json({ ok: false, error: { name: e.name, message: e.message } });
    }
  },
};

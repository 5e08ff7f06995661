// An example Worker that calls code-exec over a service binding (wrangler.jsonc next to this file). The tests use
// it as the most honest RPC client: a separate Worker calling through a real binding. Type-checked against the
// types code-exec exports (package.json "exports" -> worker/client.ts), so the calls below are fully typed.

/** @typedef {{ CODE_EXEC: import("code-exec").CodeExecBinding }} Env */
/** @typedef {import("code-exec").StreamEvent} StreamEvent */
/** @typedef {{ code: string, cancelAfterLogs?: number }} StreamRequest */

/**
 * POST /stream { code, cancelAfterLogs? }: runs the code with executeStream() and answers the events it read as
 * JSON. Each line of the stream is one event (start, log…, result). With cancelAfterLogs, it cancels the run after
 * that many log events and reads on to the result, which then has status "cancelled" and the logs so far.
 * @param {Env} env
 * @param {StreamRequest} body
 */
async function streamExecution(env, body) {
  const execution = await env.CODE_EXEC.executeStream(body.code, "javascript", {}, { timeout: 20_000 });
  const reader = execution.events.pipeThrough(new TextDecoderStream()).getReader();
  /** @type {StreamEvent[]} */
  const events = [];
  let buffered = "";
  let logs = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffered += value;
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      const event = /** @type {StreamEvent} */ (JSON.parse(buffered.slice(0, newline)));
      buffered = buffered.slice(newline + 1);
      events.push(event);
      if (event.type === "log" && ++logs === body.cancelAfterLogs) await execution.cancel();
      newline = buffered.indexOf("\n");
    }
  }
  return Response.json({ events });
}

export default {
  /**
   * GET /hello runs the README's example; POST { method, args } calls env.CODE_EXEC[method](...args) (the tests'
   * generic client) and answers its result, or the error's name and message, as JSON.
   * @param {Request} request
   * @param {Env} env
   */
  async fetch(request, env) {
    if (request.method === "GET" && new URL(request.url).pathname === "/hello") {
      const result = await env.CODE_EXEC.executeCode("return `Hello ${context.name}!`", "javascript", { name: "World" });
      const recent = await env.CODE_EXEC.listExecutions({ limit: 1 });
      return Response.json({ greeting: result.success ? result.result : result.error?.message, status: result.status, total: recent.total });
    }
    if (request.method === "POST" && new URL(request.url).pathname === "/stream") {
      return streamExecution(env, /** @type {StreamRequest} */ (await request.json()));
    }
    if (request.method !== "POST") return new Response("GET /hello, POST /stream, or POST a JSON body { method, args }\n", { status: 404 });
    const { method, args } = /** @type {{ method: string, args: unknown[] }} */ (await request.json());
    const binding = /** @type {Record<string, (...args: unknown[]) => Promise<unknown>>} */ (/** @type {unknown} */ (env.CODE_EXEC));
    try {
      const call = binding[method];
      if (typeof call !== "function") throw new TypeError(`CODE_EXEC has no method ${method}`);
      const result = await Reflect.apply(call, binding, args);
      return Response.json({ ok: true, result });
    } catch (error) {
      const e = /** @type {Error} */ (error);
      return Response.json({ ok: false, error: { name: e.name, message: e.message } });
    }
  },
};

// @ts-check
// A sandbox host: a workerd process that only loads and runs child isolates. It has no database, no secret and
// no network of its own; its one binding besides LOADER is FRONT, the front Worker's address, which it uses for
// nothing but forwarding a child's capability calls under that execution's token. The plane dispatcher
// (scripts/sandbox-plane.mjs) is its only client.
//
// Protocol (keep in sync with worker/execution/remote-sandbox.ts and scripts/sandbox-plane.mjs):
//   GET  /health                           -> 200 { moduleSets }
//   PUT  /modules/{sha256 of the body}     { mainModule, modules }  -> 204 | 400 (hash mismatch)
//   POST /run { modulesHash, userModuleName, userModule, runModules, input, limits, bindings, token }
//   (runModules: this run's other modules, a multi-file program's files and its packages, as loader modules)
//        -> 200 { kind: "reply", reply } | 200 { kind: "failed", name, message } | 409 (unknown module set)
// The reply is whatever the harness's run() resolved with, passed on untouched: the front parses it.
//
// Capability forwarding (keep in sync with worker/http/sandbox-capability.ts): each allowed binding in the
// child's env is a CapabilityForwarder stub whose props carry the binding name and the token; a call becomes
// POST {FRONT}/internal/sandbox-capability { binding, method, args } and resolves to the front's reply.

import { WorkerEntrypoint } from "cloudflare:workers";

/** Keep in sync with SANDBOX_COMPATIBILITY_DATE in worker/execution/sandbox.ts. */
const SANDBOX_COMPATIBILITY_DATE = "2026-08-01";
const CAPABILITY_PATH = "/internal/sandbox-capability";
const BINDINGS = new Set(["AI", "API", "DB", "LOGS"]);

/** Module sets by content hash; uploaded once per host lifetime, never per execution. */
/** @type {Map<string, { mainModule: string, modules: Record<string, string> }>} */
const moduleSets = new Map();

/**
 * @typedef {{ LOADER: WorkerLoader, FRONT: Fetcher }} HostEnv
 * @typedef {{ binding: string, token: string }} ForwarderProps
 */

/** @extends {WorkerEntrypoint<HostEnv, ForwarderProps>} */
export class CapabilityForwarder extends WorkerEntrypoint {
  /** @param {unknown} model @param {unknown} input */
  run(model, input) {
    return this.#forward("run", [model, input]);
  }
  /** @param {unknown} url @param {unknown} options */
  request(url, options) {
    return this.#forward("request", [url, options]);
  }
  /** @param {unknown} query */
  query(query) {
    return this.#forward("query", [query]);
  }
  /** The log channel (worker/capabilities/logs.ts). @param {unknown} firstSeq @param {unknown} entriesJson */
  append(firstSeq, entriesJson) {
    return this.#forward("append", [firstSeq, entriesJson]);
  }

  /**
   * Private, so not callable over RPC. The front checks the method against the binding and the grant anyway: a
   * child holding only AI that calls env.AI.query() is refused there.
   * @param {string} method
   * @param {unknown[]} args
   */
  async #forward(method, args) {
    const { binding, token } = this.ctx.props;
    let body;
    try {
      body = JSON.stringify({ binding, method, args });
    } catch {
      return { ok: false, error: { code: "INVALID_ARGUMENT", message: "arguments must be JSON-serializable" } };
    }
    const response = await this.env.FRONT.fetch(`http://front${CAPABILITY_PATH}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
    });
    if (!response.ok) {
      await response.body?.cancel();
      return { ok: false, error: { code: "INTERNAL_ERROR", message: `the service refused the capability call (${response.status})` } };
    }
    return await response.json();
  }
}

/** @param {string} text */
async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * @param {any} run
 * @param {HostEnv} env
 * @param {ExecutionContext} ctx
 */
async function runChild(run, env, ctx) {
  const set = moduleSets.get(String(run.modulesHash));
  if (!set) return Response.json({ missing: "modules" }, { status: 409 });
  /** @type {Record<string, unknown>} */
  const childEnv = {};
  for (const binding of run.bindings) {
    if (!BINDINGS.has(binding)) continue;
    childEnv[binding] = /** @type {any} */ (ctx).exports.CapabilityForwarder({ props: { binding, token: String(run.token) } });
  }
  const worker = env.LOADER.load({
    compatibilityDate: SANDBOX_COMPATIBILITY_DATE,
    compatibilityFlags: [],
    mainModule: set.mainModule,
    modules: { ...set.modules, ...(run.runModules ?? {}), [String(run.userModuleName)]: String(run.userModule) },
    env: childEnv,
    globalOutbound: null,
    limits: run.limits,
  });
  try {
    const reply = await /** @type {any} */ (worker.getEntrypoint()).run(run.input);
    return Response.json({ kind: "reply", reply });
  } catch (error) {
    const e = /** @type {Error} */ (error);
    return Response.json({ kind: "failed", name: String(e?.name ?? "Error"), message: String(e?.message ?? error) });
  }
}

export default {
  /**
   * @param {Request} request
   * @param {HostEnv} env
   * @param {ExecutionContext} ctx
   */
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/health") return Response.json({ moduleSets: moduleSets.size });
    if (request.method === "POST" && url.pathname === "/run") return runChild(await request.json(), env, ctx);
    const upload = /^\/modules\/([0-9a-f]{64})$/.exec(url.pathname);
    if (request.method === "PUT" && upload) {
      const text = await request.text();
      if ((await sha256Hex(text)) !== upload[1]) return new Response("hash mismatch", { status: 400 });
      const parsed = JSON.parse(text);
      moduleSets.set(upload[1], { mainModule: String(parsed.mainModule), modules: parsed.modules });
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  },
};

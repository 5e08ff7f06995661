// @ts-check
// A sandbox host: a workerd process that only loads and runs child isolates. It has no database, no secret and
// no network of its own. Besides LOADER it has FRONT, the front Worker's address, which it uses for nothing but
// forwarding a child's capability calls under that execution's token, and ASSETS, a read-only directory of
// language files (below). The plane dispatcher (scripts/sandbox-plane.mjs) is its only client.
//
// Protocol (keep in sync with worker/execution/remote-sandbox.ts, worker/execution/plane-modules.ts and
// scripts/sandbox-plane.mjs):
//   GET  /health                           -> 200 { moduleSets }
//   PUT  /modules/{sha256 of the body}     PlaneModuleSet { mainModule, modules, replaceable?, assets? }  -> 204 | 400
//   POST /run { modulesHash, runModules, input, limits, bindings, token }
//   (runModules: this run's own modules, user.js or user.py, a multi-file program's files and its packages)
//        -> 200 { kind: "reply", reply } | 200 { kind: "failed", name, message } | 409 (unknown module set) | 400
// The reply is whatever the harness's run() resolved with, passed on untouched: the front parses it.
//
// Modules from the network are source text only ({ js } | { text } | { json }): a host never takes a binary
// module (wasm, data) from the network. A language's binary files (Pyodide's wasm, its stdlib, its memory
// snapshot) come from the host's own ASSETS directory (python-assets/, the directory the front serves as its
// ASSETS), named by file in the module set, read once per host process and kept; the set also names the build
// (python-assets/manifest.json inputsSha256) and the host refuses to run it on files of another build. Missing
// files fail that language's runs, never the host.
//
// Capability forwarding (keep in sync with worker/http/sandbox-capability.ts): each allowed binding in the
// child's env is a CapabilityForwarder stub whose props carry the binding name and the token; a call becomes
// POST {FRONT}/internal/sandbox-capability { binding, method, args } and resolves to the front's reply.

import { WorkerEntrypoint } from "cloudflare:workers";

/** Keep in sync with SANDBOX_COMPATIBILITY_DATE in worker/execution/sandbox.ts. */
const SANDBOX_COMPATIBILITY_DATE = "2026-08-01";
const CAPABILITY_PATH = "/internal/sandbox-capability";
const BINDINGS = new Set(["AI", "API", "DB", "LOGS"]);

/**
 * @typedef {{ js: string } | { text: string } | { json: unknown }} TextModule
 * @typedef {{ file: string, type: "wasm" | "data" | "js" | "text", gzip?: boolean }} AssetModule
 * @typedef {{ mainModule: string, modules: Record<string, TextModule>, replaceable: string[], assets?: { buildId: string, modules: Record<string, AssetModule> } }} ModuleSet
 */

/** Module sets by content hash; uploaded once per host lifetime, never per execution. */
/** @type {Map<string, ModuleSet>} */
const moduleSets = new Map();

/** The build's manifest in ASSETS (written by scripts/build-python.mjs). */
const ASSET_MANIFEST = "manifest.json";
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MODULE_NAME = /^[A-Za-z0-9_@][A-Za-z0-9_@./-]{0,255}$/;

/**
 * @typedef {{ LOADER: WorkerLoader, FRONT: Fetcher, ASSETS: Fetcher }} HostEnv
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

/** @param {unknown} value @returns {value is Record<string, unknown>} */
const isRecord = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A module from the network, or undefined when it is not plain source text.
 * @param {unknown} module
 * @returns {TextModule | undefined}
 */
function textModule(module) {
  if (!isRecord(module)) return undefined;
  const keys = Object.keys(module);
  if (keys.length !== 1) return undefined;
  if (keys[0] === "js" && typeof module.js === "string") return { js: module.js };
  if (keys[0] === "text" && typeof module.text === "string") return { text: module.text };
  if (keys[0] === "json") return { json: module.json };
  return undefined;
}

/**
 * Modules by name, each plain source text; undefined if any is not.
 * @param {unknown} modules
 * @returns {Record<string, TextModule> | undefined}
 */
function textModules(modules) {
  if (!isRecord(modules)) return undefined;
  /** @type {Record<string, TextModule>} */
  const out = {};
  for (const [name, module] of Object.entries(modules)) {
    const checked = MODULE_NAME.test(name) ? textModule(module) : undefined;
    if (!checked) return undefined;
    out[name] = checked;
  }
  return out;
}

/**
 * @param {unknown} parsed
 * @returns {ModuleSet | string} the set, or what is wrong with it
 */
function moduleSetOf(parsed) {
  if (!isRecord(parsed) || typeof parsed.mainModule !== "string") return "a module set needs mainModule";
  const modules = textModules(parsed.modules);
  if (!modules) return "modules must be source text ({ js } | { text } | { json }) under plain names";
  const replaceable = parsed.replaceable ?? [];
  if (!Array.isArray(replaceable) || !replaceable.every((name) => typeof name === "string" && name in modules)) {
    return "replaceable must name modules of the set";
  }
  if (parsed.assets === undefined) return { mainModule: parsed.mainModule, modules, replaceable };
  const assets = parsed.assets;
  if (!isRecord(assets) || typeof assets.buildId !== "string" || !/^[0-9a-f]{64}$/.test(assets.buildId) || !isRecord(assets.modules)) {
    return "assets needs a buildId (SHA-256 hex) and modules";
  }
  /** @type {Record<string, AssetModule>} */
  const assetModules = {};
  for (const [name, module] of Object.entries(assets.modules)) {
    if (!MODULE_NAME.test(name) || name in modules || !isRecord(module)) return `asset module ${name} is malformed`;
    const { file, type, gzip } = module;
    if (typeof file !== "string" || !FILE_NAME.test(file)) return `asset module ${name} names no plain file`;
    if (type !== "wasm" && type !== "data" && type !== "js" && type !== "text") return `asset module ${name} has an unknown type`;
    assetModules[name] = { file, type, gzip: gzip === true };
  }
  return { mainModule: parsed.mainModule, modules, replaceable, assets: { buildId: assets.buildId, modules: assetModules } };
}

/** Files of ASSETS, decoded, for this process's lifetime. A failed read is not kept, so the next run retries. */
/** @type {Map<string, Promise<ArrayBuffer | string>>} */
const assetCache = new Map();

/**
 * @param {Fetcher} assets
 * @param {AssetModule} module
 * @returns {Promise<ArrayBuffer | string>}
 */
function readAsset(assets, { file, type, gzip }) {
  const key = `${type}:${gzip ? "gzip:" : ""}${file}`;
  let read = assetCache.get(key);
  if (!read) {
    read = (async () => {
      const response = await assets.fetch(`http://assets/${file}`);
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        throw new Error(`${file} is missing (${response.status})`);
      }
      const body = gzip ? response.body.pipeThrough(new DecompressionStream("gzip")) : response.body;
      const bytes = await new Response(body).arrayBuffer();
      return type === "js" || type === "text" ? new TextDecoder().decode(bytes) : bytes;
    })();
    read.catch(() => assetCache.delete(key));
    assetCache.set(key, read);
  }
  return read;
}

/** The build the host's ASSETS hold (manifest.json inputsSha256), or undefined when there is none. */
/** @param {Fetcher} assets */
async function assetBuildId(assets) {
  const manifest = await readAsset(assets, { file: ASSET_MANIFEST, type: "text" }).catch(() => undefined);
  if (typeof manifest !== "string") return undefined;
  try {
    const id = JSON.parse(manifest).inputsSha256;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The set's asset modules as loader modules, or the reason this host cannot provide them.
 * @param {ModuleSet} set
 * @param {Fetcher} assets
 * @returns {Promise<Record<string, WorkerLoaderModule> | string>}
 */
async function assetModulesOf(set, assets) {
  if (!set.assets) return {};
  const buildId = await assetBuildId(assets);
  if (buildId !== set.assets.buildId) {
    return buildId === undefined
      ? "this language's runtime files are not on the sandbox host (python-assets/ missing: run npm run build:python)"
      : "the sandbox host's runtime files are another build than the service's (run npm run build:python, then restart)";
  }
  /** @type {Record<string, WorkerLoaderModule>} */
  const out = {};
  try {
    await Promise.all(
      Object.entries(set.assets.modules).map(async ([name, module]) => {
        const content = await readAsset(assets, module);
        out[name] = /** @type {WorkerLoaderModule} */ (
          module.type === "wasm" ? { wasm: content } : module.type === "data" ? { data: content } : module.type === "js" ? { js: content } : { text: content }
        );
      }),
    );
  } catch (error) {
    return `this language's runtime files could not be read on the sandbox host: ${/** @type {Error} */ (error).message}`;
  }
  return out;
}

/** @param {string} message */
const failed = (message) => Response.json({ kind: "failed", name: "SandboxError", message });

/**
 * @param {any} run
 * @param {HostEnv} env
 * @param {ExecutionContext} ctx
 */
async function runChild(run, env, ctx) {
  const set = moduleSets.get(String(run?.modulesHash));
  if (!set) return Response.json({ missing: "modules" }, { status: 409 });
  const runModules = textModules(run.runModules ?? {});
  if (!runModules) return Response.json({ error: "runModules must be source text under plain names" }, { status: 400 });
  const assetModules = await assetModulesOf(set, env.ASSETS);
  if (typeof assetModules === "string") return failed(assetModules);
  for (const name of Object.keys(runModules)) {
    // The run's own modules (the user's code) never stand in for the harness or the runtime.
    if ((name in set.modules && !set.replaceable.includes(name)) || name in assetModules) {
      return Response.json({ error: `run module ${name} shadows the module set` }, { status: 400 });
    }
  }
  /** @type {Record<string, unknown>} */
  const childEnv = {};
  for (const binding of Array.isArray(run.bindings) ? run.bindings : []) {
    if (!BINDINGS.has(binding)) continue;
    childEnv[binding] = /** @type {any} */ (ctx).exports.CapabilityForwarder({ props: { binding, token: String(run.token) } });
  }
  try {
    const worker = env.LOADER.load({
      compatibilityDate: SANDBOX_COMPATIBILITY_DATE,
      compatibilityFlags: [],
      mainModule: set.mainModule,
      modules: /** @type {Record<string, WorkerLoaderModule>} */ ({ ...set.modules, ...assetModules, ...runModules }),
      env: childEnv,
      globalOutbound: null,
      limits: run.limits,
    });
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
      let set;
      try {
        set = moduleSetOf(JSON.parse(text));
      } catch {
        set = "the module set is not JSON";
      }
      if (typeof set === "string") return new Response(set, { status: 400 });
      moduleSets.set(upload[1], set);
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  },
};

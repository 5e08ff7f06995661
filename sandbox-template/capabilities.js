// @ts-check
// The runtime APIs user code sees as globals: ai(), api(), db(). Each is a thin wrapper over a capability stub
// in this isolate's env (AI, API, DB: keep in sync with worker/capabilities/child-env.ts), created by the parent
// per execution with its policy in props.
//
// Protocol (keep in sync with worker/capabilities/reply.ts): every stub method resolves to
//   { ok: true, value } | { ok: false, error: { code, message } }
// and never throws host objects across; the wrapper turns an error reply into a thrown CapabilityError.

class CapabilityError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "CapabilityError";
    this.code = code;
  }
}

/** @typedef {{ ok: true, value: unknown } | { ok: false, error: { code: string, message: string } }} Reply */

/** @param {unknown} reply */
function unwrap(reply) {
  const r = /** @type {Reply} */ (reply);
  if (r && r.ok === true) return r.value;
  if (r && r.ok === false && r.error) throw new CapabilityError(String(r.error.code), String(r.error.message));
  throw new CapabilityError("SANDBOX_ERROR", "capability returned a malformed reply");
}

/**
 * URL and Headers objects cannot cross RPC; turning them into a string and a plain object here lets user code
 * pass what fetch() would accept. Only the shape changes: the parent validates whatever arrives.
 * @param {unknown} url
 * @param {unknown} options
 * @returns {[unknown, unknown]}
 */
function apiArguments(url, options) {
  const href = url instanceof URL ? url.href : url;
  if (!options || typeof options !== "object") return [href, options];
  const { headers } = /** @type {{ headers?: unknown }} */ (options);
  if (!(headers instanceof Headers)) return [href, options];
  return [href, { ...options, headers: Object.fromEntries(headers) }];
}

/** @param {string} name */
function denied(name) {
  return async () => {
    throw new CapabilityError("CAPABILITY_DENIED", `${name}() is not allowed for this execution (config.allowedAPIs)`);
  };
}

/**
 * @param {Record<string, unknown>} env
 */
export function installCapabilities(env) {
  const ai = /** @type {{ run(model: unknown, input: unknown): Promise<unknown> } | undefined} */ (env.AI);
  const api = /** @type {{ request(url: unknown, options: unknown): Promise<unknown> } | undefined} */ (env.API);
  const db = /** @type {{ query(query: unknown): Promise<unknown> } | undefined} */ (env.DB);
  /** @type {Record<string, unknown>} */
  const globals = {
    ai: ai ? async (/** @type {unknown} */ model, /** @type {unknown} */ input) => unwrap(await ai.run(model, input)) : denied("ai"),
    api: api
      ? async (/** @type {unknown} */ url, /** @type {unknown} */ options) => unwrap(await api.request(...apiArguments(url, options)))
      : denied("api"),
    db: db ? async (/** @type {unknown} */ query) => unwrap(await db.query(query)) : denied("db"),
    CapabilityError,
  };
  for (const [name, value] of Object.entries(globals)) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }
}

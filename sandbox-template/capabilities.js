// @ts-check
// The runtime APIs user code sees as globals: ai(), api(), db(). Each is a thin wrapper over a capability stub
// in this isolate's env (AI, API, DB: keep in sync with worker/capabilities/child-env.ts), created by the parent
// per execution with its policy in props.
//
// Protocol (keep in sync with worker/capabilities/reply.ts): every stub method resolves to
//   { ok: true, value } | { ok: false, error: { code, message } }
// and never throws host objects across; the wrapper turns an error reply into a thrown CapabilityError.
//
// These wrappers run while user code runs and may be called after it has changed any global, so they use
// primordials.js only. The errors they throw are remembered here: the reply reports CAPABILITY_DENIED only for an
// error this module made, never for one the user built with the same name and code.

import { ObjectDefineProperty, StringCtor, WeakMapCtor, WeakMapPrototypeGet, WeakMapPrototypeSet } from "./primordials.js";

class CapabilityError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    // Defined, not assigned: a setter or a read-only "name" the user put on Error.prototype must not change them.
    ObjectDefineProperty(this, "name", /** @type {PropertyDescriptor} */ ({ __proto__: null, value: "CapabilityError", writable: true, enumerable: false, configurable: true }));
    ObjectDefineProperty(this, "code", /** @type {PropertyDescriptor} */ ({ __proto__: null, value: code, writable: true, enumerable: true, configurable: true }));
  }
}

// User code sees the class (a global): its name is set, not left to its binding, which the minifier renames
// (scripts/build-harness.mjs). Before user code exists.
ObjectDefineProperty(CapabilityError, "name", /** @type {PropertyDescriptor} */ ({ __proto__: null, value: "CapabilityError" }));

/** Errors this module threw, with their code. */
const issued = new WeakMapCtor();

/**
 * @param {string} code
 * @param {string} message
 */
function capabilityError(code, message) {
  const error = new CapabilityError(code, message);
  WeakMapPrototypeSet(issued, error, code);
  return error;
}

/**
 * The capability code of an error ai()/api()/db() threw; undefined for anything else, however it is named.
 * @param {unknown} value
 * @returns {string | undefined}
 */
export function issuedCapabilityCode(value) {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return undefined;
  return WeakMapPrototypeGet(issued, value);
}

/** @param {unknown} reply */
function unwrap(reply) {
  const r = /** @type {{ ok?: unknown, value?: unknown, error?: { code?: unknown, message?: unknown } } | null} */ (reply);
  if (r && r.ok === true) return r.value;
  if (r && r.ok === false && r.error) throw capabilityError(StringCtor(r.error.code), StringCtor(r.error.message));
  throw capabilityError("SANDBOX_ERROR", "capability returned a malformed reply");
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
    throw capabilityError("CAPABILITY_DENIED", `${name}() is not allowed for this execution (config.allowedAPIs)`);
  };
}

/**
 * Runs before user code, so the iteration and property writes here see the realm as it was built.
 * @param {Record<string, unknown>} env
 */
export function installCapabilities(env) {
  const ai = /** @type {{ run(model: unknown, input: unknown): Promise<unknown> } | undefined} */ (env.AI);
  const api = /** @type {{ request(url: unknown, options: unknown): Promise<unknown> } | undefined} */ (env.API);
  const db = /** @type {{ query(query: unknown): Promise<unknown> } | undefined} */ (env.DB);
  // The stubs are host objects the user cannot reach; their methods are answered by workerd, not a prototype.
  /** @type {Record<string, unknown>} */
  const globals = {
    ai: ai ? async (/** @type {unknown} */ model, /** @type {unknown} */ input) => unwrap(await ai.run(model, input)) : denied("ai"),
    api: api
      ? async (/** @type {unknown} */ url, /** @type {unknown} */ options) => {
          const args = apiArguments(url, options);
          return unwrap(await api.request(args[0], args[1]));
        }
      : denied("api"),
    db: db ? async (/** @type {unknown} */ query) => unwrap(await db.query(query)) : denied("db"),
    CapabilityError,
  };
  for (const [name, value] of Object.entries(globals)) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }
}

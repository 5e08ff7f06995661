// @ts-check
// Turns any value the user's code produces into a JSON-safe tree, with caps, inside the sandbox.
// The encoding is part of the public contract (README "Result encoding"); keep in sync with worker/docs.
//
// - JSON values come back as themselves; `undefined` in an object is omitted, in an array becomes null.
// - Date -> ISO string; objects with toJSON() -> what toJSON returns (as JSON.stringify does).
// - Values JSON cannot express become tagged objects: { "$type": "bigint" | "symbol" | "function" | "number"
//   | "Map" | "Set" | "Error" | "RegExp" | "circular" | "truncated" | "bytes" | "undefined", ... }.
// - Depth, node count and string size are capped; what is cut is replaced by a "truncated" tag.

// Captured before user code runs, so user code that patches globals cannot change the encoding.
const stringify = JSON.stringify;
const isArray = Array.isArray;
const ownKeys = Object.keys;
const getPrototypeOf = Object.getPrototypeOf;
const toISOString = Date.prototype.toISOString;
const getTime = Date.prototype.getTime;
const regexpToString = RegExp.prototype.toString;

/**
 * @typedef {{ maxChars: number, maxDepth: number, maxNodes: number }} EncodeLimits
 */

/**
 * @param {unknown} value
 * @param {EncodeLimits} limits
 * @returns {{ tree: unknown, truncated: boolean }}
 */
export function encode(value, limits) {
  const state = { budgetChars: limits.maxChars, nodes: 0, truncated: false };
  /** @type {Set<object>} */
  const seen = new Set();

  /** @param {string} why */
  const cut = (why) => {
    state.truncated = true;
    return { $type: "truncated", reason: why };
  };

  /**
   * @param {unknown} v
   * @param {number} depth
   * @param {boolean} inArray
   * @returns {unknown}
   */
  const walk = (v, depth, inArray) => {
    if (++state.nodes > limits.maxNodes) {
      // Spending the budget too makes every enclosing loop stop here; otherwise each remaining element would
      // become its own tag and a large array would still produce an unbounded reply (past RPC's 32 MiB limit).
      state.budgetChars = 0;
      return cut(`more than ${limits.maxNodes} values`);
    }
    if (state.budgetChars <= 0) return cut(`output larger than ${limits.maxChars} characters`);
    switch (typeof v) {
      case "string": {
        if (v.length > state.budgetChars) {
          const kept = v.slice(0, Math.max(0, state.budgetChars));
          state.budgetChars = 0;
          state.truncated = true;
          return { $type: "truncated", reason: "string too long", length: v.length, preview: kept };
        }
        state.budgetChars -= v.length + 2;
        return v;
      }
      case "number":
        state.budgetChars -= 8;
        if (Number.isFinite(v)) return Object.is(v, -0) ? 0 : v;
        return { $type: "number", value: String(v) };
      case "boolean":
        state.budgetChars -= 5;
        return v;
      case "bigint":
        state.budgetChars -= 24;
        return { $type: "bigint", value: v.toString() };
      case "symbol":
        state.budgetChars -= 24;
        return { $type: "symbol", description: v.description ?? null };
      case "function":
        state.budgetChars -= 24;
        return { $type: "function", name: safeName(v) };
      case "undefined":
        return inArray ? null : { $type: "undefined" };
    }
    if (v === null) {
      state.budgetChars -= 4;
      return null;
    }
    const obj = /** @type {Record<string | symbol, unknown>} */ (/** @type {unknown} */ (v));
    if (seen.has(obj)) return { $type: "circular" };
    if (depth >= limits.maxDepth) return cut(`nested deeper than ${limits.maxDepth} levels`);
    seen.add(obj);
    try {
      return walkObject(obj, depth);
    } finally {
      seen.delete(obj);
    }
  };

  /**
   * @param {Record<string | symbol, unknown>} obj
   * @param {number} depth
   */
  const walkObject = (obj, depth) => {
    if (obj instanceof Date) {
      return Number.isNaN(getTime.call(obj)) ? { $type: "Date", value: "Invalid Date" } : toISOString.call(obj);
    }
    if (obj instanceof Error) {
      /** @type {Record<string, unknown>} */
      const out = { $type: "Error", name: String(obj.name), message: String(obj.message) };
      if (obj.cause !== undefined) out.cause = walk(obj.cause, depth + 1, false);
      return out;
    }
    if (obj instanceof RegExp) return { $type: "RegExp", value: regexpToString.call(obj) };
    if (obj instanceof Map) {
      const entries = [];
      for (const [k, val] of obj) {
        if (state.budgetChars <= 0) {
          entries.push(cut("map too large"));
          break;
        }
        entries.push([walk(k, depth + 1, true), walk(val, depth + 1, true)]);
      }
      return { $type: "Map", entries };
    }
    if (obj instanceof Set) {
      const values = [];
      for (const val of obj) {
        if (state.budgetChars <= 0) {
          values.push(cut("set too large"));
          break;
        }
        values.push(walk(val, depth + 1, true));
      }
      return { $type: "Set", values };
    }
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) {
      const bytes = obj instanceof ArrayBuffer ? obj.byteLength : /** @type {ArrayBufferView} */ (obj).byteLength;
      return { $type: "bytes", kind: safeName(obj.constructor), byteLength: bytes };
    }
    if (typeof obj.then === "function") return { $type: "Promise" };
    if (typeof obj.toJSON === "function") {
      return walk(/** @type {() => unknown} */ (obj.toJSON).call(obj), depth + 1, false);
    }
    if (isArray(obj)) {
      const out = [];
      for (let i = 0; i < obj.length; i++) {
        if (state.budgetChars <= 0) {
          out.push(cut(`array of ${obj.length} items cut`));
          break;
        }
        out.push(walk(obj[i], depth + 1, true));
      }
      state.budgetChars -= 2;
      return out;
    }
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const key of ownKeys(obj)) {
      if (state.budgetChars <= 0) {
        out["$truncated"] = cut("object too large");
        break;
      }
      const val = walk(obj[key], depth + 1, false);
      // JSON.stringify omits undefined members; so do we, and functions stay tagged so nothing vanishes silently.
      if (isUndefinedTag(val)) continue;
      state.budgetChars -= key.length + 4;
      // defineProperty keeps a "__proto__" key as data instead of changing the prototype.
      Object.defineProperty(out, key, { value: val, enumerable: true, writable: true, configurable: true });
    }
    const proto = getPrototypeOf(obj);
    if (proto !== null && proto !== Object.prototype && ownKeys(out).length === 0) {
      const name = safeName(proto.constructor);
      if (name && name !== "Object") return { $type: "object", constructor: name };
    }
    return out;
  };

  const tree = walk(value, 0, false);
  return { tree, truncated: state.truncated };
}

/** @param {unknown} v */
function isUndefinedTag(v) {
  return typeof v === "object" && v !== null && /** @type {{ $type?: unknown }} */ (v).$type === "undefined";
}

/** @param {unknown} fn */
function safeName(fn) {
  try {
    return typeof fn === "function" && typeof fn.name === "string" ? fn.name : "";
  } catch {
    return "";
  }
}

/**
 * Encodes a value to a JSON string within the limits. Never throws: a value whose getters or toJSON throw
 * becomes a tag carrying the error message.
 * @param {unknown} value
 * @param {EncodeLimits} limits
 * @returns {{ json: string, truncated: boolean }}
 */
export function encodeJson(value, limits) {
  try {
    const { tree, truncated } = encode(value, limits);
    return { json: stringify(tree), truncated };
  } catch (error) {
    const message = error instanceof Error ? String(error.message) : "value could not be encoded";
    return { json: stringify({ $type: "unencodable", message }), truncated: true };
  }
}

/**
 * How console arguments become one message: strings as they are, errors as their stack, everything else as
 * compact JSON of the encoded tree.
 * @param {unknown[]} args
 * @param {EncodeLimits} limits
 */
export function formatLogArgs(args, limits) {
  /** @type {string[]} */
  const parts = [];
  for (const arg of args) {
    if (typeof arg === "string") parts.push(arg);
    else if (arg instanceof Error) parts.push(String(arg.stack ?? `${arg.name}: ${arg.message}`));
    else if (arg === undefined) parts.push("undefined");
    else if (typeof arg === "bigint") parts.push(`${arg}n`);
    else if (typeof arg === "symbol") parts.push(String(arg));
    // As Node prints them: a function's source here is the instrumented one, guard calls included.
    else if (typeof arg === "function") {
      const name = safeName(arg);
      parts.push(name ? `[Function: ${name}]` : "[Function (anonymous)]");
    }
    else parts.push(encodeJson(arg, limits).json);
  }
  return parts.join(" ");
}

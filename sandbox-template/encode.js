// @ts-check
// Turns any value the user's code produces into JSON text, with caps, inside the sandbox.
// The encoding is part of the public contract (README "Result encoding"); keep in sync with worker/docs.
//
// - JSON values come back as themselves; `undefined` in an object is omitted, in an array becomes null.
// - Date -> ISO string; objects with toJSON() -> what toJSON returns (as JSON.stringify does).
// - Values JSON cannot express become tagged objects: { "$type": "bigint" | "symbol" | "function" | "number"
//   | "Map" | "Set" | "Error" | "RegExp" | "circular" | "truncated" | "bytes" | "undefined", ... }.
// - Depth, value count and characters are capped; what is cut is replaced by a "truncated" tag.
//
// The encoder writes the JSON text itself instead of building a tree for JSON.stringify: JSON.stringify looks up
// toJSON on every object it meets, Object.prototype's included, so a user's Object.prototype.toJSON could answer
// for the encoder's own tags and bypass the cap. Here JSON.stringify only ever sees primitives, and every
// character of the output is counted against the budget: a string's escaped length counts, not its length.
// Everything user-replaceable is reached through primordials.js; what the user's own values do (getters, toJSON,
// Proxy traps) runs under the guard and is caught.

import {
  ArrayBufferIsView,
  ArrayBufferPrototypeGetByteLength,
  ArrayIsArray,
  BigIntPrototypeToString,
  DataViewPrototypeGetByteLength,
  DatePrototypeGetTime,
  DatePrototypeToISOString,
  ErrorIsError,
  ErrorPrototype,
  JSONStringify,
  MapIteratorPrototypeNext,
  MapPrototypeEntries,
  MapPrototypeGetSize,
  MathFloor,
  NumberIsFinite,
  ObjectGetPrototypeOf,
  ObjectIs,
  ObjectKeys,
  ObjectPrototype,
  ObjectPrototypeIsPrototypeOf,
  ObjectPrototypeToString,
  REGEXP_FLAG_GETTERS,
  ReflectApply,
  RegExpPrototypeGetSource,
  SetCtor,
  SetIteratorPrototypeNext,
  SetPrototypeAdd,
  SetPrototypeDelete,
  SetPrototypeGetSize,
  SetPrototypeHas,
  SetPrototypeValues,
  StringCtor,
  StringPrototypeSlice,
  SymbolPrototypeGetDescription,
  SymbolPrototypeToString,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetSymbolToStringTag,
} from "./primordials.js";

/** Names (of functions, constructors, typed arrays) are labels, not data: longer ones are cut. */
const MAX_NAME_CHARS = 200;

/**
 * @typedef {{ maxChars: number, maxDepth: number, maxNodes: number }} EncodeLimits
 */

/** Marks a value that JSON.stringify would omit from an object (undefined, or a toJSON that returns it). */
const OMITTED = undefined;

/**
 * @param {unknown} value
 * @param {EncodeLimits} limits
 * @returns {{ json: string | undefined, truncated: boolean }} json is undefined where JSON.stringify would give undefined
 */
function encode(value, limits) {
  let budget = limits.maxChars;
  let nodes = 0;
  let truncated = false;
  /** Objects on the path from the root: a value seen again below itself is circular. */
  const path = new SetCtor();

  /** @param {string} why */
  const cut = (why) => {
    truncated = true;
    return `{"$type":"truncated","reason":${JSONStringify(why)}}`;
  };

  /**
   * A string value, whole if its escaped form fits what is left of the budget, else a tagged preview of as much
   * as fits. Slicing first keeps a 50 MB string from being escaped whole.
   * @param {string} s
   */
  const encodeString = (s) => {
    const room = budget < 0 ? 0 : budget;
    let keep = s.length <= room ? s.length : room;
    let quoted = JSONStringify(StringPrototypeSlice(s, 0, keep));
    if (keep === s.length && quoted.length - 2 <= room) {
      budget -= quoted.length;
      return quoted;
    }
    // Escapes make the text longer than the string (up to 6x for control characters): shrink until it fits.
    while (quoted.length - 2 > room) {
      keep = MathFloor((keep * room) / (quoted.length - 2));
      quoted = JSONStringify(StringPrototypeSlice(s, 0, keep));
    }
    budget = 0;
    truncated = true;
    return `{"$type":"truncated","reason":"string too long","length":${s.length},"preview":${quoted}}`;
  };

  /**
   * A label (function or constructor name): short, charged like any other text.
   * @param {string} name
   */
  const encodeName = (name) => {
    const text = JSONStringify(name.length > MAX_NAME_CHARS ? StringPrototypeSlice(name, 0, MAX_NAME_CHARS) : name);
    budget -= text.length;
    return text;
  };

  /**
   * @param {unknown} v
   * @param {number} depth
   * @returns {string | undefined} undefined where an object member is to be omitted
   */
  const walk = (v, depth) => {
    if (++nodes > limits.maxNodes) {
      // Spending the budget too makes every enclosing loop stop here; otherwise each remaining element would
      // become its own tag and a large array would still produce an unbounded reply (past RPC's 32 MiB limit).
      budget = 0;
      return cut(`more than ${limits.maxNodes} values`);
    }
    if (budget <= 0) return cut(`output larger than ${limits.maxChars} characters`);
    switch (typeof v) {
      case "string":
        return encodeString(v);
      case "number": {
        if (!NumberIsFinite(v)) {
          budget -= 32;
          return `{"$type":"number","value":"${StringCtor(v)}"}`;
        }
        const text = ObjectIs(v, -0) ? "0" : JSONStringify(v);
        budget -= text.length;
        return text;
      }
      case "boolean":
        budget -= 5;
        return v ? "true" : "false";
      case "bigint": {
        budget -= 32;
        return `{"$type":"bigint","value":${encodeString(BigIntPrototypeToString(v))}}`;
      }
      case "symbol": {
        budget -= 32;
        const description = SymbolPrototypeGetDescription(v);
        return `{"$type":"symbol","description":${description === undefined ? "null" : encodeString(description)}}`;
      }
      case "function":
        budget -= 32;
        return `{"$type":"function","name":${encodeName(safeName(v))}}`;
      case "undefined":
        return OMITTED;
    }
    if (v === null) {
      budget -= 4;
      return "null";
    }
    const obj = /** @type {Record<string | symbol, unknown>} */ (/** @type {unknown} */ (v));
    if (SetPrototypeHas(path, obj)) {
      budget -= 20;
      return `{"$type":"circular"}`;
    }
    if (depth >= limits.maxDepth) return cut(`nested deeper than ${limits.maxDepth} levels`);
    SetPrototypeAdd(path, obj);
    try {
      return walkObject(obj, depth);
    } finally {
      SetPrototypeDelete(path, obj);
    }
  };

  /**
   * An element of an array, Map or Set: where an object would omit it, an array holds null.
   * @param {unknown} v
   * @param {number} depth
   */
  const walkElement = (v, depth) => {
    const text = walk(v, depth);
    if (text !== undefined) return text;
    budget -= 4;
    return "null";
  };

  /**
   * @param {Record<string | symbol, unknown>} obj
   * @param {number} depth
   * @returns {string | undefined}
   */
  const walkObject = (obj, depth) => {
    // Which brand to test, from the object's tag: each test throws for an object without that brand, and a thrown
    // TypeError (with its stack) costs ~8 µs, so testing every brand on every plain object made a 200-line log
    // of small objects 8 ms slower. A builtin carries its own tag ("[object Date]", "[object Map]", ...); one whose
    // tag the user replaced (Symbol.toStringTag) is encoded by its keys instead, as any other object. Reading the
    // tag may run a user getter or Proxy trap, as reading `then` below does: under the guard, caught by encodeJson.
    const tag = ObjectPrototypeToString(obj);
    const date = tag === "[object Date]" ? dateTime(obj) : undefined;
    if (date !== undefined) {
      budget -= 26;
      return NumberIsFinite(date) ? JSONStringify(DatePrototypeToISOString(obj)) : `{"$type":"Date","value":"Invalid Date"}`;
    }
    if (isError(obj)) {
      budget -= 40;
      let text = `{"$type":"Error","name":${encodeString(readText(obj, "name"))},"message":${encodeString(readText(obj, "message"))}`;
      const cause = obj.cause;
      if (cause !== undefined) text += `,"cause":${walkElement(cause, depth + 1)}`;
      return `${text}}`;
    }
    const regexp = tag === "[object RegExp]" ? regexpText(obj) : undefined;
    if (regexp !== undefined) {
      budget -= 30;
      return `{"$type":"RegExp","value":${encodeString(regexp)}}`;
    }
    if (tag === "[object Map]" && mapSize(obj) !== undefined) {
      budget -= 30;
      const entries = MapPrototypeEntries(obj);
      let text = "";
      for (let step = MapIteratorPrototypeNext(entries); !step.done; step = MapIteratorPrototypeNext(entries)) {
        if (text !== "") text += ",";
        if (budget <= 0) {
          text += cut("map too large");
          break;
        }
        const entry = /** @type {[unknown, unknown]} */ (step.value);
        budget -= 4;
        text += `[${walkElement(entry[0], depth + 1)},${walkElement(entry[1], depth + 1)}]`;
      }
      return `{"$type":"Map","entries":[${text}]}`;
    }
    if (tag === "[object Set]" && setSize(obj) !== undefined) {
      budget -= 30;
      const values = SetPrototypeValues(obj);
      let text = "";
      for (let step = SetIteratorPrototypeNext(values); !step.done; step = SetIteratorPrototypeNext(values)) {
        if (text !== "") text += ",";
        if (budget <= 0) {
          text += cut("set too large");
          break;
        }
        budget -= 1;
        text += walkElement(step.value, depth + 1);
      }
      return `{"$type":"Set","values":[${text}]}`;
    }
    const bytes = byteKind(obj, tag);
    if (bytes !== undefined) {
      budget -= 60;
      return `{"$type":"bytes","kind":${JSONStringify(bytes.kind)},"byteLength":${bytes.byteLength}}`;
    }
    if (typeof obj.then === "function") {
      budget -= 20;
      return `{"$type":"Promise"}`;
    }
    const toJSON = obj.toJSON;
    if (typeof toJSON === "function") return walk(ReflectApply(toJSON, obj, [""]), depth + 1);
    if (ArrayIsArray(obj)) {
      const length = /** @type {unknown[]} */ (/** @type {unknown} */ (obj)).length;
      budget -= 2;
      let text = "";
      for (let i = 0; i < length; i++) {
        if (i > 0) text += ",";
        if (budget <= 0) {
          text += cut(`array of ${length} items cut`);
          break;
        }
        budget -= 1;
        text += walkElement(obj[i], depth + 1);
      }
      return `[${text}]`;
    }
    budget -= 2;
    const keys = ObjectKeys(obj);
    let text = "";
    for (let i = 0; i < keys.length; i++) {
      if (budget <= 0) {
        text += `${text === "" ? "" : ","}"$truncated":${cut("object too large")}`;
        break;
      }
      const key = /** @type {string} */ (keys[i]);
      const member = walk(obj[key], depth + 1);
      // JSON.stringify omits undefined members; so do we, and functions stay tagged so nothing vanishes silently.
      if (member === undefined) continue;
      const keyText = JSONStringify(key);
      budget -= keyText.length + 2;
      // A "__proto__" key is text here; JSON.parse in the parent keeps it as data.
      text += `${text === "" ? "" : ","}${keyText}:${member}`;
    }
    if (text === "") {
      const proto = ObjectGetPrototypeOf(obj);
      if (proto !== null && proto !== ObjectPrototype) {
        const name = safeName(proto.constructor);
        if (name !== "" && name !== "Object") return `{"$type":"object","constructor":${encodeName(name)}}`;
      }
    }
    return `{${text}}`;
  };

  const json = walk(value, 0);
  return { json, truncated };
}

/**
 * The time value of a Date, or undefined for anything else (the brand check throws for non-Dates, Proxies too).
 * @param {object} obj
 * @returns {number | undefined}
 */
function dateTime(obj) {
  try {
    return DatePrototypeGetTime(obj);
  } catch {
    return undefined;
  }
}

/** @param {object} obj */
function mapSize(obj) {
  try {
    return /** @type {number} */ (MapPrototypeGetSize(obj));
  } catch {
    return undefined;
  }
}

/** @param {object} obj */
function setSize(obj) {
  try {
    return /** @type {number} */ (SetPrototypeGetSize(obj));
  } catch {
    return undefined;
  }
}

/**
 * `/source/flags` from the regexp's own slots; undefined for anything that is not a RegExp.
 * @param {object} obj
 * @returns {string | undefined}
 */
function regexpText(obj) {
  let source;
  try {
    source = /** @type {string} */ (RegExpPrototypeGetSource(obj));
  } catch {
    return undefined;
  }
  let flags = "";
  for (let i = 0; i < REGEXP_FLAG_GETTERS.length; i++) {
    const flag = /** @type {(typeof REGEXP_FLAG_GETTERS)[number]} */ (REGEXP_FLAG_GETTERS[i]);
    try {
      if (flag[1](obj) === true) flags += flag[0];
    } catch {
      // RegExp.prototype itself has a source but no flags.
    }
  }
  return `/${source}/${flags}`;
}

/** @typedef {{ __proto__?: null, kind: string, byteLength: number }} ByteKind */

/**
 * @param {object} obj
 * @param {string} tag the object's Object.prototype.toString text
 * @returns {ByteKind | undefined}
 */
function byteKind(obj, tag) {
  // The typed-array and view checks do not throw; the ArrayBuffer one does, so it runs only for that tag.
  const typed = TypedArrayPrototypeGetSymbolToStringTag(obj);
  if (typeof typed === "string") return { __proto__: null, kind: typed, byteLength: TypedArrayPrototypeGetByteLength(obj) };
  if (ArrayBufferIsView(obj)) {
    try {
      return { __proto__: null, kind: "DataView", byteLength: DataViewPrototypeGetByteLength(obj) };
    } catch {
      return undefined;
    }
  }
  if (tag !== "[object ArrayBuffer]") return undefined;
  try {
    return { __proto__: null, kind: "ArrayBuffer", byteLength: ArrayBufferPrototypeGetByteLength(obj) };
  } catch {
    return undefined;
  }
}

/**
 * Whether the value is an Error: the brand check where the runtime has Error.isError, else its prototype chain
 * (a Proxy's getPrototypeOf trap may run here, under the guard).
 * @param {unknown} value
 */
export function isError(value) {
  if (ErrorIsError !== undefined) return ErrorIsError(value);
  try {
    return ObjectPrototypeIsPrototypeOf(ErrorPrototype, /** @type {object} */ (value));
  } catch {
    return false;
  }
}

/**
 * A property of a user object as text, whatever it is: a getter that throws, a Symbol or an object whose
 * toString throws all give text instead of an exception. Callers cut the result to their own limit.
 * @param {object} obj
 * @param {string} key
 * @returns {string}
 */
export function readText(obj, key) {
  try {
    const value = /** @type {Record<string, unknown>} */ (obj)[key];
    if (typeof value === "string") return value;
    if (value === undefined) return "";
    // String() on an object runs its toString/Symbol.toPrimitive: user code, under the guard, caught below.
    return StringCtor(value);
  } catch {
    return `[${key} could not be read]`;
  }
}

/** @param {unknown} fn */
function safeName(fn) {
  try {
    if (typeof fn !== "function") return "";
    const name = fn.name;
    return typeof name === "string" ? name : "";
  } catch {
    return "";
  }
}

/**
 * Encodes a value to JSON text within the limits. Never throws: a value whose getters, toJSON or Proxy traps
 * throw becomes a tag carrying the error's message.
 * @param {unknown} value
 * @param {EncodeLimits} limits
 * @returns {{ __proto__?: null, json: string, truncated: boolean }}
 */
export function encodeJson(value, limits) {
  try {
    const { json, truncated } = encode(value, limits);
    return { __proto__: null, json: json === undefined ? `{"$type":"undefined"}` : json, truncated };
  } catch (error) {
    const message = isError(error) ? cutName(readText(/** @type {object} */ (error), "message")) : "value could not be encoded";
    return { __proto__: null, json: `{"$type":"unencodable","message":${JSONStringify(message)}}`, truncated: true };
  }
}

/** @param {string} text */
function cutName(text) {
  return text.length > 1024 ? StringPrototypeSlice(text, 0, 1024) : text;
}

/**
 * How console arguments become one message: strings as they are, errors as their stack, everything else as
 * compact JSON of the encoded value.
 * @param {unknown[]} args a rest-parameter array the harness made: reading its length and indices is safe
 * @param {EncodeLimits} limits
 */
export function formatLogArgs(args, limits) {
  let message = "";
  for (let i = 0; i < args.length; i++) {
    if (i > 0) message += " ";
    message += formatLogArg(args[i], limits);
    // The caller cuts at its own limit; stopping here keeps a million arguments from costing a million encodings.
    if (message.length > limits.maxChars) break;
  }
  return message;
}

/**
 * @param {unknown} arg
 * @param {EncodeLimits} limits
 * @returns {string}
 */
function formatLogArg(arg, limits) {
  switch (typeof arg) {
    case "string":
      return arg;
    case "undefined":
      return "undefined";
    case "bigint":
      return `${BigIntPrototypeToString(arg)}n`;
    case "symbol":
      return SymbolPrototypeToString(arg);
    case "function": {
      // As Node prints them: a function's source here is the instrumented one, guard calls included.
      const name = safeName(arg);
      return name !== "" ? `[Function: ${cutName(name)}]` : "[Function (anonymous)]";
    }
  }
  if (arg !== null && typeof arg === "object" && isError(arg)) {
    const stack = readText(arg, "stack");
    if (stack !== "" && stack !== "[stack could not be read]") return stack;
    return `${readText(arg, "name")}: ${readText(arg, "message")}`;
  }
  return encodeJson(arg, limits).json;
}

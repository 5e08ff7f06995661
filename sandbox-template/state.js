// @ts-check
// A session cell's top-level bindings, carried between isolates as data (worker/sessions/). The front gives the
// harness the state as JSON text; the harness decodes it before user code runs, the cell's prologue declares the
// names again from the decoded values, and after a successful cell the harness encodes the bindings the cell's
// capture function reads. Keep in sync with worker/sessions/state-blob.ts (the parent's check of this format).
//
// Format: {"b":[[name, node], ...], "w":[[name, reason], ...]}. A node is a JSON string, boolean, null or finite
// number (not -0), or an array whose first element is a tag:
//   ["u"] undefined · ["n", "NaN" | "Infinity" | "-Infinity" | "-0"] · ["i", decimal] bigint
//   ["r", id] an object met before (shared references and cycles, across bindings too)
//   ["o", id, nullProto(0|1), [[key, node], ...]] plain object · ["a", id, [node, ...]] array
//   ["d", id, time | null] Date · ["x", id, source, flags] RegExp · ["e", id, name, message, stack] Error
//   ["m", id, [[k, v], ...]] Map · ["s", id, [v, ...]] Set
//   ["ab", id, base64] ArrayBuffer · ["t", id, type, bufferNode, byteOffset, length] typed array or DataView
// Ids number the objects in the order their nodes open, from 0. It is structured clone's reach: functions,
// symbols, promises, weak collections and instances of other classes are not carried; the binding holding one is
// named in "w" instead.
//
// Encoding runs the user's getters and Proxy traps (as structured clone does), under the guard; the harness-side
// rules of primordials.js apply to everything else here.

import {
  ArrayBufferIsView,
  ArrayBufferPrototypeGetByteLength,
  ArrayIsArray,
  BigIntPrototypeToString,
  DatePrototypeGetTime,
  JSONParse,
  JSONStringify,
  MapIteratorPrototypeNext,
  MapPrototypeEntries,
  NumberIsFinite,
  ObjectDefineProperty,
  ObjectGetPrototypeOf,
  ObjectIs,
  ObjectKeys,
  ObjectPrototype,
  REGEXP_FLAG_GETTERS,
  RegExpPrototypeGetSource,
  SetIteratorPrototypeNext,
  SetPrototypeValues,
  StringPrototypeSlice,
  TypedArrayPrototypeGetSymbolToStringTag,
  uncurryThis,
} from "./primordials.js";
import { isError, readText } from "./encode.js";

const MapCtor = Map;
const MapPrototypeGet = uncurryThis(Map.prototype.get);
const MapPrototypeSet = uncurryThis(Map.prototype.set);
const MapPrototypeGetSize = uncurryThis(/** @type {() => number} */ (Reflect.getOwnPropertyDescriptor(Map.prototype, "size")?.get));
const SetCtor = Set;
const SetPrototypeAdd = uncurryThis(Set.prototype.add);
const SetPrototypeGetSize = uncurryThis(/** @type {() => number} */ (Reflect.getOwnPropertyDescriptor(Set.prototype, "size")?.get));
const DateCtor = Date;
const RegExpCtor = RegExp;
const ErrorCtor = Error;
const ArrayBufferCtor = ArrayBuffer;
const Uint8ArrayCtor = Uint8Array;
const ArrayBufferPrototypeSlice = uncurryThis(ArrayBuffer.prototype.slice);
const DataViewPrototypeGetBuffer = uncurryThis(/** @type {() => ArrayBuffer} */ (Reflect.getOwnPropertyDescriptor(DataView.prototype, "buffer")?.get));
const DataViewPrototypeGetByteOffset = uncurryThis(/** @type {() => number} */ (Reflect.getOwnPropertyDescriptor(DataView.prototype, "byteOffset")?.get));
const DataViewPrototypeGetByteLength = uncurryThis(/** @type {() => number} */ (Reflect.getOwnPropertyDescriptor(DataView.prototype, "byteLength")?.get));
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
const TypedArrayPrototypeGetBuffer = uncurryThis(/** @type {() => ArrayBuffer} */ (Reflect.getOwnPropertyDescriptor(TypedArrayPrototype, "buffer")?.get));
const TypedArrayPrototypeGetByteOffset = uncurryThis(/** @type {() => number} */ (Reflect.getOwnPropertyDescriptor(TypedArrayPrototype, "byteOffset")?.get));
const TypedArrayPrototypeGetLength = uncurryThis(/** @type {() => number} */ (Reflect.getOwnPropertyDescriptor(TypedArrayPrototype, "length")?.get));
const StringFromCharCode = String.fromCharCode;
const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
const btoaSafe = btoa;
const atobSafe = atob;
const WeakMapHas = uncurryThis(WeakMap.prototype.has);
const WeakSetHas = uncurryThis(WeakSet.prototype.has);
const WeakRefDeref = uncurryThis(WeakRef.prototype.deref);
const PromisePrototypeThen = uncurryThis(Promise.prototype.then);

/** @type {Record<string, any>} */
const VIEW_TYPES = {
  __proto__: null,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
};
const Float16 = /** @type {Record<string, unknown>} */ (globalThis).Float16Array;
if (typeof Float16 === "function") VIEW_TYPES.Float16Array = Float16;

/** Deeper than this, a binding is reported instead of risking the stack. */
const MAX_DEPTH = 256;

// What encodeState throws at itself is told apart from what user code threw by identity alone: instanceof would
// consult the prototype chain of a thrown Proxy, which is user code.
const TOO_LARGE = { __proto__: null };
/** @param {string} reason */
const unpersistable = (reason) => ({ __proto__: null, reason });

/** @param {(...args: any[]) => unknown} brandCheck @param {unknown} value */
function hasBrand(brandCheck, value) {
  try {
    brandCheck(value);
    return true;
  } catch {
    return false;
  }
}

/** @param {Uint8Array} bytes */
function toBase64(bytes) {
  let binary = "";
  const length = TypedArrayPrototypeGetLength(bytes);
  for (let i = 0; i < length; i += 8192) {
    const end = i + 8192 < length ? i + 8192 : length;
    let chunk = "";
    for (let j = i; j < end; j++) chunk += StringFromCharCode(/** @type {number} */ (bytes[j]));
    binary += chunk;
  }
  return btoaSafe(binary);
}

/** @param {string} base64 */
function fromBase64(base64) {
  const binary = atobSafe(base64);
  const bytes = new Uint8ArrayCtor(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = StringPrototypeCharCodeAt(binary, i);
  return bytes;
}

/**
 * What a value that cannot be carried is, in words for the warning.
 * @param {unknown} value
 */
function describeUnpersistable(value) {
  if (typeof value === "function") return "a function (declare it with function, class or const name = ... to keep it)";
  if (typeof value === "symbol") return "a symbol";
  if (hasBrand((v) => PromisePrototypeThen(v, undefined, undefined), value)) return "a promise";
  if (hasBrand((v) => WeakMapHas(v, ObjectPrototype), value)) return "a WeakMap";
  if (hasBrand((v) => WeakSetHas(v, ObjectPrototype), value)) return "a WeakSet";
  if (hasBrand(WeakRefDeref, value)) return "a WeakRef";
  let name = "";
  try {
    const proto = ObjectGetPrototypeOf(value);
    const ctor = proto === null ? undefined : proto.constructor;
    name = typeof ctor === "function" && typeof ctor.name === "string" ? ctor.name : "";
  } catch {}
  return `an instance of ${name === "" ? "a class" : StringPrototypeSlice(name, 0, 100)} (only plain objects, arrays, Map, Set, Date, RegExp, Error and binary data are kept)`;
}

/**
 * Encodes the bindings the cell's capture function reads. Never throws.
 * @param {() => unknown} capture the cell's capture function: returns [[name, read], ...]
 * @param {number} maxChars
 * @returns {{ __proto__: null, json?: string, tooLarge?: true, failed?: true }}
 */
export function encodeState(capture, maxChars) {
  /** @type {Map<object, number>} */
  let committed = new MapCtor();
  /** @type {Map<object, number>} */
  let pending = new MapCtor();
  let nextId = 0;
  let used = 0;
  let bindings = "";
  let warnings = "";
  /** @type {{ reason: string } | undefined} */
  let lastUnpersistable;
  const spend = (/** @type {string} */ text) => {
    used += text.length;
    if (used > maxChars) throw TOO_LARGE;
    return text;
  };

  /** @param {unknown} value @param {number} depth @returns {string} */
  const node = (value, depth) => {
    if (value === null) return spend("null");
    switch (typeof value) {
      case "string":
        return spend(JSONStringify(value));
      case "boolean":
        return spend(value ? "true" : "false");
      case "undefined":
        return spend(`["u"]`);
      case "number":
        if (ObjectIs(value, -0)) return spend(`["n","-0"]`);
        if (!NumberIsFinite(value)) return spend(`["n",${JSONStringify(value !== value ? "NaN" : value > 0 ? "Infinity" : "-Infinity")}]`);
        return spend(JSONStringify(value));
      case "bigint":
        return spend(`["i",${JSONStringify(BigIntPrototypeToString(value, 10))}]`);
      case "function":
      case "symbol":
        throw (lastUnpersistable = unpersistable(describeUnpersistable(value)));
    }
    const object = /** @type {object} */ (value);
    const seen = MapPrototypeGet(committed, object) ?? MapPrototypeGet(pending, object);
    if (seen !== undefined) return spend(`["r",${seen}]`);
    if (depth > MAX_DEPTH) throw (lastUnpersistable = unpersistable(`nested deeper than ${MAX_DEPTH} levels`));
    const id = nextId++;
    MapPrototypeSet(pending, object, id);

    // Plain objects first, by one prototype read: the brand checks below throw when they miss, and an exception
    // per object made a 500 KB state of records cost ~0.7 s to encode (measured, scripts/bench-sessions.mjs).
    const proto = ObjectGetPrototypeOf(object);
    if ((proto === ObjectPrototype || proto === null) && !ArrayIsArray(object)) return plainObject(object, id, proto === null, depth);

    if (ArrayIsArray(object)) {
      const array = /** @type {unknown[]} */ (object);
      let out = spend(`["a",${id},[`);
      const length = array.length;
      for (let i = 0; i < length; i++) out += (i === 0 ? "" : spend(",")) + node(array[i], depth + 1);
      return out + spend("]]");
    }
    if (hasBrand(DatePrototypeGetTime, object)) {
      const time = DatePrototypeGetTime(object);
      return spend(`["d",${id},${NumberIsFinite(time) ? time : "null"}]`);
    }
    if (hasBrand(RegExpPrototypeGetSource, object) && object !== RegExpCtor.prototype) {
      let flags = "";
      for (let i = 0; i < REGEXP_FLAG_GETTERS.length; i++) {
        const [flag, get] = /** @type {[string, (r: unknown) => boolean]} */ (REGEXP_FLAG_GETTERS[i]);
        if (get(object)) flags += flag;
      }
      return spend(`["x",${id},${JSONStringify(RegExpPrototypeGetSource(object))},${JSONStringify(flags)}]`);
    }
    if (hasBrand(MapPrototypeGetSize, object)) {
      let out = spend(`["m",${id},[`);
      const iterator = MapPrototypeEntries(object);
      let first = true;
      for (;;) {
        const step = MapIteratorPrototypeNext(iterator);
        if (step.done) break;
        out += (first ? "" : spend(",")) + spend("[") + node(step.value[0], depth + 1) + spend(",") + node(step.value[1], depth + 1) + spend("]");
        first = false;
      }
      return out + spend("]]");
    }
    if (hasBrand(SetPrototypeGetSize, object)) {
      let out = spend(`["s",${id},[`);
      const iterator = SetPrototypeValues(object);
      let first = true;
      for (;;) {
        const step = SetIteratorPrototypeNext(iterator);
        if (step.done) break;
        out += (first ? "" : spend(",")) + node(step.value, depth + 1);
        first = false;
      }
      return out + spend("]]");
    }
    if (hasBrand(ArrayBufferPrototypeGetByteLength, object)) {
      return spend(`["ab",${id},"`) + spend(toBase64(new Uint8ArrayCtor(/** @type {ArrayBuffer} */ (object)))) + spend(`"]`);
    }
    if (ArrayBufferIsView(object)) {
      const type = TypedArrayPrototypeGetSymbolToStringTag(object);
      if (type === undefined) {
        const buffer = node(DataViewPrototypeGetBuffer(object), depth + 1);
        return spend(`["t",${id},"DataView",`) + buffer + spend(`,${DataViewPrototypeGetByteOffset(object)},${DataViewPrototypeGetByteLength(object)}]`);
      }
      const buffer = node(TypedArrayPrototypeGetBuffer(object), depth + 1);
      return spend(`["t",${id},${JSONStringify(type)},`) + buffer + spend(`,${TypedArrayPrototypeGetByteOffset(object)},${TypedArrayPrototypeGetLength(object)}]`);
    }
    if (isError(object)) {
      const name = readText(object, "name");
      const message = readText(object, "message");
      const stack = readText(object, "stack");
      return spend(`["e",${id},${JSONStringify(name)},${JSONStringify(message)},${JSONStringify(stack)}]`);
    }
    throw (lastUnpersistable = unpersistable(describeUnpersistable(object)));
  };

  /** @param {object} object @param {number} id @param {boolean} nullProto @param {number} depth */
  const plainObject = (object, id, nullProto, depth) => {
    let out = spend(`["o",${id},${nullProto ? 1 : 0},[`);
    const keys = ObjectKeys(object);
    for (let i = 0; i < keys.length; i++) {
      const key = /** @type {string} */ (keys[i]);
      out += (i === 0 ? "" : spend(",")) + spend(`[${JSONStringify(key)},`) + node(/** @type {Record<string, unknown>} */ (object)[key], depth + 1) + spend("]");
    }
    return out + spend("]]");
  };

  try {
    const list = /** @type {[string, () => unknown][]} */ (capture());
    for (let i = 0; i < list.length; i++) {
      const entry = /** @type {[string, () => unknown]} */ (list[i]);
      const name = entry[0];
      const read = entry[1];
      const mark = { __proto__: null, used, nextId };
      let value;
      try {
        value = read();
      } catch {
        warnings += `${warnings === "" ? "" : ","}[${JSONStringify(name)},"not initialised when the cell ended"]`;
        continue;
      }
      try {
        const encoded = node(value, 0);
        bindings += `${bindings === "" ? "" : ","}[${JSONStringify(name)},${encoded}]`;
        // The binding's objects are now part of the state: later bindings may refer to them.
        const iterator = MapPrototypeEntries(pending);
        for (;;) {
          const step = MapIteratorPrototypeNext(iterator);
          if (step.done) break;
          MapPrototypeSet(committed, step.value[0], step.value[1]);
        }
        pending = new MapCtor();
      } catch (error) {
        if (error === TOO_LARGE) throw error;
        // A failed binding leaves nothing behind: its objects are forgotten and its ids reused.
        used = mark.used;
        nextId = mark.nextId;
        pending = new MapCtor();
        let reason = "could not be encoded";
        if (lastUnpersistable !== undefined && error === lastUnpersistable) reason = `holds ${lastUnpersistable.reason}`;
        else if (isError(error)) reason = `could not be encoded: ${StringPrototypeSlice(readText(/** @type {object} */ (error), "message"), 0, 200)}`;
        warnings += `${warnings === "" ? "" : ","}[${JSONStringify(name)},${JSONStringify(reason)}]`;
      }
    }
  } catch (error) {
    if (error === TOO_LARGE) return { __proto__: null, tooLarge: true };
    // Not expected (the capture function only builds closures); the cell fails rather than lose state quietly.
    return { __proto__: null, failed: true };
  }
  return { __proto__: null, json: `{"b":[${bindings}],"w":[${warnings}]}` };
}

/**
 * The values of a state the parent checked (worker/sessions/state-blob.ts), as a null-prototype object of name ->
 * value. Runs before any user code: the realm is still as the runtime built it.
 * @param {string} json
 * @returns {Record<string, unknown>}
 */
export function decodeState(json) {
  const state = JSONParse(json);
  /** @type {unknown[]} */
  const objects = [];
  /** @param {object} target @param {string} key @param {unknown} value */
  const define = (target, key, value) =>
    ObjectDefineProperty(target, key, /** @type {PropertyDescriptor} */ ({ __proto__: null, value, writable: true, enumerable: true, configurable: true }));

  /** @param {any} n @returns {unknown} */
  const value = (n) => {
    if (!ArrayIsArray(n)) return n;
    switch (n[0]) {
      case "u":
        return undefined;
      case "n":
        return n[1] === "NaN" ? NaN : n[1] === "Infinity" ? Infinity : n[1] === "-Infinity" ? -Infinity : -0;
      case "i":
        return BigInt(n[1]);
      case "r":
        return objects[n[1]];
      case "o": {
        const out = n[2] === 1 ? { __proto__: null } : {};
        objects[n[1]] = out;
        const entries = n[3];
        for (let i = 0; i < entries.length; i++) define(out, entries[i][0], value(entries[i][1]));
        return out;
      }
      case "a": {
        /** @type {unknown[]} */
        const out = [];
        objects[n[1]] = out;
        const items = n[2];
        for (let i = 0; i < items.length; i++) define(out, `${i}`, value(items[i]));
        return out;
      }
      case "d":
        return (objects[n[1]] = new DateCtor(n[2] === null ? NaN : n[2]));
      case "x":
        return (objects[n[1]] = new RegExpCtor(n[2], n[3]));
      case "e": {
        const error = new ErrorCtor(n[3]);
        objects[n[1]] = error;
        define(error, "name", n[2]);
        define(error, "stack", n[4]);
        return error;
      }
      case "m": {
        const map = new MapCtor();
        objects[n[1]] = map;
        const entries = n[2];
        for (let i = 0; i < entries.length; i++) MapPrototypeSet(map, value(entries[i][0]), value(entries[i][1]));
        return map;
      }
      case "s": {
        const set = new SetCtor();
        objects[n[1]] = set;
        const items = n[2];
        for (let i = 0; i < items.length; i++) SetPrototypeAdd(set, value(items[i]));
        return set;
      }
      case "ab": {
        const bytes = fromBase64(n[2]);
        const buffer = ArrayBufferPrototypeSlice(TypedArrayPrototypeGetBuffer(bytes), 0);
        return (objects[n[1]] = buffer);
      }
      case "t": {
        const id = n[1];
        const View = VIEW_TYPES[n[2]];
        const buffer = /** @type {ArrayBuffer} */ (value(n[3]));
        return (objects[id] = new View(buffer, n[4], n[5]));
      }
    }
    throw new ErrorCtor("session state: unknown node");
  };

  /** @type {Record<string, unknown>} */
  const values = { __proto__: null };
  const bindings = state.b;
  for (let i = 0; i < bindings.length; i++) define(values, bindings[i][0], value(bindings[i][1]));
  return values;
}

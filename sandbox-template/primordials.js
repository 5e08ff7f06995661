// @ts-check
// Every intrinsic the harness, the encoder and the capability wrappers use after user code exists, captured once
// when this module is evaluated. harness.js imports it first, so ES module evaluation order puts it before user.js
// and before any user code. Modelled on Node core's lib/internal/per_context/primordials.js: prototype methods are
// called uncurried (`StringPrototypeSlice(s, 0, n)`), so replacing `String.prototype.slice`, `Function.prototype.call`
// or `Array.prototype[Symbol.iterator]` changes nothing for the harness.
//
// Rules for code that imports from here (the harness side of the realm):
// - no method calls on values (`s.slice`, `arr.push`, `fn.call`): use the uncurried form;
// - no `for...of`, spread or array destructuring: they call the user-reachable Array iterator;
// - no array growth by assignment (`arr[n] = x` past the end looks up setters on Array.prototype): build strings;
// - descriptors and internal records are `{ __proto__: null, ... }`, so a getter on Object.prototype for
//   "get", "value" or a missing key cannot answer for them;
// - never `await` or resolve with a value the user can make thenable (see harness.js).

const { bind, call } = Function.prototype;

/**
 * `uncurryThis(String.prototype.slice)(s, 0, 1)` is `s.slice(0, 1)` without looking anything up on `s`.
 * @type {<T extends (...args: any[]) => any>(fn: T) => (self: unknown, ...args: Parameters<T>) => ReturnType<T>}
 */
export const uncurryThis = /** @type {any} */ (bind.bind(call));

/**
 * The getter of an accessor property, uncurried.
 * @param {object} object
 * @param {PropertyKey} key
 * @returns {(self: unknown) => any}
 */
function uncurryGetter(object, key) {
  const descriptor = Reflect.getOwnPropertyDescriptor(object, key);
  const get = descriptor === undefined ? undefined : descriptor.get;
  if (get === undefined) return () => undefined;
  return uncurryThis(get);
}

export const ReflectApply = Reflect.apply;
export const ObjectDefineProperty = Object.defineProperty;
export const ObjectKeys = Object.keys;
export const ObjectGetPrototypeOf = Object.getPrototypeOf;
export const ObjectIs = Object.is;
export const ObjectPrototype = Object.prototype;
export const ObjectPrototypeIsPrototypeOf = uncurryThis(Object.prototype.isPrototypeOf);
export const ObjectPrototypeToString = uncurryThis(Object.prototype.toString);
export const ArrayIsArray = Array.isArray;
export const JSONParse = JSON.parse;
/** Safe on primitives only: it looks up `toJSON` on objects (and on Object.prototype for them). */
export const JSONStringify = JSON.stringify;
export const NumberIsFinite = Number.isFinite;
export const NumberIsSafeInteger = Number.isSafeInteger;
export const MathFloor = Math.floor;
export const MathMax = Math.max;
export const MathMin = Math.min;
export const StringCtor = String;
export const StringPrototypeSlice = uncurryThis(String.prototype.slice);
export const DateCtor = Date;
export const DateNow = Date.now;
export const DatePrototypeGetTime = uncurryThis(Date.prototype.getTime);
export const DatePrototypeToISOString = uncurryThis(Date.prototype.toISOString);
export const BigIntPrototypeToString = uncurryThis(BigInt.prototype.toString);
export const SymbolPrototypeToString = uncurryThis(Symbol.prototype.toString);
export const SymbolPrototypeGetDescription = uncurryGetter(Symbol.prototype, "description");
export const ErrorCtor = Error;
export const ErrorPrototype = Error.prototype;
/** ES2026 brand check; undefined where the runtime does not have it yet. */
export const ErrorIsError = /** @type {((value: unknown) => boolean) | undefined} */ (
  /** @type {{ isError?: unknown }} */ (Error).isError
);

export const RegExpPrototypeGetSource = uncurryGetter(RegExp.prototype, "source");
/** Each flag getter reads the regexp's own [[OriginalFlags]], unlike `flags`, which calls user-replaceable getters. */
export const REGEXP_FLAG_GETTERS = /** @type {const} */ ([
  ["d", uncurryGetter(RegExp.prototype, "hasIndices")],
  ["g", uncurryGetter(RegExp.prototype, "global")],
  ["i", uncurryGetter(RegExp.prototype, "ignoreCase")],
  ["m", uncurryGetter(RegExp.prototype, "multiline")],
  ["s", uncurryGetter(RegExp.prototype, "dotAll")],
  ["u", uncurryGetter(RegExp.prototype, "unicode")],
  ["v", uncurryGetter(RegExp.prototype, "unicodeSets")],
  ["y", uncurryGetter(RegExp.prototype, "sticky")],
]);

export const MapPrototypeGetSize = uncurryGetter(Map.prototype, "size");
export const MapPrototypeEntries = uncurryThis(Map.prototype.entries);
export const MapIteratorPrototypeNext = uncurryThis(Object.getPrototypeOf(new Map().entries()).next);
export const SetCtor = Set;
export const SetPrototypeGetSize = uncurryGetter(Set.prototype, "size");
export const SetPrototypeValues = uncurryThis(Set.prototype.values);
export const SetPrototypeAdd = uncurryThis(Set.prototype.add);
export const SetPrototypeHas = uncurryThis(Set.prototype.has);
export const SetPrototypeDelete = uncurryThis(Set.prototype.delete);
export const SetIteratorPrototypeNext = uncurryThis(Object.getPrototypeOf(new Set().values()).next);
export const WeakMapCtor = WeakMap;
export const WeakMapPrototypeGet = uncurryThis(WeakMap.prototype.get);
export const WeakMapPrototypeSet = uncurryThis(WeakMap.prototype.set);

export const ArrayBufferIsView = ArrayBuffer.isView;
export const ArrayBufferPrototypeGetByteLength = uncurryGetter(ArrayBuffer.prototype, "byteLength");
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
/** The typed array's own kind ("Uint8Array"), from its internal slot; undefined for anything else. */
export const TypedArrayPrototypeGetSymbolToStringTag = uncurryGetter(TypedArrayPrototype, Symbol.toStringTag);
export const TypedArrayPrototypeGetByteLength = uncurryGetter(TypedArrayPrototype, "byteLength");
export const DataViewPrototypeGetByteLength = uncurryGetter(DataView.prototype, "byteLength");

export const PromiseCtor = Promise;
export const PromisePrototypeThen = uncurryThis(Promise.prototype.then);

export const setTimeoutSafe = setTimeout;
export const clearTimeoutSafe = clearTimeout;
const clearIntervalSafe = clearInterval;
const NumberCtor = Number;

/** The timer the run's deadline hangs on (harness.js), which the global clear functions refuse to cancel. */
let protectedTimer = /** @type {unknown} */ (undefined);
/** @param {unknown} handle */
export function protectTimer(handle) {
  protectedTimer = handle;
}
// Timer ids are small integers anyone can guess: without this, `for (id...) clearTimeout(id)` cancelled the
// harness's own timeout, and a run that awaits forever then ended only at the parent's backstop. Every other timer
// is cleared as before. Method shorthand: like the builtins, the replacements have no prototype and cannot be
// constructed.
const guardedClear = {
  /** @param {unknown} id */
  clearTimeout(id) {
    if (NumberCtor(id) !== protectedTimer) clearTimeoutSafe(/** @type {any} */ (id));
  },
  /** @param {unknown} id */
  clearInterval(id) {
    if (NumberCtor(id) !== protectedTimer) clearIntervalSafe(/** @type {any} */ (id));
  },
};
Object.defineProperty(globalThis, "clearTimeout", /** @type {PropertyDescriptor} */ ({ __proto__: null, value: guardedClear.clearTimeout, writable: true, configurable: true, enumerable: true }));
Object.defineProperty(globalThis, "clearInterval", /** @type {PropertyDescriptor} */ ({ __proto__: null, value: guardedClear.clearInterval, writable: true, configurable: true, enumerable: true }));

/**
 * Makes `promise.then(...)` and `await promise` on this one promise look nothing up: SpeciesConstructor and
 * PromiseResolve read `promise.constructor`, which otherwise comes from Promise.prototype (user-replaceable, and a
 * getter there runs user code), then `[Symbol.species]` on it. An own `constructor` of undefined makes both use
 * the intrinsic %Promise% (ECMA-262 SpeciesConstructor step 2), without freezing anything the user may change.
 * @param {Promise<unknown>} promise a promise only the harness holds
 */
export function detachFromUserPromise(promise) {
  ObjectDefineProperty(promise, "constructor", /** @type {PropertyDescriptor} */ ({ __proto__: null, value: undefined, writable: false, enumerable: false, configurable: false }));
  return promise;
}

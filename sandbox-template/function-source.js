// @ts-check
// Function.prototype.toString shows the caller's own source, not the instrumented one: the guard calls that
// worker/execution/instrument.ts inserts are cut out again. harness.js installs it once, before any user code runs.
//
// user.js exports, next to its default factory, `__ce_insertions`: [start, length] pairs saying which characters
// of the factory's source text (what the native toString gives for it) were inserted, sorted and disjoint (keep
// in sync with INSERTIONS_EXPORT in instrument.ts). Every function the user writes is a slice of that text, so
// its own source is that slice with the inserted characters left out.

import * as user from "./user.js";

// Captured at module evaluation, before any user code exists, and called uncurried: patching String.prototype or
// Reflect later changes nothing here.
const apply = Reflect.apply;
const defineProperty = Object.defineProperty;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const nativeToString = Function.prototype.toString;
const { indexOf, slice } = String.prototype;
const stringIndexOf = (/** @type {string} */ text, /** @type {string} */ search, /** @type {number} */ from) =>
  /** @type {number} */ (apply(indexOf, text, [search, from]));
const stringSlice = (/** @type {string} */ text, /** @type {number} */ start, /** @type {number} */ end) =>
  /** @type {string} */ (apply(slice, text, [start, end]));

/** What the native toString says of a builtin called toString; the replacement says it of itself. */
const NATIVE_SELF = "function toString() { [native code] }";

export function installFunctionSource() {
  const factory = /** @type {unknown} */ (user.default);
  const table = /** @type {unknown} */ (/** @type {Record<string, unknown>} */ (user).__ce_insertions);
  if (typeof factory !== "function" || !Array.isArray(table) || table.length === 0) return;
  const source = /** @type {string} */ (apply(nativeToString, factory, []));
  // Every insertion holds the guard's name or closes one that does, and the user cannot write the name (its
  // prefix is reserved): a function whose text lacks it has nothing to cut.
  const guardName = /^\((__ce_[0-9a-f]{32}),/.exec(source)?.[1];
  if (guardName === undefined) return;
  /** @type {number[]} */
  const insertions = [];
  for (let i = 0; i < table.length; i++) insertions[i] = Number(table[i]);

  /**
   * The slice of `source` at [from, to) without the inserted characters in it.
   * @param {number} from
   * @param {number} to
   */
  const original = (from, to) => {
    let out = "";
    let cursor = from;
    for (let i = 0; i < insertions.length; i += 2) {
      const start = /** @type {number} */ (insertions[i]);
      const end = start + /** @type {number} */ (insertions[i + 1]);
      if (end <= from) continue;
      if (start >= to) break;
      const cutFrom = start > cursor ? start : cursor;
      out += stringSlice(source, cursor, cutFrom);
      cursor = end < to ? end : to;
    }
    return out + stringSlice(source, cursor, to);
  };

  const replacement = {
    // A method: like the builtin it has no prototype, cannot be constructed, and is named "toString" with length 0.
    toString() {
      if (this === replacement) return NATIVE_SELF;
      // Throws the builtin's own TypeError for a receiver that is not callable.
      const text = /** @type {string} */ (apply(nativeToString, this, []));
      if (stringIndexOf(text, guardName, 0) < 0) return text;
      // The first place the text occurs: user code cannot contain the guard's name, so the text can only be the
      // function's own slice, or an identical one, which reads back identically.
      const at = stringIndexOf(source, text, 0);
      return at < 0 ? text : original(at, at + text.length);
    },
  }.toString;
  const descriptor = getOwnPropertyDescriptor(Function.prototype, "toString");
  defineProperty(Function.prototype, "toString", {
    value: replacement,
    writable: descriptor?.writable ?? true,
    enumerable: descriptor?.enumerable ?? false,
    configurable: descriptor?.configurable ?? true,
  });
}

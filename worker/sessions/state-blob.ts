import { MAX_SESSION_BINDINGS, MAX_SESSION_STATE_BYTES } from "../../schemas/session";

// The parent's check of a session state that a child sent back (format: sandbox-template/state.js, keep in
// sync). The child is untrusted: the blob is parsed, every node is checked against the format, the names must be
// ones the front asked for, and the size is measured here, whatever the child claimed. What passes is data for
// the next child's decoder and nothing else: no node can name code, a constructor outside the list below or a
// property the decoder would treat specially (it defines properties, so "__proto__" is an ordinary key).

export const EMPTY_STATE_JSON = `{"b":[],"w":[]}`;

const VIEW_TYPES = new Set([
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
  "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array", "DataView",
]);
const VIEW_ELEMENT_BYTES: Record<string, number> = {
  Int8Array: 1, Uint8Array: 1, Uint8ClampedArray: 1, Int16Array: 2, Uint16Array: 2, Float16Array: 2, Int32Array: 4,
  Uint32Array: 4, Float32Array: 4, Float64Array: 8, BigInt64Array: 8, BigUint64Array: 8, DataView: 1,
};
/** Deeper than the encoder goes (256 levels, plus a typed array's buffer). */
const MAX_NODE_DEPTH = 300;
const MAX_WARNING_CHARS = 300;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface CheckedState {
  /** Canonical JSON of the bindings alone, for storage and the next cell. */
  json: string;
  /** Encoded bytes (UTF-8) per binding; a shared object counts where it is first met. */
  sizes: Map<string, number>;
  /** Names the child could not carry, with its reason. */
  warnings: [string, string][];
  sizeBytes: number;
}

export type StateCheck = { ok: true; state: CheckedState } | { ok: false; problem: "too_large" | "malformed"; message: string };

class Malformed extends Error {}

export function checkState(json: string, allowedNames: ReadonlySet<string>): StateCheck {
  const sizeBytes = new TextEncoder().encode(json).byteLength;
  if (sizeBytes > MAX_SESSION_STATE_BYTES + 64 * 1024) return tooLarge(sizeBytes);
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    return malformed("not JSON");
  }
  try {
    if (!isRecord(data) || !Array.isArray(data.b) || !Array.isArray(data.w)) throw new Malformed("not a state");
    if (data.b.length > MAX_SESSION_BINDINGS) throw new Malformed("too many bindings");
    const walker = new NodeWalker();
    const sizes = new Map<string, number>();
    for (const binding of data.b) {
      if (!Array.isArray(binding) || binding.length !== 2 || typeof binding[0] !== "string") throw new Malformed("a binding is not [name, value]");
      const name = binding[0];
      if (!allowedNames.has(name) || sizes.has(name)) throw new Malformed(`unexpected binding ${JSON.stringify(name.slice(0, 50))}`);
      walker.node(binding[1], 0);
      sizes.set(name, new TextEncoder().encode(JSON.stringify(binding[1])).byteLength);
    }
    const warnings: [string, string][] = [];
    for (const warning of data.w) {
      if (!Array.isArray(warning) || typeof warning[0] !== "string" || typeof warning[1] !== "string") throw new Malformed("a warning is not [name, reason]");
      if (!allowedNames.has(warning[0]) || sizes.has(warning[0])) throw new Malformed("a warning names an unexpected binding");
      warnings.push([warning[0], warning[1].slice(0, MAX_WARNING_CHARS)]);
    }
    const canonical = JSON.stringify({ b: data.b, w: [] });
    const canonicalBytes = new TextEncoder().encode(canonical).byteLength;
    if (canonicalBytes > MAX_SESSION_STATE_BYTES) return tooLarge(canonicalBytes);
    return { ok: true, state: { json: canonical, sizes, warnings, sizeBytes: canonicalBytes } };
  } catch (error) {
    if (error instanceof Malformed) return malformed(error.message);
    if (error instanceof RangeError) return malformed("nested too deeply");
    throw error;
  }
}

function tooLarge(bytes: number): StateCheck {
  return {
    ok: false,
    problem: "too_large",
    message: `The session's state would be ${bytes > MAX_SESSION_STATE_BYTES + 64 * 1024 ? "more than " : ""}${bytes} bytes; the limit is ${MAX_SESSION_STATE_BYTES} bytes. Nothing of this cell was kept.`,
  };
}

function malformed(detail: string): StateCheck {
  return { ok: false, problem: "malformed", message: `The sandbox returned a session state that is not valid (${detail}); nothing of this cell was kept.` };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const isIndex = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

/** Checks nodes in the decoder's order, so ids and references mean what the decoder will make of them. */
class NodeWalker {
  private nextId = 0;
  /** The byte length of each ArrayBuffer node by id; other ids map to undefined. */
  private readonly buffers = new Map<number, number>();

  node(n: unknown, depth: number): void {
    if (depth > MAX_NODE_DEPTH) throw new Malformed("nested too deeply");
    if (n === null || typeof n === "string" || typeof n === "boolean") return;
    if (typeof n === "number") {
      if (!Number.isFinite(n)) throw new Malformed("a number that is not finite");
      return;
    }
    if (!Array.isArray(n) || typeof n[0] !== "string") throw new Malformed("a node that is not a value");
    const tag = n[0];
    const fixed = (length: number) => {
      if (n.length !== length) throw new Malformed(`a ${tag} node of the wrong length`);
    };
    switch (tag) {
      case "u":
        return fixed(1);
      case "n":
        fixed(2);
        if (!["NaN", "Infinity", "-Infinity", "-0"].includes(n[1])) throw new Malformed("an unknown number");
        return;
      case "i":
        fixed(2);
        if (typeof n[1] !== "string" || !/^-?\d{1,100000}$/.test(n[1])) throw new Malformed("a bigint that is not decimal");
        return;
      case "r":
        fixed(2);
        if (!isIndex(n[1]) || n[1] >= this.nextId) throw new Malformed("a reference to nothing");
        return;
    }
    const id = n[1];
    if (id !== this.nextId) throw new Malformed("object ids out of order");
    this.nextId++;
    switch (tag) {
      case "o":
        fixed(4);
        if (n[2] !== 0 && n[2] !== 1) throw new Malformed("an object node without its prototype flag");
        if (!Array.isArray(n[3])) throw new Malformed("an object without entries");
        for (const entry of n[3]) {
          if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string") throw new Malformed("an object entry that is not [key, value]");
          this.node(entry[1], depth + 1);
        }
        return;
      case "a":
        fixed(3);
        if (!Array.isArray(n[2])) throw new Malformed("an array without items");
        for (const item of n[2]) this.node(item, depth + 1);
        return;
      case "d":
        fixed(3);
        if (n[2] !== null && !(typeof n[2] === "number" && Number.isFinite(n[2]))) throw new Malformed("a date without a time");
        return;
      case "x":
        fixed(4);
        if (typeof n[2] !== "string" || typeof n[3] !== "string" || !/^[dgimsuvy]*$/.test(n[3])) throw new Malformed("a regexp without source and flags");
        try {
          new RegExp(n[2], n[3]);
        } catch {
          throw new Malformed("a regexp that does not compile");
        }
        return;
      case "e":
        fixed(5);
        if (typeof n[2] !== "string" || typeof n[3] !== "string" || typeof n[4] !== "string") throw new Malformed("an error without its texts");
        return;
      case "m":
        fixed(3);
        if (!Array.isArray(n[2])) throw new Malformed("a map without entries");
        for (const entry of n[2]) {
          if (!Array.isArray(entry) || entry.length !== 2) throw new Malformed("a map entry that is not [key, value]");
          this.node(entry[0], depth + 1);
          this.node(entry[1], depth + 1);
        }
        return;
      case "s":
        fixed(3);
        if (!Array.isArray(n[2])) throw new Malformed("a set without items");
        for (const item of n[2]) this.node(item, depth + 1);
        return;
      case "ab": {
        fixed(3);
        const base64 = n[2];
        if (typeof base64 !== "string" || base64.length % 4 !== 0 || !BASE64.test(base64)) throw new Malformed("a buffer that is not base64");
        const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
        this.buffers.set(id, (base64.length / 4) * 3 - padding);
        return;
      }
      case "t": {
        fixed(6);
        const type = n[2];
        if (typeof type !== "string" || !VIEW_TYPES.has(type)) throw new Malformed("an unknown view type");
        const buffer = n[3];
        let bufferId: unknown;
        if (Array.isArray(buffer) && buffer[0] === "r") bufferId = buffer[1];
        else if (Array.isArray(buffer) && buffer[0] === "ab") bufferId = this.nextId;
        else throw new Malformed("a view without a buffer");
        this.node(buffer, depth + 1);
        const byteLength = typeof bufferId === "number" ? this.buffers.get(bufferId) : undefined;
        if (byteLength === undefined) throw new Malformed("a view whose buffer is not a buffer");
        const offset = n[4];
        const length = n[5];
        const element = VIEW_ELEMENT_BYTES[type] ?? 1;
        if (!isIndex(offset) || !isIndex(length) || offset % element !== 0 || offset + length * element > byteLength) {
          throw new Malformed("a view outside its buffer");
        }
        return;
      }
    }
    throw new Malformed(`an unknown node ${JSON.stringify(tag.slice(0, 10))}`);
  }
}

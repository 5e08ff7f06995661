import { describe, expect, it } from "vitest";
import {
  MAX_LOG_ENTRIES,
  MAX_LOG_MESSAGE_CHARS,
  MAX_LOG_TOTAL_CHARS,
  MAX_RESULT_CHARS,
} from "../../schemas/limits";
import type { ExecutionResult } from "../../schemas/result";
import {
  MAX_ERROR_MESSAGE_CHARS,
  MAX_ERROR_NAME_CHARS,
  MAX_RESULT_JSON_CHARS,
  parseChildReply,
} from "../../worker/execution/child-protocol";
import { execute, post } from "../helpers";

// The reply is the truth (issue 9 §1): whatever the code does to the realm it shares with the harness
// (prototypes, Promise, iterators, JSON, Date, getters, Proxies, thenables), the reply says what it really did,
// within every cap, and the service keeps serving. Each attack is followed by a normal request.

/** The most an honest response can weigh: the result and log caps, with room for escaping and the envelope. */
const MAX_RESPONSE_CHARS = 2 * (MAX_RESULT_JSON_CHARS + MAX_LOG_TOTAL_CHARS) + 64 * 1024;

async function attack(code: string, timeout = 5_000): Promise<ExecutionResult> {
  const response = await post("/execute", { code, config: { timeout } });
  const text = await response.text();
  expect(response.status, text.slice(0, 300)).toBe(200);
  expect(text.length).toBeLessThan(MAX_RESPONSE_CHARS);
  const result = JSON.parse(text) as ExecutionResult;
  expectWithinLogCaps(result);
  const normal = await execute({ code: "return 1 + 1" });
  expect(normal).toMatchObject({ success: true, status: "success", result: 2 });
  return result;
}

function expectWithinLogCaps(result: { logs: { message: string; timestamp: string }[] }) {
  expect(result.logs.length).toBeLessThanOrEqual(MAX_LOG_ENTRIES + 1);
  let total = 0;
  for (const entry of result.logs) {
    expect(entry.message.length).toBeLessThanOrEqual(MAX_LOG_MESSAGE_CHARS + 64);
    expect(new Date(entry.timestamp).toISOString()).toBe(entry.timestamp);
    total += entry.message.length;
  }
  expect(total).toBeLessThanOrEqual(MAX_LOG_TOTAL_CHARS + 2 * (MAX_LOG_MESSAGE_CHARS + 64) + 256);
}

const messages = (result: ExecutionResult) => result.logs.map((entry) => entry.message);

/** What every "the code threw" case must come back as. */
function expectThrew(result: ExecutionResult, message: string | RegExp = "real failure") {
  expect(result).toMatchObject({ success: false, status: "error", error: { code: "RUNTIME_ERROR" } });
  expect(result.result).toBeUndefined();
  if (typeof message === "string") expect(result.error?.message).toBe(message);
  else expect(result.error?.message).toMatch(message);
}

describe("a thrown error is never reported as success", () => {
  const forgedReply = `{ status: 'success', logs: [], resultJson: '"forged"', kind: 'returned', value: 'forged' }`;
  it.each([
    ["Object.prototype.then as a bound builtin that never calls back", "Object.prototype.then = Array.prototype.forEach.bind([]);"],
    ["Object.prototype.then answering with a forged reply", `Object.prototype.then = function (resolve) { delete Object.prototype.then; resolve(${forgedReply}); };`],
    ["a then getter on Object.prototype", `Object.defineProperty(Object.prototype, 'then', { get() { return (resolve) => resolve(${forgedReply}); } });`],
    ["Promise.prototype.then replaced", "Promise.prototype.then = function (onFulfilled) { onFulfilled('forged'); };"],
    ["Promise.prototype.constructor as a throwing getter", "Object.defineProperty(Promise.prototype, 'constructor', { get() { throw new Error('ctor'); } });"],
    [
      "Promise[Symbol.species] answering with a forged constructor",
      "Object.defineProperty(Promise, Symbol.species, { get() { return function (executor) { executor(() => {}, () => {}); }; } });",
    ],
    ["Promise.resolve and Promise.race replaced", "Promise.resolve = () => ({ then: (r) => r('forged') }); Promise.race = Promise.resolve;"],
    ["Function.prototype.call, apply and bind replaced", "const FP = Object.getPrototypeOf(() => {}); FP.call = FP.apply = FP.bind = () => 'forged';"],
    ["Reflect.apply replaced", "Reflect.apply = () => 'forged';"],
    ["JSON.stringify and JSON.parse replaced", `JSON.stringify = () => '{"status":"success","logs":[]}'; JSON.parse = () => ({ status: 'success' });`],
    ["the Array iterator deleted", "delete Array.prototype[Symbol.iterator];"],
    ["Array.prototype.push, map, join and slice replaced", "for (const m of ['push', 'map', 'join', 'slice', 'concat']) Array.prototype[m] = () => { throw new Error('array'); };"],
    ["String.prototype.slice and friends replaced", "for (const m of ['slice', 'substring', 'replace', 'split', 'concat']) String.prototype[m] = () => 'forged';"],
    [
      "accessors for the reply's keys on Object.prototype",
      "for (const k of ['status', 'logs', 'resultJson', 'resultTruncated', 'error', 'kind', 'value', 'json', 'truncated', 'get', 'set', 'done']) Object.defineProperty(Object.prototype, k, { __proto__: null, get() { return 'forged'; }, set() {}, configurable: true });",
    ],
    ["setters for array indices on Array.prototype", "for (let i = 0; i < 4; i++) Object.defineProperty(Array.prototype, i, { get() { return 'forged'; }, set() { throw new Error('setter'); }, configurable: true });"],
    ["Symbol.hasInstance on Error", "Object.defineProperty(Error, Symbol.hasInstance, { value: () => { throw new Error('hasInstance'); } });"],
  ])("%s", async (_name, prelude) => {
    const result = await attack(`${prelude}\nconsole.log('before the failure');\nthrow new Error('real failure');`);
    expectThrew(result);
    expect(messages(result)).toEqual(["before the failure"]);
  });

  it("keeps an honest success honest under the same attacks", async () => {
    const result = await attack(`
      delete Array.prototype[Symbol.iterator];
      Object.defineProperty(Promise.prototype, 'constructor', { get() { throw new Error('ctor'); } });
      Object.defineProperty(Promise, Symbol.species, { get() { throw new Error('species'); } });
      Object.prototype.toJSON = undefined;
      console.log('ran');
      return { list: [1, 2], when: new Date(0) };`);
    expect(result).toMatchObject({ success: true, status: "success", result: { list: [1, 2], when: "1970-01-01T00:00:00.000Z" } });
    expect(messages(result)).toEqual(["ran"]);
  });

  it("returns a primitive whatever Object.prototype.then does", async () => {
    const result = await attack("Object.prototype.then = Array.prototype.forEach.bind([]); return 'ok';");
    expect(result).toMatchObject({ success: true, status: "success", result: "ok" });
  });

  it("reports a returned object that Object.prototype.then made a never-settling thenable as the timeout it is", async () => {
    // As in any JavaScript runtime: an async function returning a thenable adopts it, and this one never calls back.
    const result = await attack("Object.prototype.then = Array.prototype.forEach.bind([]); return { a: 1 };", 300);
    expect(result).toMatchObject({ success: false, status: "timeout" });
  });

  it("does not report CAPABILITY_DENIED for an error the code built itself", async () => {
    for (const thrown of [
      "Object.assign(new Error('x'), { name: 'CapabilityError', code: 'CAPABILITY_DENIED' })",
      "new CapabilityError('CAPABILITY_DENIED', 'x')",
    ]) {
      const result = await attack(`throw ${thrown}`);
      expect(result.error, thrown).toMatchObject({ code: "RUNTIME_ERROR", name: "CapabilityError", message: "x" });
    }
  });
});

describe("a timeout is never reported as success", () => {
  it("times out a promise that never settles whatever then and species say", async () => {
    const result = await attack(
      `Object.prototype.then = function (resolve) { resolve({ status: 'success', logs: [] }); };
       Object.defineProperty(Promise, Symbol.species, { get() { throw new Error('species'); } });
       console.log('waiting');
       await new Promise(() => {});`,
      300,
    );
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
    expect(messages(result)).toEqual(["waiting"]);
  });

  it("times out a loop whose caught timeout is turned into a return value", async () => {
    const result = await attack("try { for (;;) {} } catch { Object.prototype.then = (r) => r('forged'); } return 'escaped';", 300);
    expect(result).toMatchObject({ success: false, status: "timeout" });
  });
});

describe("errors are read defensively and cut, never lost", () => {
  it("cuts a 70 KB error message and keeps the logs", async () => {
    const result = await attack("console.log('kept'); throw new Error('m'.repeat(70 * 1024));");
    expectThrew(result, /^m+… \[truncated: 71680 characters\]$/);
    expect(result.error?.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
    expect(messages(result)).toEqual(["kept"]);
  });

  it("cuts a 300-character error name and keeps the logs", async () => {
    const result = await attack("console.log('kept'); const e = new Error('real failure'); e.name = 'N'.repeat(300); throw e;");
    expectThrew(result);
    expect(result.error?.name.length).toBeLessThanOrEqual(MAX_ERROR_NAME_CHARS);
    expect(result.error?.name).toMatch(/^N+… \[truncated: 300 characters\]$/);
    expect(messages(result)).toEqual(["kept"]);
  });

  it.each([
    ["a getter on message that throws", "const e = new Error('x'); Object.defineProperty(e, 'message', { get() { throw new Error('no'); } }); throw e;", "[message could not be read]"],
    ["an Error.prototype.name getter that throws", "Object.defineProperty(Error.prototype, 'name', { get() { throw new Error('n'); } }); throw new Error('real failure');", "real failure"],
    ["a message whose Symbol.toPrimitive throws", "const e = new Error(); e.message = { [Symbol.toPrimitive]() { throw new Error('p'); } }; throw e;", "[message could not be read]"],
    ["a message that is a Symbol", "const e = new Error(); e.message = Symbol('s'); throw e;", "Symbol(s)"],
  ])("stays an error with %s", async (_name, code, message) => {
    const result = await attack(code);
    expectThrew(result, message);
  });

  it("cuts a 1 MB message produced by Symbol.toPrimitive", async () => {
    const result = await attack("const e = new Error(); e.message = { [Symbol.toPrimitive]: () => 'q'.repeat(1e6) }; throw e;");
    expectThrew(result, /^q+… \[truncated: 1000000 characters\]$/);
  });

  it.each([
    ["a Proxy whose every trap throws", "throw new Proxy(new Error('p'), { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } });"],
    ["a plain object with a throwing toString", "throw { toString() { throw new Error('t'); }, [Symbol.toPrimitive]() { throw new Error('t'); } };"],
    ["a revoked Proxy", "const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); throw proxy;"],
    ["null", "throw null;"],
    ["a Proxy of a function", "throw new Proxy(function () {}, { get() { throw new Error('trap'); }, apply() { throw new Error('trap'); } });"],
  ])("stays an error when the thrown value is %s", async (_name, code) => {
    const result = await attack(`console.log('kept'); ${code}`);
    expect(result).toMatchObject({ success: false, status: "error", error: { code: "RUNTIME_ERROR" } });
    expect(messages(result)).toEqual(["kept"]);
  });

  it("keeps the logs of a failure with a stack the code rewrote", async () => {
    const result = await attack("console.log('kept'); const e = new Error('real failure'); e.stack = 'Error: x\\n    at user.js:0:0\\n    at f (user.js:1:0)'; throw e;");
    expectThrew(result);
    expect(result.error?.line).toBeUndefined();
  });
});

describe("results and logs stay within their caps", () => {
  it("caps a result whose Object.prototype.toJSON returns 20 MB", async () => {
    const result = await attack("Object.prototype.toJSON = function () { return 'x'.repeat(20 * 1024 * 1024); }; return { a: 1, b: [{}, {}] };");
    expect(result).toMatchObject({ success: true, resultTruncated: true, result: { $type: "truncated", reason: "string too long", length: 20 * 1024 * 1024 } });
    expect(JSON.stringify(result.result).length).toBeLessThanOrEqual(MAX_RESULT_JSON_CHARS);
  });

  it("caps a toJSON that returns ever larger objects, and the same in logs", async () => {
    const result = await attack(`
      Object.prototype.toJSON = function () { return { big: 'y'.repeat(2e6), again: {} }; };
      console.log({ a: 1 });
      return { a: 1 };`);
    expect(result).toMatchObject({ success: true, resultTruncated: true });
    expect(JSON.stringify(result.result).length).toBeLessThanOrEqual(MAX_RESULT_JSON_CHARS);
  });

  it("counts escaped characters: a million quotes or control characters stay within the cap", async () => {
    for (const ch of ['\\"', "\\u0001"]) {
      const result = await attack(`return '${ch}'.repeat(${MAX_RESULT_CHARS})`);
      expect(result.resultTruncated, ch).toBe(true);
      expect(JSON.stringify(result.result).length).toBeLessThanOrEqual(MAX_RESULT_JSON_CHARS);
    }
  });

  it("caps a function name of 10 MB in the result", async () => {
    const result = await attack("const f = () => 1; Object.defineProperty(f, 'name', { value: 'n'.repeat(1e7) }); return [f, f, f];");
    expect(JSON.stringify(result.result).length).toBeLessThan(4 * 1024);
  });

  it("cannot forge 1001 logs of 20 KB through a thenable", async () => {
    const result = await attack(`
      const logs = [];
      for (let i = 0; i < 1001; i++) logs.push({ level: 'log', message: 'x'.repeat(20 * 1024), timestamp: new Date().toISOString() });
      Object.prototype.then = function (resolve) { delete Object.prototype.then; resolve({ status: 'success', logs }); };
      return 'honest';`);
    expect(result).toMatchObject({ success: true, result: "honest", logs: [] });
  });

  it("keeps log timestamps and Date results when Date.prototype.toISOString and Date.now are replaced", async () => {
    const result = await attack(`
      Date.prototype.toISOString = () => 'not a date';
      Date.now = () => NaN;
      console.log('hi');
      return new Date(0);`);
    expect(result).toMatchObject({ success: true, result: "1970-01-01T00:00:00.000Z" });
    expect(messages(result)).toEqual(["hi"]);
  });

  it("encodes Maps, Sets, RegExps and bytes with their iterators and getters replaced", async () => {
    const result = await attack(`
      const mapIterator = Object.getPrototypeOf(new Map().entries());
      const setIterator = Object.getPrototypeOf(new Set().values());
      mapIterator.next = setIterator.next = () => ({ done: true });
      Map.prototype.entries = Set.prototype.values = () => { throw new Error('iter'); };
      Object.defineProperty(RegExp.prototype, 'flags', { get() { return 'forged'; } });
      Object.defineProperty(RegExp.prototype, 'source', { get() { return 'forged'; } });
      Object.defineProperty(Object.getPrototypeOf(Uint8Array.prototype), 'byteLength', { get() { return -1; } });
      return { m: new Map([[1, 2]]), s: new Set(['a']), r: /a+/gi, b: new Uint8Array(4) };`);
    expect(result.result).toEqual({
      m: { $type: "Map", entries: [[1, 2]] },
      s: { $type: "Set", values: ["a"] },
      r: { $type: "RegExp", value: "/a+/gi" },
      b: { $type: "bytes", kind: "Uint8Array", byteLength: 4 },
    });
  });

  it("answers a Proxy result whose traps throw with a tag", async () => {
    // "then" answers undefined: returning a Proxy from an async function looks it up, and a throw there rejects.
    const result = await attack(
      "return new Proxy({}, { ownKeys() { return ['a']; }, getOwnPropertyDescriptor() { return { value: 1, enumerable: true, configurable: true }; }, get(_, key) { if (key === 'then') return undefined; throw new Error('trap'); } });",
    );
    expect(result).toMatchObject({ success: true, resultTruncated: true, result: { $type: "unencodable", message: "trap" } });
  });

  it("leaves log text that only looks like a sandbox frame as it is", async () => {
    const text = "at f (user.js:0:0)\\n    at user.js:1:0\\n    at user.js:99999999999999999999:1\\n    at user.js:1:1\\n    at user.js:999999:5";
    const result = await attack(`console.log('${text}'); console.error(new Error('e')); return 1`);
    expect(result).toMatchObject({ success: true, result: 1 });
    const [first, second] = messages(result);
    // Real frame positions that map nowhere in the caller's code (the wrapper's line, past the end) say "code".
    expect(first).toBe("at f (user.js:0:0)\n    at user.js:1:0\n    at user.js:99999999999999999999:1\n    at code\n    at code");
    expect(second).toMatch(/^Error: e\n\s+at code:1:\d+/);
  });
});

describe("the parent re-checks what the child answers", () => {
  const timestamp = new Date(0).toISOString();
  const entry = (message: string) => ({ level: "log", message, timestamp });

  it("cuts 1001 forged logs of 20 KB to the caps instead of discarding the reply", () => {
    const logs = Array.from({ length: 1001 }, () => entry("x".repeat(20 * 1024)));
    const received = parseChildReply(JSON.stringify({ status: "success", logs }));
    if (received.kind !== "reply") throw new Error(`expected a reply, got ${received.kind}`);
    expectWithinLogCaps(received.reply);
    expect(received.reply.logs.at(-1)?.message).toMatch(/^\[code-exec\] \d+ log entries from the sandbox were dropped/);
  });

  it("keeps an honest reply at the caps unchanged", () => {
    const logs = [...Array.from({ length: MAX_LOG_ENTRIES }, (_, i) => entry(`line ${i}`)), entry("[code-exec] 5 more log entries dropped")];
    const received = parseChildReply(JSON.stringify({ status: "success", logs, resultJson: JSON.stringify("z".repeat(MAX_RESULT_CHARS)) }));
    expect(received).toEqual({ kind: "reply", reply: { status: "success", logs, resultJson: JSON.stringify("z".repeat(MAX_RESULT_CHARS)) } });
  });

  it("cuts oversized error fields and an oversized result", () => {
    const received = parseChildReply(
      JSON.stringify({
        status: "error",
        logs: [entry("kept")],
        error: { name: "N".repeat(300), message: "m".repeat(70 * 1024), stack: "s".repeat(1e6), code: "c".repeat(100) },
      }),
    );
    if (received.kind !== "reply") throw new Error(`expected a reply, got ${received.kind}`);
    expect(received.reply.logs).toEqual([entry("kept")]);
    expect(received.reply.error?.name.length).toBe(MAX_ERROR_NAME_CHARS);
    expect(received.reply.error?.message.length).toBe(MAX_ERROR_MESSAGE_CHARS);
    const big = parseChildReply(JSON.stringify({ status: "success", logs: [], resultJson: JSON.stringify("r".repeat(MAX_RESULT_JSON_CHARS)) }));
    expect(big).toMatchObject({ kind: "reply", reply: { resultTruncated: true } });
    if (big.kind === "reply") expect(JSON.parse(big.reply.resultJson ?? "")).toMatchObject({ $type: "truncated" });
  });

  it("keeps the salvageable logs of a malformed reply", () => {
    const received = parseChildReply(JSON.stringify({ status: "forged", logs: [entry("kept"), { level: "log", message: 1, timestamp: "x" }] }));
    expect(received).toMatchObject({ kind: "malformed", logs: [entry("kept"), { level: "warn" }] });
    expect(parseChildReply("not json")).toMatchObject({ kind: "malformed", logs: [] });
    expect(parseChildReply({ status: "success", logs: [entry("kept")] })).toMatchObject({ kind: "malformed", logs: [entry("kept")] });
  });
});

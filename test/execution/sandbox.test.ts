import { describe, expect, it } from "vitest";
import { execute } from "../helpers";

describe("runaway code stops at the timeout and the next request is served", () => {
  const runaways: [string, string][] = [
    ["while(true){}", "while (true) {}"],
    ["for(;;){}", "for (;;) {}"],
    ["do{}while(1)", "do {} while (1)"],
    ["a loop without braces", "let i = 0; while (true) i++;"],
    ["recursion that catches its stack overflow", "function f() { try { f(); } catch { f(); } } f();"],
    ["while(true) await null", "while (true) await null;"],
    ["a promise that never settles", "await new Promise(() => {});"],
    ["catch swallowing the timeout", "while (true) { try { while (true) {} } catch (e) {} }"],
    ["finally looping again", "try { while (true) {} } finally { for (;;) {} }"],
    ["an async function looping", "const spin = async () => { for (;;) {} }; await spin();"],
    ["a generator driven forever", "function* g() { for (;;) yield 1; } for (const _ of g()) {}"],
  ];

  it.each(runaways)("%s", async (_name, code) => {
    const startedAt = Date.now();
    const result = await execute({ code, config: { timeout: 500 } });
    const elapsedMs = Date.now() - startedAt;
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
    expect(elapsedMs).toBeLessThan(500 + 1500);
    const next = await execute({ code: "return 'still serving'" });
    expect(next.result).toBe("still serving");
  });

  it("reports a run whose last builtin call ends past the deadline as a timeout, whatever it returned", async () => {
    // The last call must end past the 300 ms deadline but before the parent's backstop (deadline + grace), whose
    // timeout would be reported either way: the code sizes its final sort (builtins only, no guard check) from a
    // measured one so that it ends ~150 ms past the deadline on any machine.
    const code = `
      const started = Date.now();
      const work = (n) => { const a = Array.from(new Float64Array(n).map(Math.random)); a.sort(); return a.length; };
      let n = 1000, tookMs = 0;
      while (tookMs < 20) { n *= 2; const t = Date.now(); work(n); tookMs = Date.now() - t; }
      const targetMs = 300 - (Date.now() - started) + 150;
      return work(Math.ceil((n * targetMs) / tookMs));`;
    const result = await execute({ code, config: { timeout: 300 } });
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
    expect(result).not.toHaveProperty("result");
  });

  it("reports plain unbounded recursion as the stack overflow it is", async () => {
    const result = await execute({ code: "function f(n) { return f(n + 1) + 1; } return f(0);", config: { timeout: 500 } });
    expect(result).toMatchObject({ status: "error", error: { code: "RUNTIME_ERROR", name: "RangeError" } });
    expect(result.error?.message).toMatch(/call stack/i);
  });

  it("lets code that finishes in time finish", async () => {
    const result = await execute({ code: "let s = 0; for (let i = 0; i < 1e6; i++) s += i; return s", config: { timeout: 5000 } });
    expect(result.result).toBe(499999500000);
  });
});

describe("isolation", () => {
  it("keeps no global state between executions of the same code", async () => {
    const code = "const before = globalThis.counter; globalThis.counter = (globalThis.counter ?? 0) + 1; return before ?? null";
    expect((await execute({ code })).result).toBeNull();
    expect((await execute({ code })).result).toBeNull();
  });

  it("keeps no prototype changes between executions of different code", async () => {
    await execute({ code: "Array.prototype.leak = 1; Object.prototype.polluted = true; globalThis.x = 1; return 1" });
    const result = await execute({ code: "return [typeof [].leak, typeof ({}).polluted, typeof globalThis.x]" });
    expect(result.result).toEqual(["undefined", "undefined", "undefined"]);
  });

  it("has no network: fetch is refused", async () => {
    const result = await execute({ code: "const r = await fetch('https://example.com'); return r.status" });
    expect(result.status).toBe("error");
    expect(result.error?.code).toBe("RUNTIME_ERROR");
  });

  it("has no bindings in reach: env-like globals are absent", async () => {
    const result = await execute({ code: "return [typeof env, typeof LOADER, typeof caches?.default?.put, typeof WebSocket]" });
    expect(result.result?.[0 as never]).toBe("undefined");
    expect((result.result as string[])[1]).toBe("undefined");
  });

  it("refuses code generation from strings at run time", async () => {
    const result = await execute({ code: "const F = (async () => {}).constructor; return await F('return 1')()" });
    expect(result.status).toBe("error");
  });
});

describe("result encoding", () => {
  it("omits result for undefined", async () => {
    const result = await execute({ code: "return undefined" });
    expect(result.success).toBe(true);
    expect("result" in result).toBe(false);
  });

  it("encodes values JSON cannot hold as tagged objects", async () => {
    const code = `
      const circular = { name: "c" }; circular.self = circular;
      return {
        big: 12345678901234567890n, date: new Date(0), map: new Map([["k", 1]]), set: new Set([1, 2]),
        error: new TypeError("bad"), nan: NaN, inf: -Infinity, fn: function named() {}, sym: Symbol("s"),
        re: /a+/g, undef: undefined, arr: [undefined, 1], circular, bytes: new Uint8Array(4),
      };`;
    const result = await execute({ code });
    expect(result.result).toEqual({
      big: { $type: "bigint", value: "12345678901234567890" },
      date: "1970-01-01T00:00:00.000Z",
      map: { $type: "Map", entries: [["k", 1]] },
      set: { $type: "Set", values: [1, 2] },
      error: { $type: "Error", name: "TypeError", message: "bad" },
      nan: { $type: "number", value: "NaN" },
      inf: { $type: "number", value: "-Infinity" },
      fn: { $type: "function", name: "named" },
      sym: { $type: "symbol", description: "s" },
      re: { $type: "RegExp", value: "/a+/g" },
      arr: [null, 1],
      circular: { name: "c", self: { $type: "circular" } },
      bytes: { $type: "bytes", kind: "Uint8Array", byteLength: 4 },
    });
  });

  it("tells builtins apart by their brand, and a forged Symbol.toStringTag makes nothing else a builtin", async () => {
    // The encoder tests a brand only where the object's tag names it (sandbox-template/encode.js walkObject).
    const code = `
      class Point { constructor() { this.x = 1; } }
      const fakeDate = { [Symbol.toStringTag]: "Date", when: 1 };
      const fakeMap = { [Symbol.toStringTag]: "Map", k: 2 };
      const fakeBuffer = { [Symbol.toStringTag]: "ArrayBuffer", n: 3 };
      const hiddenDate = new Date(0); hiddenDate[Symbol.toStringTag] = "Object";
      return {
        buffer: new ArrayBuffer(8), view: new DataView(new ArrayBuffer(2)), floats: new Float64Array(3),
        subMap: new (class extends Map {})([[1, 2]]), point: new Point(), nullProto: Object.assign(Object.create(null), { a: 1 }),
        fakeDate, fakeMap, fakeBuffer, hiddenDate,
      };`;
    const result = await execute({ code });
    expect(result).toMatchObject({ success: true });
    expect(result.result).toEqual({
      buffer: { $type: "bytes", kind: "ArrayBuffer", byteLength: 8 },
      view: { $type: "bytes", kind: "DataView", byteLength: 2 },
      floats: { $type: "bytes", kind: "Float64Array", byteLength: 24 },
      subMap: { $type: "Map", entries: [[1, 2]] },
      point: { x: 1 },
      nullProto: { a: 1 },
      fakeDate: { when: 1 },
      fakeMap: { k: 2 },
      fakeBuffer: { n: 3 },
      // A real Date whose tag was replaced is not tested as a Date, and still reads as one: through its toJSON.
      hiddenDate: "1970-01-01T00:00:00.000Z",
    });
  });

  it("stops a Symbol.toStringTag getter that never returns, in a result or a log line, like any user code the encoder runs", async () => {
    const loop = "{ get [Symbol.toStringTag]() { for (;;) {} } }";
    expect(await execute({ code: `return ${loop};`, config: { timeout: 300 } })).toMatchObject({ status: "timeout" });
    const logged = await execute({ code: `console.log("before"); console.log(${loop}); return 1;`, config: { timeout: 300 } });
    expect(logged).toMatchObject({ status: "timeout" });
    // The line the getter was stopped in is kept as the encoder's tag for a value that could not be encoded.
    expect(logged.logs.map((entry) => entry.message)).toEqual(["before", '{"$type":"unencodable","message":"Execution timed out"}']);
    expect(await execute({ code: "return 1 + 1" })).toMatchObject({ success: true, result: 2 });
  });

  it("truncates an oversized result and says so", async () => {
    const result = await execute({ code: "return 'x'.repeat(5 * 1024 * 1024)" });
    expect(result).toMatchObject({ success: true, resultTruncated: true, result: { $type: "truncated", length: 5 * 1024 * 1024 } });
  });

  it("cuts very deep values", async () => {
    const result = await execute({ code: "let o = {}; const root = o; for (let i = 0; i < 1000; i++) { o.next = {}; o = o.next; } return root" });
    expect(result.resultTruncated).toBe(true);
    expect(JSON.stringify(result.result)).toContain("nested deeper than 64 levels");
  });

  it("keeps a __proto__ key as data", async () => {
    const result = await execute({ code: `return JSON.parse('{"__proto__": {"x": 1}}')` });
    expect(JSON.stringify(result.result)).toBe('{"__proto__":{"x":1}}');
  });
});

describe("user code cannot steer the harness", () => {
  it("still times out when the code replaces Promise.race and Date.now", async () => {
    const code = "Promise.race = () => Promise.resolve({ kind: 'returned', value: 'forged' }); Date.now = () => 0; await new Promise(() => {});";
    const result = await execute({ code, config: { timeout: 300 } });
    expect(result).toMatchObject({ status: "timeout", error: { code: "TIMEOUT" } });
  });
});

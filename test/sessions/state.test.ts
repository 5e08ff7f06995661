import { describe, expect, it } from "vitest";
import { cell, cells, createSession, describeSession } from "./client";

// What a session keeps between cells (README "Sessions"): each cell runs in a fresh isolate, so everything a later
// cell sees came through the state the session stored.

async function session(language: "javascript" | "typescript" = "javascript"): Promise<string> {
  return (await createSession({ language })).sessionId;
}

describe("session state: values by structured clone", () => {
  it("keeps var, let and const values for later cells", async () => {
    const sessionId = await session();
    const [first, second] = await cells(sessionId, "var a = 1; let b = 'two'; const c = [3];", "return [a, b, c, typeof a];");
    expect(first).toMatchObject({ success: true, sessionId, cell: 1 });
    expect(second).toMatchObject({ success: true, result: [1, "two", [3], "number"], cell: 2 });
  });

  it("keeps every structured-clone kind with its type", async () => {
    const sessionId = await session();
    await cell(
      sessionId,
      `let m = new Map([["k", { deep: [1, 2] }], [1, "one"]]);
       let s = new Set([1, "x", null]);
       let d = new Date(1700000000000);
       let bad = new Date(NaN);
       let r = /a+b/gi;
       let bytes = new Uint8Array([1, 2, 255]);
       let floats = new Float64Array([0.5, -1]);
       let buf = new ArrayBuffer(4);
       let view = new DataView(buf, 1, 2);
       let big = 12345678901234567890n;
       let specials = [NaN, Infinity, -Infinity, -0, undefined, null, true];
       let err = new RangeError("out");
       let bare = Object.create(null); bare.x = 1;
       let proto = { ["__proto__"]: 5 };`,
    );
    const check = await cell(
      sessionId,
      `return {
         map: m instanceof Map && m.get("k").deep[1] === 2 && m.get(1) === "one",
         set: s instanceof Set && s.has("x") && s.has(null) && s.size === 3,
         date: d instanceof Date && d.getTime() === 1700000000000,
         badDate: bad instanceof Date && Number.isNaN(bad.getTime()),
         regexp: r instanceof RegExp && r.source === "a+b" && r.flags === "gi",
         bytes: bytes instanceof Uint8Array && bytes.join() === "1,2,255",
         floats: floats instanceof Float64Array && floats[0] === 0.5 && floats[1] === -1,
         view: view instanceof DataView && view.buffer === buf && view.byteOffset === 1 && view.byteLength === 2,
         big: typeof big === "bigint" && big === 12345678901234567890n,
         specials: Number.isNaN(specials[0]) && specials[1] === Infinity && specials[2] === -Infinity && Object.is(specials[3], -0)
           && specials[4] === undefined && 4 in specials && specials[5] === null && specials[6] === true,
         error: err instanceof Error && err.name === "RangeError" && err.message === "out",
         bare: Object.getPrototypeOf(bare) === null && bare.x === 1,
         proto: Object.getPrototypeOf(proto) === Object.prototype && Object.hasOwn(proto, "__proto__") && proto["__proto__"] === 5,
       };`,
    );
    expect(check.result).toEqual({
      map: true, set: true, date: true, badDate: true, regexp: true, bytes: true, floats: true, view: true, big: true,
      specials: true, error: true, bare: true, proto: true,
    });
    expect(check.warnings).toBeUndefined();
  });

  it("keeps shared references and cycles, across bindings too", async () => {
    const sessionId = await session();
    await cell(sessionId, "const shared = { n: 1 }; const a = { shared }; const b = [shared, shared]; const loop = {}; loop.self = loop; const bytes = new Uint8Array(8); const half = bytes.subarray(4);");
    const check = await cell(
      sessionId,
      "half[0] = 9; return [a.shared === shared, b[0] === b[1], b[0] === shared, loop.self === loop, half.buffer === bytes.buffer, bytes[4]];",
    );
    expect(check.result).toEqual([true, true, true, true, true, 9]);
  });

  it("keeps a value changed by a later cell, and destructured names", async () => {
    const sessionId = await session();
    const [, , third] = await cells(sessionId, "let count = 0; const { x, y: [z] } = { x: 1, y: [2] };", "count += 10; count++;", "return [count, x, z];");
    expect(third?.result).toEqual([11, 1, 2]);
  });

  it("keeps const as const and lets a later cell declare the name again", async () => {
    const sessionId = await session();
    await cell(sessionId, "const fixed = 1;");
    const assign = await cell(sessionId, "fixed = 2;");
    expect(assign).toMatchObject({ success: false, error: { code: "RUNTIME_ERROR", name: "TypeError" } });
    await cell(sessionId, "const fixed = 'again';");
    expect((await cell(sessionId, "return fixed")).result).toBe("again");
  });

  it("does not keep names declared inside blocks or functions", async () => {
    const sessionId = await session();
    await cell(sessionId, "{ let inner = 1; } function f() { var local = 2; } f(); var top = 3;");
    expect((await cell(sessionId, "return [typeof inner, typeof local, top]")).result).toEqual(["undefined", "undefined", 3]);
  });

  it("keeps state when the cell returns before its end, and warns about names still uninitialised", async () => {
    const sessionId = await session();
    const early = await cell(sessionId, "let before = 1; if (before) return 'early'; let after = 2;");
    expect(early).toMatchObject({ success: true, result: "early" });
    expect(early.warnings).toEqual([expect.stringMatching(/after was not kept: not initialised/)]);
    expect((await cell(sessionId, "return [before, typeof after]")).result).toEqual([1, "undefined"]);
  });

  it("works for TypeScript cells, with positions in the cell's own source", async () => {
    const sessionId = await session("typescript");
    await cell(sessionId, "interface P { x: number }\nconst p: P = { x: 2 };\nfunction double(n: number): number { return n * 2; }");
    expect((await cell(sessionId, "const q: number = double(p.x);\nreturn q;")).result).toBe(4);
    const thrown = await cell(sessionId, "const y: number = 1;\n\nthrow new Error('here');");
    expect(thrown.error).toMatchObject({ code: "RUNTIME_ERROR", line: 3 });
  });

  it("keeps a TypeScript enum (esbuild's path) as the object it compiles to", async () => {
    const sessionId = await session("typescript");
    await cell(sessionId, "enum Color { Red, Green }\nconst favourite: Color = Color.Green;");
    expect((await cell(sessionId, "return [Color[favourite], Color.Red]")).result).toEqual(["Green", 0]);
  });

  it("reports the position of an error in the cell, not in the session's prologue", async () => {
    const sessionId = await session();
    await cell(sessionId, "function f() {\n  return 1;\n}\nlet v = { a: 1 };");
    const thrown = await cell(sessionId, "let ok = f();\nnull.boom;");
    expect(thrown.error).toMatchObject({ code: "RUNTIME_ERROR", line: 2 });
  });
});

describe("session state: functions and classes", () => {
  it("re-declares functions from their source, with the persisted values they close over", async () => {
    const sessionId = await session();
    await cell(sessionId, "let count = 0; function inc(by = 1) { count += by; return count; } const twice = (n) => inc(n) + inc(n); async function later() { return inc(100); }");
    const used = await cell(sessionId, "inc(); return twice(1);");
    expect(used.result).toBe(5);
    const [next] = await cells(sessionId, "return [count, await later()];");
    expect(next!.result).toEqual([3, 103]);
  });

  it("re-declares classes, subclasses in order, and their static state from source", async () => {
    const sessionId = await session();
    await cell(sessionId, "class Animal { constructor(name) { this.name = name; } speak() { return this.name + ' makes a sound'; } } class Dog extends Animal { speak() { return this.name + ' barks'; } }");
    await cell(sessionId, "const K = class { static make() { return new Dog('rex'); } };");
    expect((await cell(sessionId, "return [K.make().speak(), new Animal('cat').speak(), K.make() instanceof Animal]")).result).toEqual([
      "rex barks",
      "cat makes a sound",
      true,
    ]);
  });

  it("shows a persisted function's own source in toString, as the caller wrote it", async () => {
    const sessionId = await session();
    const source = "function add(a, b = 1) { for (const x of [a]) { a = x; } return a + b; }";
    await cell(sessionId, source);
    expect((await cell(sessionId, "return [add.toString(), add(1)]")).result).toEqual([source, 2]);
  });

  it("lets a later cell redefine a function, and uses the new one", async () => {
    const sessionId = await session();
    await cells(sessionId, "function greet() { return 'v1'; }", "function greet() { return 'v2'; }");
    expect((await cell(sessionId, "return greet()")).result).toBe("v2");
  });

  it("replaces a function by a value of the same name and the other way round", async () => {
    const sessionId = await session();
    await cells(sessionId, "function thing() { return 1; }", "let thing = 'now a value';");
    expect((await cell(sessionId, "return thing")).result).toBe("now a value");
    await cell(sessionId, "function thing() { return 'a function again'; }");
    expect((await cell(sessionId, "return thing()")).result).toBe("a function again");
  });

  it("says in GET /sessions/:id what the state holds, by kind and size", async () => {
    const sessionId = await session();
    await cells(sessionId, "let n = 1; const text = 'abc'; function f() {} class C {}", "const g = () => n;");
    const detail = await describeSession(sessionId);
    expect(detail.state.entries.map(({ name, kind, declaredAs, cell }) => ({ name, kind, declaredAs, cell }))).toEqual([
      { name: "n", kind: "value", declaredAs: "let", cell: 1 },
      { name: "text", kind: "value", declaredAs: "const", cell: 1 },
      { name: "f", kind: "function", declaredAs: "function", cell: 1 },
      { name: "C", kind: "class", declaredAs: "class", cell: 1 },
      { name: "g", kind: "function", declaredAs: "const", cell: 2 },
    ]);
    expect(detail.state.entries.every((entry) => entry.sizeBytes > 0)).toBe(true);
    expect(detail.cells.map((c) => [c.cell, c.status, c.code])).toEqual([
      [1, "success", "let n = 1; const text = 'abc'; function f() {} class C {}"],
      [2, "success", "const g = () => n;"],
    ]);
  });
});

describe("session state: what cannot be carried", () => {
  it("names each unpersistable binding in warnings and keeps the rest", async () => {
    const sessionId = await session();
    const result = await cell(
      sessionId,
      `let ok = 1;
       let fn = () => 1;
       let holder = { inner: { f() {} } };
       let pending = Promise.resolve(1);
       let weak = new WeakMap();
       let sym = Symbol("s");
       class Point { constructor() { this.x = 1; } }
       let point = new Point();`,
    );
    expect(result.success).toBe(true);
    const warnings = result.warnings ?? [];
    for (const [name, why] of [
      ["fn", "a function"],
      ["holder", "a function"],
      ["pending", "a promise"],
      ["weak", "a WeakMap"],
      ["sym", "a symbol"],
      ["point", "an instance of Point"],
    ]) {
      expect(warnings.find((w) => w.includes(`${name} was not kept`)), name).toContain(why);
    }
    expect(warnings.some((w) => w.includes("ok was not kept"))).toBe(false);
    expect((await cell(sessionId, "return [ok, typeof fn, typeof point, typeof Point]")).result).toEqual([1, "undefined", "undefined", "function"]);
  });

  it("drops a kept value that a later cell turns into something unpersistable, with a warning", async () => {
    const sessionId = await session();
    await cell(sessionId, "let x = 1;");
    const changed = await cell(sessionId, "x = () => 2;");
    expect(changed.warnings).toEqual([expect.stringContaining("x was not kept")]);
    expect((await cell(sessionId, "return typeof x")).result).toBe("undefined");
  });

  it("keeps context only when the code assigns it to a top-level name", async () => {
    const sessionId = await session();
    await cell(sessionId, { code: "const seen = context.secret.length;", context: { secret: "s3cr3t" } });
    const detail = await describeSession(sessionId);
    expect(detail.state.entries.map((e) => e.name)).toEqual(["seen"]);
    expect((await cell(sessionId, "return [seen, typeof context.secret]")).result).toEqual([6, "undefined"]);
  });
});

describe("session state: a failed cell changes nothing", () => {
  it.each([
    ["throws", "x = 2; let y = 3; throw new Error('no');", "RUNTIME_ERROR"],
    ["times out", "x = 2; let y = 3; while (true) {}", "TIMEOUT"],
    ["does not parse", "x = 2; let y = ;", "SYNTAX_ERROR"],
    ["breaks policy", "x = 2; eval('1');", "POLICY_VIOLATION"],
  ])("when the cell %s", async (_what, code, errorCode) => {
    const sessionId = (await createSession({ config: { timeout: 500 } })).sessionId;
    await cell(sessionId, "let x = 1; function f() { return 'f'; }");
    const failed = await cell(sessionId, code);
    expect(failed).toMatchObject({ success: false, error: { code: errorCode }, cell: 2 });
    expect((await cell(sessionId, "return [x, typeof y, f()]")).result).toEqual([1, "undefined", "f"]);
  });

  it("mutations of a kept object by a failed cell are not kept either", async () => {
    const sessionId = await session();
    await cell(sessionId, "const list = [1];");
    await cell(sessionId, "list.push(2); throw new Error('after the push');");
    expect((await cell(sessionId, "return list")).result).toEqual([1]);
  });
});

describe("session state: isolation", () => {
  it("never shows one session's state to another, even with identical code", async () => {
    const one = await session();
    const two = await session();
    await cell(one, "var secret = 'one';");
    expect((await cell(two, "return typeof secret")).result).toBe("undefined");
    await cell(two, "var secret = 'two';");
    expect((await cell(one, "return secret")).result).toBe("one");
  });
});

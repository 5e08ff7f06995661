import { describe, expect, it } from "vitest";
import { execute } from "../helpers";

// Every attack below runs without end unless the guard sees the place it runs in: each one builds its unbounded
// work out of code that has no loop and no function body of its own (parameter lists, class fields, static
// blocks, computed keys, heritage), or swallows the timeout and tries again. Without a guard in its place such a
// program never ends (and holds the local runtime), so each of these fails by hanging rather than by answering.
const TIMEOUT_MS = 300;

// Recursion that doubles at every level: the deepest calls overflow the stack, but an async function turns that
// RangeError into a rejected promise, so the caller goes on to its second call and the whole tree (2^depth calls)
// is walked.
const attacks: [string, string][] = [
  ["a default parameter expression", "async function f(a = (f(), f())) {} f();"],
  ["a default in a destructured parameter", "async function f({ a = (f(), f()) } = {}) {} f();"],
  ["a default inside an array parameter pattern", "async function f([a = (f(), f())] = []) {} f();"],
  ["the default of a destructured rest parameter", "async function f(...[a = (f(), f())]) {} f();"],
  ["a computed key in a parameter pattern", "async function f({ [(f(), f(), 'k')]: a } = {}) {} f();"],
  ["an arrow function's default parameter", "const f = async (a = (f(), f())) => {}; f();"],
  ["a method's default parameter", "const o = { async m(a = (o.m(), o.m())) {} }; o.m();"],
  ["a class static block in a parameter default", "async function f(a = class { static { f(); f(); } }) {} f();"],
  ["a static field initialiser in a parameter default", "async function f(a = class { static x = (f(), f()) }) {} f();"],
  ["a computed class key in a parameter default", "async function f(a = class { [(f(), f(), 'm')]() {} }) {} f();"],
  ["a class heritage expression in a parameter default", "async function f(a = class extends (f(), f(), Object) {}) {} f();"],
  [
    // No user function runs at all: each construction runs the field initialiser, which constructs twice more
    // through a builtin, and the Promise constructor swallows the stack overflow.
    "an instance field initialiser constructing through builtins",
    "class A { x = (new Promise(Reflect.construct.bind(null, A, [], A)), new Promise(Reflect.construct.bind(null, A, [], A))) } new A();",
  ],
  [
    "a derived class's field initialiser",
    "class A {} class B extends A { x = (new Promise(Reflect.construct.bind(null, B, [], B)), new Promise(Reflect.construct.bind(null, B, [], B))) } new B();",
  ],
  ["a named class's static block in a parameter default", "async function f(a = class K { static { f(); f(); } }) {} f();"],
  [
    // Parameter errors of an async generator are thrown at the call, not turned into a rejection.
    "an async generator's default parameter",
    "async function* g(a = (new Promise(Reflect.apply.bind(null, g, null, [])), new Promise(Reflect.apply.bind(null, g, null, [])))) {} g();",
  ],
  [
    "a setter's default parameter",
    "const o = { set x(v = (new Promise(Reflect.set.bind(null, o, 'x', undefined)), new Promise(Reflect.set.bind(null, o, 'x', undefined)))) {} }; o.x = undefined;",
  ],
  [
    "a getter called by a builtin",
    "const o = { get x() { try { Object.assign({}, o); } catch {} try { Object.assign({}, o); } catch {} return 1; } }; Object.assign({}, o);",
  ],
  [
    "a setter called by a builtin",
    "const o = { set x(v) { try { Object.assign(o, { x: 1 }); } catch {} try { Object.assign(o, { x: 1 }); } catch {} } }; Object.assign(o, { x: 1 });",
  ],
  [
    "a static class getter called by a builtin",
    "class C { static get x() { try { Reflect.get(C, 'x'); } catch {} try { Reflect.get(C, 'x'); } catch {} return 1; } } Reflect.get(C, 'x');",
  ],
  [
    // As above, the Promise constructor swallows the overflow; the generator's body never runs.
    "a generator's default parameter",
    "function* g(a = (new Promise(Reflect.apply.bind(null, g, null, [])), new Promise(Reflect.apply.bind(null, g, null, [])))) {} g();",
  ],
  ["an async rejection swallowed in a loop", "const spin = async () => { for (;;) {} }; for (;;) { await spin().catch(() => {}); }"],
  ["a Promise executor swallowing the timeout", "for (;;) { await new Promise(() => { for (;;) {} }).catch(() => {}); }"],
  ["finally continuing the loop", "for (;;) { try { for (;;) {} } catch {} finally { continue; } }"],
  ["recursion that catches everything", "function f() { try { f(); } catch {} try { f(); } catch {} } f();"],
  ["a catch that returns normally", "try { for (;;) {} } catch { return 'escaped'; }"],
  ["a microtask chain of user functions", "const f = () => Promise.resolve().then(f, f); f(); await new Promise(() => {});"],
  ["a thenable whose then resolves with itself", "const o = { then(resolve) { resolve(o); } }; await o;"],
  ["a thenable class whose then is a getter", "const o = { get then() { return (resolve) => resolve(o); } }; await o;"],
  // Clock reads adapt to the cost of the work between checks; a fixed read every 1 024 checks let these run
  // seconds past the timeout. Locally that still ends in a timeout with logs (parent and child share one thread,
  // so the parent's backstop cannot fire first), so the reaction itself is checked with a fake clock in
  // guard.test.ts and measured by scripts/guard-bench.mjs.
  ["a loop whose iterations each cost milliseconds", "const a = new Array(1e6); for (;;) a.join(',');"],
  [
    "expensive iterations after a million cheap ones",
    "const a = new Array(2e5); for (let i = 0; ; i++) { if (i > 1e6) a.join(','); }",
  ],
];

describe("the guard sees every place code runs", () => {
  it.each(attacks)("stops %s at the timeout, keeps its logs and serves the next request", async (_name, attack) => {
    const result = await execute({ code: `console.log("before"); ${attack}`, config: { timeout: TIMEOUT_MS } });
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
    expect(result.logs.map((entry) => entry.message)).toEqual(["before"]);
    const next = await execute({ code: "return 'still serving'" });
    expect(next.result).toBe("still serving");
  });
});

describe("guard insertions keep the program's meaning", () => {
  it("keeps Function.prototype.length and inferred names of defaults, fields and computed keys", async () => {
    const code = `
      function f(a, b = 1, { c } = {}, ...rest) {}
      const g = ({ x = 1 }, [y] = []) => y;
      const h = (a = function () {}, b = () => {}, c = class {}) => [a.name, b.name, c.name];
      class K {
        field = () => {};
        static named = function () {};
        static #hidden = 1;
        ["comp" + "uted"]() {}
        static { K.fromBlock = this === K; }
      }
      const k = new K();
      return [f.length, g.length, h(), k.field.name, K.named.name, typeof k.computed, K.fromBlock];
    `;
    const result = await execute({ code });
    expect(result.result).toEqual([1, 1, ["a", "b", "c"], "field", "named", "function", true]);
  });

  it("evaluates parameter defaults, keys and heritage once each, in order", async () => {
    const code = `
      const order = [];
      const log = (x) => (order.push(x), x);
      function f(a = log("a"), { [log("k")]: b = log("b") } = {}) {}
      f();
      class A extends (log("heritage"), Object) { [log("key")] = log("field"); static s = log("static"); }
      new A();
      return order;
    `;
    const result = await execute({ code });
    expect(result.result).toEqual(["a", "k", "b", "heritage", "key", "static", "field"]);
  });
});

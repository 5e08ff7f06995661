import { describe, expect, it } from "vitest";
import type { ValidateResponse } from "../../schemas/result";
import { execute, post } from "../helpers";

async function validate(code: string, language: "javascript" | "typescript" = "javascript"): Promise<ValidateResponse> {
  const response = await post("/validate", { code, language });
  expect(response.status).toBe(200);
  return response.json();
}

// The code is the body of an async function (README): whatever a function body allows must run, and mean what it
// means there. Each case was refused or failed before, and each is what test262 found.
describe("code runs with the meaning of an async function body", () => {
  it.each([
    ["a repeated function declaration (the last one wins)", "function f() { return 1 }\nfunction f() { return 2 }\nreturn f();", 2],
    ["new.target, undefined in the body and set in a constructor", "function F() { this.ok = new.target === F }\nreturn [new.target === undefined, new F().ok];", [true, true]],
    ["a top-level let named context, shadowing the input", "let context = 5;\nreturn context;", 5],
    ["a top-level const and function named context", "{ const context = 1; }\nfunction context() { return 3 }\nreturn context();", 3],
    ["instanceof Function", "return [(() => 1) instanceof Function, {} instanceof Function];", [true, false]],
    ["Function.prototype.call.bind", "const slice = Function.prototype.call.bind(Array.prototype.slice);\nreturn slice([1, 2, 3], 1);", [2, 3]],
    ["the name eval as a property and in typeof", "const o = { eval: 1 };\nreturn [o.eval, typeof eval];", [1, "function"]],
  ])("%s", async (_name, code, expected) => {
    expect(await validate(code)).toEqual({ valid: true, errors: [] });
    const result = await execute({ code, context: { input: true } });
    expect(result).toMatchObject({ success: true, result: expected });
  });

  it("shows the harness's own names as written: the child gets it minified, the user sees no difference", async () => {
    const probe = await execute({
      code: `let denied;
try { await ai("not-a-model", {}); } catch (e) { denied = [e.name, e.constructor.name, e instanceof CapabilityError]; }
return { denied, capabilityError: CapabilityError.name, toString: Function.prototype.toString.name };`,
    });
    expect(probe).toMatchObject({
      success: true,
      result: { denied: ["CapabilityError", "CapabilityError", true], capabilityError: "CapabilityError", toString: "toString" },
    });
    const caught = await execute({
      code: "let name; try { while (true) {} } catch (e) { name = [e.name, e.constructor.name]; } console.log(JSON.stringify(name));",
      config: { timeout: 200 },
    });
    expect(caught.status).toBe("timeout");
    expect(caught.logs.map((entry) => entry.message)).toEqual(['["TimeoutError","ExecutionTimeout"]']);
  });

  it("still gives the caller's context when the code does not shadow it", async () => {
    expect(await execute({ code: "return context.name", context: { name: "x" } })).toMatchObject({ result: "x" });
  });

  it("reports a syntax error at the caller's line and column, past the wrapper", async () => {
    expect(await validate("let a = 1;\nlet a = 2;")).toMatchObject({ errors: [{ code: "SYNTAX_ERROR", line: 2, column: 5 }] });
    const unclosed = await validate("if (x) {\n  return 1;");
    expect(unclosed.errors[0]).toMatchObject({ code: "SYNTAX_ERROR", line: 2 });
  });
});

describe("code generation is refused as an act, statically and at run time, with one error code", () => {
  it.each([
    ["eval", "return eval('1');", 1, 8],
    ["a parenthesised eval", "return (0, eval)('1');", 1, 12],
    ["calling Function", "return Function('return 1')();", 1, 8],
    ["constructing Function", "return new Function('return 1')();", 1, 12],
  ])("refuses %s before it runs", async (_name, code, line, column) => {
    const result = await validate(code);
    expect(result.errors).toEqual([expect.objectContaining({ code: "POLICY_VIOLATION", line, column })]);
    expect(result.errors[0]!.message).toMatch(/code generation from strings is not allowed/);
    const executed = await execute({ code: `console.log("ran"); ${code}` });
    expect(executed).toMatchObject({ success: false, status: "rejected", logs: [], error: { code: "POLICY_VIOLATION" } });
  });

  it.each([
    ["the async function constructor", "return (async function () {}).constructor('return 1');"],
    ["the generator function constructor", "return (function* () {}).constructor('yield 1');"],
    ["the async generator function constructor", "return (async function* () {}).constructor('yield 1');"],
    ["Function reached through a function's constructor", "return (() => 1).constructor('return 1')();"],
    ["an aliased eval", "const e = eval;\nreturn e('1');"],
    ["Reflect.construct(Function, …)", "return Reflect.construct(Function, ['return 1'])();"],
    ["Function.call", "return Function.call(null, 'return 1')();"],
  ])("refuses %s when it runs, with the static refusal's code and the logs kept", async (_name, code) => {
    expect(await validate(code)).toEqual({ valid: true, errors: [] });
    const executed = await execute({ code: `console.log("before"); ${code}` });
    expect(executed).toMatchObject({
      success: false,
      status: "error",
      error: { code: "POLICY_VIOLATION", name: "EvalError" },
      logs: [expect.objectContaining({ message: "before" })],
    });
  });

  it("lets code catch the refusal and go on", async () => {
    const code = "try { (async function () {}).constructor('1') } catch (e) { return e instanceof EvalError }";
    expect(await execute({ code })).toMatchObject({ success: true, result: true });
  });

  it("keeps every other ban: require, process, import", async () => {
    for (const code of ["require('fs')", "return process.env", "import fs from 'fs'", "return import('x')"]) {
      const result = await validate(code);
      expect(result.errors[0]).toMatchObject({ code: "POLICY_VIOLATION" });
    }
  });
});

describe("Function.prototype.toString shows the caller's source, not the instrumented one", () => {
  const declarations = [
    "function f(a, b = 1) { for (let i = 0; i < 2; i++) a++; while (b) b--; return a + b }",
    "const arrow = (x) => x * 2",
    "const block = (x) => { do x--; while (x > 0); return x }",
    "const o = { m() { return 1 }, get p() { return 2 }, set p(v) {}, *g() { yield 1 }, async a() { await 1 } }",
    "class C extends Object { static s = 1; x = (() => 3)(); static { this.t = (() => 4)() } constructor() { super() } get q() { return 4 } m(y = (() => 1)()) { return y } }",
    "const anonymous = function () { for (const k in {}) {} }",
  ];
  const code = `${declarations.join("\n")}
const d = Object.getOwnPropertyDescriptor(o, "p");
return [f, arrow, block, o.m, d.get, d.set, o.g, o.a, C, C.prototype.m, Object.getOwnPropertyDescriptor(C.prototype, "q").get, anonymous]
  .map((fn) => Function.prototype.toString.call(fn));`;

  it("for declarations, arrows, methods, getters, setters, generators, async methods and classes", async () => {
    const result = await execute({ code });
    expect(result.success).toBe(true);
    expect(result.result).toEqual([
      declarations[0],
      "(x) => x * 2",
      "(x) => { do x--; while (x > 0); return x }",
      "m() { return 1 }",
      "get p() { return 2 }",
      "set p(v) {}",
      "*g() { yield 1 }",
      "async a() { await 1 }",
      declarations[4],
      "m(y = (() => 1)()) { return y }",
      "get q() { return 4 }",
      "function () { for (const k in {}) {} }",
    ]);
  });

  it("looks native itself, and leaves builtins native", async () => {
    const result = await execute({
      code: `const ts = Function.prototype.toString;
let threw = false;
try { ts.call({}) } catch (e) { threw = e instanceof TypeError }
return [ts.call(ts), ts.toString(), String(ts), ts.name, ts.length, "prototype" in ts, Object.getOwnPropertyNames(ts).sort(),
  Object.getOwnPropertyDescriptor(Function.prototype, "toString").enumerable, Math.max.toString(), threw, ts.call(ts.bind(null))];`,
    });
    const native = "function toString() { [native code] }";
    expect(result.result).toEqual([native, native, native, "toString", 0, false, ["length", "name"], false, "function max() { [native code] }", true, "function () { [native code] }"]);
    let constructed = await execute({ code: "try { new Function.prototype.toString() } catch (e) { return e instanceof TypeError }" });
    expect(constructed.result).toBe(true);
    constructed = await execute({ code: "return String(class { static m() {} }.m).includes('__ce_')" });
    expect(constructed.result).toBe(false);
  });
});

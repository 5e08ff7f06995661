import { describe, expect, it } from "vitest";
import { execute, post } from "../helpers";

// Multi-file programs and packages through the real pipeline and the real LOADER.

describe("relative imports between files", () => {
  it("runs three files: JavaScript importing TypeScript importing JSON", async () => {
    const result = await execute({
      files: {
        "main.js": 'import { describe } from "./lib/describe.ts";\nimport config from "./config.json";\nreturn describe(config.name)',
        "lib/describe.ts": 'import { prefix } from "./prefix";\nexport function describe(name: string): string { return `${prefix}${name}`; }',
        "lib/prefix.ts": 'export const prefix: string = "hello, ";',
        "config.json": '{ "name": "modules" }',
      },
    });
    expect(result).toMatchObject({ success: true, result: "hello, modules" });
  });

  it("resolves ./x, ./x.js for x.ts, ../x and dir/index.ts", async () => {
    const result = await execute({
      files: {
        "main.ts": 'import { a } from "./a";\nimport { b } from "./b.js";\nimport { c } from "./sub";\nreturn a + b + c',
        "a.ts": "export const a = 1;",
        "b.ts": "export const b = 2;",
        "sub/index.ts": 'export { c } from "../shared/c.ts";',
        "shared/c.ts": "export const c = 4;",
      },
    });
    expect(result).toMatchObject({ success: true, result: 7 });
  });

  it("drops imports used only as types in a TypeScript entry", async () => {
    const result = await execute({
      files: {
        "main.ts": 'import type { A } from "./types";\nimport { B, make } from "./types";\nconst x: A & B = make();\nreturn x.n',
        "types.ts": "export interface A { n: number }\nexport interface B { m?: string }\nexport function make() { return { n: 3 }; }",
      },
    });
    expect(result).toMatchObject({ success: true, result: 3 });
  });

  it("gives modules their own scope and evaluates each once", async () => {
    const result = await execute({
      files: {
        "main.js": 'import { count } from "./counter.js";\nimport { again } from "./again.js";\nreturn [count(), again(), typeof secret]',
        "counter.js": "let n = 0; const secret = 1; export function count() { return ++n; }",
        "again.js": 'import { count } from "./counter.js"; export function again() { return count(); }',
      },
    });
    expect(result).toMatchObject({ success: true, result: [1, 2, "undefined"] });
  });

  it.each([
    [{ "main.js": 'import { x } from "./missing.js"; return x' }, "no such file", "main.js"],
    [{ "main.js": 'import { x } from "../outside.js"; return x' }, "leads outside", "main.js"],
    [{ "main.js": 'import { x } from "/abs.js"; return x' }, "only relative imports", "main.js"],
    [{ "main.js": 'import { x } from "https://esm.sh/zod"; return x' }, "only relative imports", "main.js"],
    [{ "main.js": 'import "./lib.js"; return 1', "lib.js": 'import "./main.js";' }, "cannot be imported", "lib.js"],
    [{ "main.js": "return await import('./lib.js')", "lib.js": "" }, "dynamic import()", "main.js"],
    [{ "main.js": 'import "./lib.js"; return 1', "lib.js": "export default import('./x.js')" }, "dynamic import()", "lib.js"],
    [{ "main.js": 'import "./lib.js"; return 1', "lib.js": "export const e = eval('1')" }, "eval", "lib.js"],
    [{ "main.js": "export const a = 1; return a" }, "export", "main.js"],
    [{ "main.js": 'import "./lib.js"; return 1', "lib.js": "return 1" }, "return", "lib.js"],
  ])("rejects %j naming the file", async (files, message, file) => {
    const result = await execute({ files });
    expect(result.status).toBe("rejected");
    expect(result.error?.message).toContain(message);
    expect(result.error?.file).toBe(file);
  });

  it("names file, line and column of a syntax error in a TypeScript module", async () => {
    const result = await execute({
      files: { "main.ts": 'import { f } from "./lib/f";\nreturn f()', "lib/f.ts": "export function f(): number {\n  return 1 +;\n}" },
    });
    expect(result.error).toMatchObject({ code: "SYNTAX_ERROR", file: "lib/f.ts", line: 2 });
  });

  it("names the file of invalid JSON", async () => {
    const result = await execute({ files: { "main.js": 'import d from "./d.json"; return d', "d.json": "{ nope" } });
    expect(result.error).toMatchObject({ code: "SYNTAX_ERROR", file: "d.json" });
  });

  it("checks a file only if the entry reaches it", async () => {
    const result = await execute({ files: { "main.js": "return 1", "unused.js": "this is not javascript" } });
    expect(result).toMatchObject({ success: true, result: 1 });
  });
});

describe("packages of the set", () => {
  it("imports two packages beside a relative file", async () => {
    const result = await execute({
      files: {
        "main.ts": 'import { z } from "zod";\nimport { sortBy } from "lodash-es";\nimport { people } from "./people";\nconst P = z.array(z.object({ name: z.string(), age: z.number() }));\nreturn sortBy(P.parse(people), "age").map((p) => p.name)',
        "people.ts": 'export const people = [{ name: "b", age: 40 }, { name: "a", age: 30 }];',
      },
    });
    expect(result).toMatchObject({ success: true, result: ["a", "b"] });
  });

  it("imports a package from a plain code request", async () => {
    const result = await execute({ code: 'import { nanoid } from "nanoid";\nreturn nanoid(8).length' });
    expect(result).toMatchObject({ success: true, result: 8 });
  });

  it("gives default imports of CommonJS packages (papaparse)", async () => {
    const result = await execute({ code: 'import Papa from "papaparse";\nreturn Papa.parse("a,b\\n1,2").data' });
    expect(result).toMatchObject({ success: true, result: [["a", "b"], ["1", "2"]] });
  });

  it("refuses a package outside the set with POLICY_VIOLATION naming it and packages.json", async () => {
    const result = await execute({ code: 'import leftPad from "left-pad";\nreturn leftPad("x", 3)' });
    expect(result.status).toBe("rejected");
    expect(result.error?.code).toBe("POLICY_VIOLATION");
    expect(result.error?.message).toContain('"left-pad"');
    expect(result.error?.message).toContain("packages.json");
    expect(result.error?.line).toBe(1);
  });

  it("refuses Node built-ins and subpaths", async () => {
    const builtin = await execute({ code: 'import fs from "node:fs"; return 1' });
    expect(builtin.error?.code).toBe("POLICY_VIOLATION");
    const subpath = await execute({ code: 'import chunk from "lodash-es/chunk.js"; return 1' });
    expect(subpath.error?.message).toContain("subpath");
  });

  it("/validate reports the same refusal without running", async () => {
    const response = await post("/validate", { files: { "main.js": 'import x from "left-pad"; return x' } });
    const body = (await response.json()) as { valid: boolean; errors: { code: string; file?: string; message: string }[] };
    expect(body.valid).toBe(false);
    expect(body.errors[0]).toMatchObject({ code: "POLICY_VIOLATION", file: "main.js" });
  });
});

describe("the guard in modules and packages", () => {
  it("stops an endless loop in an imported module at the timeout", async () => {
    const result = await execute({
      files: { "main.js": 'import { spin } from "./spin.js";\nconsole.log("before"); spin(); return 1', "spin.js": "export function spin() { for (;;) {} }" },
      config: { timeout: 300 },
    });
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
    expect(result.error?.message).not.toContain("did not answer");
    expect(result.logs.map((l) => l.message)).toEqual(["before"]);
  });

  it("stops an endless loop at a module's top level while the isolate loads", async () => {
    const result = await execute({
      files: { "main.js": 'import "./spin.js";\nreturn 1', "spin.js": "while (true) {}" },
      config: { timeout: 300 },
    });
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
  });

  it("stops a package function user code calls in an endless loop, by the guard, keeping the logs", async () => {
    // some() over a 2^53-long array-like with lodash's own stubFalse: the loop and the callback are package code
    // only, so only guards placed in the bundle at build time can stop it. Without them the isolate would spin
    // past the timeout and the parent's backstop would answer, losing the logs ("did not answer").
    const result = await execute({
      code: 'import { some, stubFalse } from "lodash-es";\nconsole.log("before");\nsome({ length: 2 ** 53 - 2 }, stubFalse);\nreturn 1',
      config: { timeout: 300 },
    });
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT", name: "TimeoutError" } });
    expect(result.error?.message).not.toContain("did not answer");
    expect(result.logs.map((l) => l.message)).toEqual(["before"]);
  });

  it("reports a module throwing at its top level as a runtime error in that file", async () => {
    const result = await execute({ files: { "main.js": 'import "./lib/bad.js";\nreturn 1', "lib/bad.js": "const x = 1;\nthrow new Error('bad at load');" } });
    expect(result).toMatchObject({ success: false, status: "error", error: { code: "RUNTIME_ERROR", file: "lib/bad.js", line: 2 } });
    expect(result.error?.message).toContain("bad at load");
  });

  it("names the module file and line of an error thrown at run time", async () => {
    const result = await execute({
      files: { "main.ts": 'import { boom } from "./lib/boom";\nreturn boom()', "lib/boom.ts": "const n: number = 1;\nexport function boom(): never {\n  throw new Error('boom ' + n);\n}" },
    });
    expect(result.error).toMatchObject({ code: "RUNTIME_ERROR", message: "boom 1", file: "lib/boom.ts", line: 3 });
  });

  it("keeps module top-level console output out of the logs and the host", async () => {
    const result = await execute({
      files: { "main.js": 'import "./noisy.js";\nconsole.log("from main"); return 1', "noisy.js": 'console.log("at load");' },
    });
    expect(result.logs.map((l) => l.message)).toEqual(["from main"]);
  });
});

describe("attacks through modules", () => {
  it("keeps the harness working when a module poisons the realm while it loads", async () => {
    const result = await execute({
      files: {
        "main.js": 'import "./poison.js";\nconsole.log("still logging", [1, 2]);\nreturn [1, 2, 3].length',
        "poison.js": [
          "Array.prototype.push = function () { throw new Error('push'); };",
          "JSON.stringify = () => '\"forged\"';",
          "Promise.prototype.then = function () { return this; };",
          "export {};",
        ].join("\n"),
      },
    });
    expect(result).toMatchObject({ success: true, result: 3 });
    expect(result.logs.map((l) => l.message)).toEqual(["still logging [1,2]"]);
  });

  it("cannot reach the harness's modules or the guard module by any specifier", async () => {
    for (const specifier of ["./harness.js", "./module-guard.js", "../module-guard.js", "./run-limits.json", "./user.js", "./packages/zod.js", "module-guard.js", "packages/zod.js"]) {
      const result = await execute({ files: { "main.js": `import * as m from ${JSON.stringify(specifier)};\nreturn Object.keys(m)`, "lib.js": "" } });
      expect(result.status, specifier).toBe("rejected");
      expect(result.error?.code, specifier).toBe("POLICY_VIOLATION");
    }
  });

  it("gives a user file named like a harness module its own module, not the harness's", async () => {
    const result = await execute({
      files: { "main.js": 'import { who } from "./harness.js";\nimport { g } from "./module-guard.js";\nreturn [who, g]', "harness.js": 'export const who = "mine";', "module-guard.js": "export const g = 2;" },
    });
    expect(result).toMatchObject({ success: true, result: ["mine", 2] });
  });

  it("refuses an import reaching the guard module from a nested file", async () => {
    const result = await execute({ files: { "main.js": 'import "./a/b.js";\nreturn 1', "a/b.js": 'import { guard } from "../../module-guard.js";\nguard = null;' } });
    expect(result.error).toMatchObject({ code: "POLICY_VIOLATION", file: "a/b.js" });
    expect(result.error?.message).toContain("outside");
  });

  it("handles import cycles between modules", async () => {
    const result = await execute({
      files: { "main.js": 'import { a } from "./a.js";\nreturn a()', "a.js": 'import { b } from "./b.js";\nexport const a = () => b() + 1;', "b.js": 'import { a } from "./a.js";\nexport const b = () => typeof a === "function" ? 1 : 0;' },
    });
    expect(result).toMatchObject({ success: true, result: 2 });
  });

  it("ends a module whose top-level await never settles and serves the next run", async () => {
    const result = await execute({ files: { "main.js": 'import "./wait.js";\nreturn 1', "wait.js": "await new Promise(() => {});" }, config: { timeout: 300 } });
    expect(result.success).toBe(false);
    expect(await execute({ code: "return 2" })).toMatchObject({ success: true, result: 2 });
  });
});

describe("the README's example", () => {
  it("runs three files with two packages and reports the entry's language", async () => {
    const result = await execute({
      files: {
        "main.ts": 'import { z } from "zod";\nimport { groupBy } from "lodash-es";\nimport { Order, total } from "./lib/orders";\nimport orders from "./data/orders.json";\nconst byCustomer = groupBy(z.array(Order).parse(orders), (o) => o.customer);\nreturn Object.fromEntries(Object.entries(byCustomer).map(([name, list]) => [name, total(list)]));',
        "lib/orders.ts": 'import { z } from "zod";\nexport const Order = z.object({ customer: z.string(), amount: z.number().positive() });\nexport type Order = z.infer<typeof Order>;\nexport function total(orders: Order[]): number { return orders.reduce((sum, o) => sum + o.amount, 0); }',
        "data/orders.json": '[{ "customer": "ada", "amount": 12 }, { "customer": "bob", "amount": 5 }, { "customer": "ada", "amount": 30 }]',
      },
    });
    expect(result).toMatchObject({ success: true, result: { ada: 42, bob: 5 }, language: "typescript" });
  });
});

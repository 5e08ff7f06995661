import * as acorn from "acorn";
import { describe, expect, it } from "vitest";
import { stripTypes } from "../../worker/execution/strip-types";
import { MAX_TYPESCRIPT_NESTING, maxNestingDepth, transformWithEsbuild, transpileTypeScript } from "../../worker/execution/transpile";
import { execute } from "../helpers";

/** The program's meaning without its formatting: positions, literal spelling and empty statements dropped. */
function shape(code: string): unknown {
  const ast = acorn.parse(code, { ecmaVersion: "latest", sourceType: "module", allowReturnOutsideFunction: true });
  return JSON.parse(
    JSON.stringify(ast, (key, value: unknown) => {
      if (key === "start" || key === "end" || key === "raw") return undefined;
      if (typeof value === "bigint") return `${value}n`;
      if (Array.isArray(value)) return value.filter((item) => (item as { type?: string } | null)?.type !== "EmptyStatement");
      return value;
    }),
  );
}

// Each uses only erasable syntax: the fast path must take it.
const ERASABLE: [string, string][] = [
  ["annotations, optional and rest parameters", "let n: number = 1;\nfunction f(a: string, b?: number, ...rest: boolean[]): string { return a + b + rest.length; }\nreturn f('x', n);"],
  ["interfaces, type aliases, declare and overloads", "interface A { x: number }\ntype B = A | null;\ndeclare const host: unknown;\nfunction o(a: string): string;\nfunction o(a: number): number;\nfunction o(a: any) { return a; }\nconst b: B = { x: 1 };\nreturn o(b!.x);"],
  ["generics on functions, arrows, classes, calls and new", "function id<T>(x: T): T { return x; }\nconst pair = <A, B>(a: A, b: B): [A, B] => [a, b];\nclass Box<T> { constructor(readonly_: T) {} }\nconst m = new Map<string, number>();\nreturn [id<number>(1), pair<string, number>('a', 2), new Box<string>('s'), m.size];"],
  ["as, satisfies, non-null, angle assertions and as const", "const a = { k: 1 } as const;\nconst b = (a as any).k satisfies number;\nconst c = <number>b;\nconst d = [1, 2].find((x) => x > 1)!;\nreturn a.k + b + c + d;"],
  ["class modifiers, fields and members", "abstract class Base { abstract area(): number; abstract readonly sides: number; describe(): string { return `${this.area()}`; } }\ninterface Named { name: string }\nclass Sq extends Base implements Named {\n  private readonly size: number = 2;\n  public name: string = 'sq';\n  protected static count?: number;\n  declare tag: string;\n  sides!: number;\n  [key: string]: unknown;\n  override area(): number { return this.size ** 2; }\n  optional?(): void;\n  get label(): string { return this.name; }\n}\nreturn new Sq().describe();"],
  ["type-only statements inside blocks and functions", "function f(): number {\n  type Local = { v: number };\n  interface Also { w: string }\n  const l: Local = { v: 3 };\n  return l.v;\n}\nif (f() > 1) { type Never = never; }\nreturn f();"],
  ["comments and strings that look like types", "const s: string = 'x: number'; // y: string\n/* as any */ const t = `a as ${s}` as string;\nreturn s + t;"],
];

// Each needs more than erasure (or is not valid TypeScript): the fast path must leave it to esbuild.
const NOT_ERASABLE: [string, string][] = [
  ["an enum", "enum Color { Red, Green }\nreturn Color.Green;"],
  ["a value namespace", "namespace N { export const x = 1; }\nreturn N.x;"],
  ["a parameter property", "class P { constructor(public q: number) {} }\nreturn new P(1).q;"],
  ["a decorator", "function d(v: unknown, c: unknown) {}\n@d class Q {}\nreturn 1;"],
  ["a this parameter", "function t(this: { v: number }) { return this.v; }\nreturn t.call({ v: 1 });"],
  ["an import", "import { X } from 'y';\nreturn 1;"],
  ["a blanked statement that would join two lines", "let x = 1\ninterface Foo {}\n(() => { x = 2 })()\nreturn x"],
  ["an assertion that would join two lines", "let y = 1 as number\n(() => {})()\nreturn y"],
  ["an arrow return type split over lines", "const h = (a: number):\n  string => 'a' + a;\nreturn h(1);"],
  ["a syntax error", "let x: number = ;"],
];

describe("the TypeScript fast path (stripTypes)", () => {
  it.each(ERASABLE)("produces the same program as esbuild for %s", async (_name, source) => {
    const stripped = stripTypes(source);
    expect(stripped).toBeDefined();
    const reference = await transformWithEsbuild(source);
    if (!reference.ok) throw new Error(`esbuild rejected the case: ${JSON.stringify(reference.issues)}`);
    expect(shape(stripped!.code)).toEqual(shape(reference.code));
  });

  it.each(ERASABLE)("keeps every line and column of %s where the caller wrote it", (_name, source) => {
    const stripped = stripTypes(source)!;
    expect(stripped.code.split("\n").map((line) => line.length)).toEqual(source.split("\n").map((line) => line.length));
  });

  // Where a TypeScript parser has to choose (arrow or conditional, generic call or comparison, ASI after `!`),
  // the fast path must choose as esbuild does, or leave the source to esbuild.
  it.each([
    "const r = a ? (b): c => d : e;",
    "const r = a ? (b) : (c): d => e;",
    "const r = a ? (b) : c => d;",
    "const r = a < b > (c);",
    "const r = f<T>(x) < y;",
    "const r = a < (b > c);",
    "const w = a!\n++b",
    "const y = (a as b)\n(c)",
    "let z = a as T\n[1].forEach(f)",
    "let u = async <T>(x: T): Promise<T> => x;",
    "class K { 'quoted'?: number; 123!: string; [Symbol.iterator]?(): void {} }",
  ])("agrees with esbuild on %j", async (source) => {
    const reference = await transformWithEsbuild(source);
    if (!reference.ok) throw new Error(`esbuild rejected the case: ${JSON.stringify(reference.issues)}`);
    const stripped = stripTypes(source);
    if (stripped) expect(shape(stripped.code)).toEqual(shape(reference.code));
  });

  it.each(NOT_ERASABLE)("leaves %s to esbuild", (_name, source) => {
    expect(stripTypes(source)).toBeUndefined();
  });
});

describe("transpileTypeScript", () => {
  it("runs what only esbuild can transpile, with TypeScript's meaning", async () => {
    const cases: [string, unknown][] = [
      ["enum Color { Red, Green }\nreturn Color.Green;", 1],
      ["namespace N { export const x = 41; }\nreturn N.x + 1;", 42],
      ["class P { constructor(public q: number) {} }\nreturn new P(7).q;", 7],
      // Blanking would have made these `1(() => ...)()`: a TypeError instead of two statements.
      ["let x = 1\ninterface Foo {}\n(() => { x = 2 })()\nreturn x", 2],
      ["let y = 1 as number\n(() => {})()\nreturn y", 1],
    ];
    for (const [code, expected] of cases) {
      const result = await execute({ code, language: "typescript" });
      expect(result, code).toMatchObject({ success: true, result: expected });
    }
  });

  it("rejects decorators at their TypeScript position: esbuild passes them through and V8 cannot run them", async () => {
    const result = await execute({ code: "function d(v: unknown, c: unknown) {}\n\n@d class Q {}\nreturn 1;", language: "typescript" });
    expect(result).toMatchObject({ success: false, status: "rejected" });
    expect(result.error).toMatchObject({ code: "SYNTAX_ERROR", line: 3, column: 1 });
  });

  it("answers a repeated esbuild-tier program from its cache", async () => {
    const source = "enum Size { S = 1, M = 2 }\nreturn Size.M;";
    const first = await transpileTypeScript(source);
    expect(first.ok).toBe(true);
    expect(await transpileTypeScript(source)).toBe(first);
  });

  it("maps a runtime error on the fast path to the TypeScript position", async () => {
    const code = "interface T { a: number }\nconst t: T = { a: 1 };\nfunction f(x: T): never {\n  throw new RangeError('bad ' + x.a);\n}\nf(t);";
    expect(stripTypes(code)).toBeDefined();
    const result = await execute({ code, language: "typescript" });
    expect(result.error).toMatchObject({ code: "RUNTIME_ERROR", name: "RangeError", message: "bad 1", line: 4, column: 9 });
  });

  it("points a banned construct found after the fast path at the TypeScript source", async () => {
    const code = "type A = string;\nconst a: A = 'x';\nconst p: any = process;";
    expect(stripTypes(code)).toBeDefined();
    const result = await execute({ code, language: "typescript" });
    expect(result.error).toMatchObject({ code: "POLICY_VIOLATION", line: 3, column: 16 });
  });
});

describe("TypeScript that would hurt esbuild, and type-only module syntax", () => {
  it("refuses nesting too deep for esbuild before esbuild sees it, and serves the next enum program", async () => {
    const deep = `enum E { A }\nreturn ${"(".repeat(30_000)}E.A${")".repeat(30_000)};`;
    const refused = await execute({ code: deep, language: "typescript" });
    expect(refused).toMatchObject({ success: false, status: "rejected", error: { code: "SYNTAX_ERROR" } });
    expect(refused.error?.message).toMatch(/nested too deeply/);
    const next = await execute({ code: "enum E { A, B }\nreturn E.B;", language: "typescript" });
    expect(next).toMatchObject({ success: true, result: 1 });
  });

  it("refuses nesting of any form the TypeScript parser cannot hold (an arrow chain), and serves the next program", async () => {
    const refused = await execute({ code: `enum E { A }\nreturn ${"() => ".repeat(16_000)}1;`, language: "typescript" });
    expect(refused).toMatchObject({ success: false, status: "rejected", error: { code: "SYNTAX_ERROR" } });
    expect(refused.error?.message).toMatch(/nested too deeply/);
    const next = await execute({ code: "enum E { A, B }\nreturn E.B;", language: "typescript" });
    expect(next).toMatchObject({ success: true, result: 1 });
  });

  it("transpiles an enum program nested 300 deep (the TypeScript parser holds about 500 parentheses in Node 22)", async () => {
    const depth = 300;
    const deep = await execute({ code: `enum E { A = 3 }\nreturn ${"(".repeat(depth)}E.A${")".repeat(depth)};`, language: "typescript" });
    expect(deep).toMatchObject({ success: true, result: 3 });
  });

  it("refuses brackets nested past MAX_TYPESCRIPT_NESTING even when a syntax error stops the parser first", async () => {
    const depth = MAX_TYPESCRIPT_NESTING + 1;
    const result = await execute({ code: `let = ;\nenum E { A }\nreturn ${"(".repeat(depth)}E.A${")".repeat(depth)};`, language: "typescript" });
    expect(result).toMatchObject({ success: false, status: "rejected", error: { code: "SYNTAX_ERROR" } });
    expect(result.error?.message).toMatch(/nested too deeply/);
  });

  it("counts brackets in code only, not in strings, comments or template text", () => {
    expect(maxNestingDepth(`const s = "${"(".repeat(5000)}"; // ${"[".repeat(5000)}\n/* ${"{".repeat(5000)} */ const t = \`${"(".repeat(5000)}\${(1)}\`;`)).toBe(2);
    expect(maxNestingDepth("f([{ a: `${g(`${h()}`)}` }])")).toBe(7);
    expect(maxNestingDepth(`type T = ${"Array<".repeat(3000)}number${">".repeat(3000)};`)).toBe(3000);
    expect(maxNestingDepth("for (let i = 0; i < n; i++) {}\n".repeat(5000))).toBe(2);
  });

  it("restarts esbuild when a transform kills it, and the next transform works", async () => {
    // Past the depth check, straight into esbuild: its WebAssembly overflows its stack and stops the service.
    const killer = `enum E { A }\nreturn ${"(".repeat(30_000)}E.A${")".repeat(30_000)};`;
    const killed = await transformWithEsbuild(killer);
    expect(killed.ok).toBe(false);
    const after = await transformWithEsbuild("enum E { A, B }\nreturn E.B;");
    expect(after.ok).toBe(true);
  });

  it.each([
    ["on the fast path", "import type { X } from './x';\nexport type Y = X;\nexport interface I { a: number }\nexport type { X as Z } from './x';\nconst a: number = 1;\nreturn a;", 1],
    ["on the esbuild path", "import type { X } from './x';\nenum E { A = 7 }\nexport type { X };\nreturn E.A;", 7],
  ])("erases import type and export type %s", async (_name, code, expected) => {
    expect(await execute({ code, language: "typescript" })).toMatchObject({ success: true, result: expected });
  });

  it("still refuses an import that loads a value", async () => {
    const result = await execute({ code: "import { x } from './x';\nreturn x;", language: "typescript" });
    expect(result).toMatchObject({ success: false, status: "rejected" });
  });
});

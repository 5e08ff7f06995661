import { describe, expect, it } from "vitest";
import type { ValidateResponse } from "../../schemas/result";
import { execute, post } from "../helpers";

async function validate(code: string, language: "javascript" | "typescript" = "javascript"): Promise<ValidateResponse> {
  const response = await post("/validate", { code, language });
  expect(response.status).toBe(200);
  return response.json();
}

describe("banned constructs are rejected with their position, never run", () => {
  const banned: [string, string, number, number][] = [
    ["require", "const fs = require('fs');", 1, 12],
    ["static import", "import fs from 'fs';", 1, 1],
    ["dynamic import", "const m = await import('x');", 1, 17],
    ["import.meta", "return import.meta.url;", 1, 8],
    ["eval", "return eval('1');", 1, 8],
    ["the Function constructor", "return new Function('return 1')();", 1, 12],
    ["process", "return process.env;", 1, 8],
    ["__dirname", "return __dirname;", 1, 8],
    ["__filename", "return __filename;", 1, 8],
    ["an escaped eval", "return \\u0065val('1');", 1, 8],
    ["export", "export default 1;", 1, 1],
    ["a reserved guard name", "__ce_guard();", 1, 1],
  ];

  it.each(banned)("%s", async (_name, code, line, column) => {
    const result = await validate(code);
    expect(result.valid).toBe(false);
    expect(result.errors[0]).toMatchObject({ code: "POLICY_VIOLATION", line, column });

    const executed = await execute({ code: `console.log("ran"); ${code}` });
    expect(executed).toMatchObject({ success: false, status: "rejected", logs: [] });
  });

  it("finds banned constructs in transpiled TypeScript and points at the TypeScript", async () => {
    const result = await validate("type A = string;\nconst a: A = 'x';\nconst p: any = process;", "typescript");
    expect(result.errors).toEqual([expect.objectContaining({ code: "POLICY_VIOLATION", line: 3, column: 16 })]);
  });

  it("allows the words in strings, comments and property names", async () => {
    const code = `// require eval process import
      const s = "require('fs') eval process __dirname import.meta";
      const o = { eval: 1, process: 2, require: 3 };
      return [s.length > 0, o.eval + o.process + o.require, context.process ?? null]`;
    expect(await validate(code)).toEqual({ valid: true, errors: [] });
    const result = await execute({ code, context: {} });
    expect(result.result).toEqual([true, 6, null]);
  });
});

describe("code cannot break out of the function it runs in", () => {
  it.each([
    ["closing braces and an export", "return 1; }}; export default { fetch() { return new Response('pwned') } }; {{"],
    ["closing the wrapper early", "}); globalThis.owned = true; ((function(){"],
    ["an HTML comment hiding a brace", "return 1 <!-- }\n"],
    ["a line comment eating the footer", "return 1 //"],
  ])("%s", async (_name, code) => {
    const executed = await execute({ code });
    if (executed.success) {
      // Only a harmless reading is acceptable: the comment case parses as plain code and returns 1.
      expect(executed.result).toBe(1);
    } else {
      expect(executed.status).toBe("rejected");
    }
  });
});

describe("POST /validate", () => {
  it("says valid for good code and runs nothing", async () => {
    expect(await validate("while (true) {}")).toEqual({ valid: true, errors: [] });
  });

  it("reports syntax errors with line and column", async () => {
    expect(await validate("let x = 1;\nlet = ;")).toMatchObject({ valid: false, errors: [{ code: "SYNTAX_ERROR", line: 2 }] });
  });

  it("lists every violation, not only the first", async () => {
    const result = await validate("eval('1');\nprocess.exit();\nrequire('x');");
    expect(result.errors.map((e) => e.line)).toEqual([1, 2, 3]);
  });

  it("shares the request errors of /execute", async () => {
    const response = await post("/validate", { language: "javascript" });
    expect(response.status).toBe(400);
  });
});

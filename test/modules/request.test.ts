import { describe, expect, it } from "vitest";
import { MAX_CODE_BYTES, MAX_FILES } from "../../schemas/limits";
import type { ExecutionRecord } from "../../schemas/history";
import { BASE, execute, post, rpc } from "../helpers";
import { exports } from "cloudflare:workers";

async function rejected(body: unknown, path = "/execute") {
  const response = await post(path, body);
  return { status: response.status, body: (await response.json()) as { error: { code: string; message: string } } };
}

describe("files + entry instead of code", () => {
  it("runs the default entry main.js of a JavaScript files request", async () => {
    const result = await execute({ files: { "main.js": "return 6 * 7" } });
    expect(result).toMatchObject({ success: true, result: 42 });
  });

  it("runs main.ts as TypeScript when it is the only main file, without language", async () => {
    const result = await execute({ files: { "main.ts": "const n: number = 2; return n + 1" } });
    expect(result).toMatchObject({ success: true, result: 3 });
  });

  it("runs the named entry", async () => {
    const result = await execute({ files: { "main.js": "return 1", "tools/run.js": "return 2" }, entry: "tools/run.js" });
    expect(result).toMatchObject({ success: true, result: 2 });
  });

  it.each([
    [{ code: "return 1", files: { "main.js": "return 1" } }, "give either code or files, not both"],
    [{}, "code (or files) is required"],
    [{ code: "return 1", entry: "main.js" }, "entry goes with files"],
    [{ files: { "lib.js": "export const a = 1" } }, "files has no main.js or main.ts"],
    [{ files: { "main.js": "return 1" }, entry: "other.js" }, 'entry "other.js" is not among files'],
    [{ files: { "main.js": "return 1", "data.json": "{}" }, entry: "data.json" }, "must be a JavaScript or TypeScript file"],
    [{ files: {} }, "at least one file"],
    [{ files: [] }, "files must be a JSON object"],
    [{ files: { "main.js": 1 } }, "must be a string"],
  ])("answers 400 naming the problem for %j", async (body, message) => {
    const { status, body: answer } = await rejected(body);
    expect(status).toBe(400);
    expect(answer.error.code).toBe("VALIDATION_ERROR");
    expect(answer.error.message).toContain(message);
  });

  it.each([
    ["../main.js", "contains .."],
    ["lib/../../x.js", "contains .."],
    ["/etc/passwd.js", "is absolute"],
    ["\\\\server\\share.js", "is absolute"],
    ["https://example.com/x.js", "is a URL"],
    ["file:main.js", "is a URL"],
    ["C:/x.js", "is a URL"],
    ["./main.js", "each part must start with"],
    ["lib//x.js", "each part must start with"],
    [".hidden.js", "each part must start with"],
    ["lib/x y.js", "each part must start with"],
    ["lib\\x.js", "each part must start with"],
    ["a/b/c/d/e/f/g/h/i.js", "nested deeper than 8"],
    ["README.md", "needs one of the extensions"],
    ["lib", "needs one of the extensions"],
    ["__proto__", "needs one of the extensions"],
    [`${"a".repeat(201)}.js`, "longer than 200"],
  ])("refuses the file path %j", async (path, message) => {
    const { status, body } = await rejected({ files: { "main.js": "return 1", [path]: "export {}" } });
    expect(status).toBe(400);
    expect(body.error.message).toContain(message);
  });

  it("refuses a __proto__ file name although valibot would have dropped the key", async () => {
    const { status, body } = await rejected('{"files":{"main.js":"return 1","__proto__":"x"}}');
    expect(status).toBe(400);
    expect(body.error.message).toContain("__proto__");
  });

  it(`refuses more than ${MAX_FILES} files`, async () => {
    const files: Record<string, string> = { "main.js": "return 1" };
    for (let i = 0; i < MAX_FILES; i++) files[`f${i}.js`] = "";
    const { status, body } = await rejected({ files });
    expect(status).toBe(400);
    expect(body.error.message).toContain(`at most ${MAX_FILES} files`);
  });

  it("answers 413 when the files together exceed 100 KB, although each is small", async () => {
    const part = "x".repeat(MAX_CODE_BYTES / 4);
    const files = { "main.js": "return 1", "a.js": `//${part}`, "b.js": `//${part}`, "c.js": `//${part}`, "d.js": `//${part}` };
    const { status, body } = await rejected({ files });
    expect(status).toBe(413);
    expect(body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(body.error.message).toContain(`at most ${MAX_CODE_BYTES} bytes`);
  });

  it("names the file of a syntax error", async () => {
    const result = await execute({ files: { "main.ts": "const a: number = ;" } });
    expect(result.error).toMatchObject({ code: "SYNTAX_ERROR", file: "main.ts", line: 1 });
  });
});

describe("POST /validate with files", () => {
  it("accepts the same shape and names the file", async () => {
    const ok = await post("/validate", { files: { "main.js": "return 1" } });
    expect(await ok.json()).toEqual({ valid: true, errors: [] });
    const bad = await post("/validate", { files: { "main.js": "return eval('1')" } });
    const body = (await bad.json()) as { valid: boolean; errors: { code: string; file?: string }[] };
    expect(body.valid).toBe(false);
    expect(body.errors[0]).toMatchObject({ code: "POLICY_VIOLATION", file: "main.js" });
  });

  it("refuses bad paths there too", async () => {
    const { status, body } = await rejected({ files: { "../x.js": "" } }, "/validate");
    expect(status).toBe(400);
    expect(body.error.message).toContain("contains ..");
  });
});

describe("history records the files", () => {
  it("stores the whole program and the entry", async () => {
    const files = { "main.js": "return 5", "lib/util.js": "export const five = 5" };
    const result = await execute({ files, entry: "main.js" });
    const response = await exports.default.fetch(`${BASE}/executions/${result.executionId}`);
    const record = (await response.json()) as ExecutionRecord;
    expect(record).toMatchObject({ files, entry: "main.js", code: "return 5", status: "success" });
  });

  it("stores no files for a code request", async () => {
    const result = await execute({ code: "return 1" });
    const record = (await (await exports.default.fetch(`${BASE}/executions/${result.executionId}`)).json()) as ExecutionRecord;
    expect(record.files).toBeUndefined();
    expect(record.code).toBe("return 1");
  });
});

describe("GET /packages", () => {
  it("lists the operator's set with exact versions", async () => {
    const response = await exports.default.fetch(`${BASE}/packages`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { packages: { name: string; version: string }[]; configuredIn: string };
    expect(body.configuredIn).toBe("packages.json");
    expect(body.packages.map((p) => p.name)).toEqual(["zod", "lodash-es", "date-fns", "nanoid", "yaml", "papaparse"]);
    for (const p of body.packages) expect(p.version).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("files over RPC and for other languages", () => {
  it("runs a files request through RPC executeProgram, with the error naming its file", async () => {
    const files = { "main.ts": 'import { half } from "./lib/math";\nreturn half(84)', "lib/math.ts": "export const half = (n: number): number => n / 2;" };
    const reply = await rpc("executeProgram", { files });
    expect(reply).toMatchObject({ ok: true, result: { success: true, result: 42, language: "typescript" } });

    const failing = { "main.js": 'import { boom } from "./lib/boom.js";\nreturn boom()', "lib/boom.js": "export function boom() {\n  throw new Error('deep');\n}" };
    const failed = await rpc("executeProgram", { files: failing });
    expect(failed.result?.error).toMatchObject({ code: "RUNTIME_ERROR", message: "deep", file: "lib/boom.js", line: 2 });
  });

  it("refuses a bad executeProgram request with the same message as HTTP", async () => {
    const reply = await rpc("executeProgram", { code: "return 1", files: { "main.js": "return 1" } });
    expect(reply.ok).toBe(false);
    expect(reply.error?.message).toMatch(/^VALIDATION_ERROR: .*give either code or files, not both/);
  });

  it("refuses files for Python with a 400 that says to send code", async () => {
    const { status, body } = await rejected({ language: "python", files: { "main.js": "return 1" } });
    expect(status).toBe(400);
    expect(body.error.message).toContain("send Python as code");
  });
});

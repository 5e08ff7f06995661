import { describe, expect, it } from "vitest";
import { MAX_CODE_BYTES, MAX_CONTEXT_BYTES } from "../../schemas/limits";
import { BASE, execute, post, rpc } from "../helpers";

describe("POST /execute: the seed's examples", () => {
  it("returns 8 for Math.sqrt(16) * 2", async () => {
    const result = await execute({ code: "return Math.sqrt(16) * 2" });
    expect(result).toMatchObject({ success: true, status: "success", result: 8, language: "javascript", logs: [] });
    expect(result.executionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("greets the context's name", async () => {
    const result = await execute({ code: "return `Hello ${context.name}!`", context: { name: "World" } });
    expect(result.result).toBe("Hello World!");
  });

  it("runs the TypeScript interface example", async () => {
    const code = [
      "interface User { id: number; name: string }",
      "const user: User = { id: 1, name: 'John' };",
      "function greet(u: User): string { return u.name; }",
      "return greet(user);",
    ].join("\n");
    const result = await execute({ code, language: "typescript" });
    expect(result).toMatchObject({ success: true, result: "John", language: "typescript" });
  });

  it("supports top-level await", async () => {
    const result = await execute({ code: "const v = await Promise.resolve(21); return v * 2" });
    expect(result.result).toBe(42);
  });

  it("gives the code a copy of context: mutations stay inside", async () => {
    const context = { list: [1, 2], nested: { a: 1 } };
    const result = await execute({ code: "context.list.push(3); context.nested.a = 9; return context", context });
    expect(result.result).toEqual({ list: [1, 2, 3], nested: { a: 9 } });
    expect(context).toEqual({ list: [1, 2], nested: { a: 1 } });
  });
});

describe("console capture", () => {
  it("captures every level in call order with timestamps", async () => {
    const code = `console.log("a", 1, { b: [2] }); console.info("i"); console.warn("w"); console.error("e"); console.debug("d"); return 1`;
    const { logs } = await execute({ code });
    expect(logs.map((l) => [l.level, l.message])).toEqual([
      ["log", 'a 1 {"b":[2]}'],
      ["info", "i"],
      ["warn", "w"],
      ["error", "e"],
      ["debug", "d"],
    ]);
    for (const log of logs) expect(Number.isNaN(Date.parse(log.timestamp))).toBe(false);
  });

  it("keeps logs made before a throw", async () => {
    const result = await execute({ code: `console.log("before"); throw new Error("boom")` });
    expect(result.status).toBe("error");
    expect(result.logs.map((l) => l.message)).toEqual(["before"]);
  });

  it("keeps logs made before a timeout", async () => {
    const result = await execute({ code: `console.log("start"); while (true) {}`, config: { timeout: 300 } });
    expect(result.status).toBe("timeout");
    expect(result.logs.map((l) => l.message)).toEqual(["start"]);
  });

  it("caps the number of entries and says how many were dropped", async () => {
    const result = await execute({ code: `for (let i = 0; i < 1500; i++) console.log("line", i); return "done"` });
    expect(result.result).toBe("done");
    expect(result.logs).toHaveLength(1001);
    expect(result.logs[999]?.message).toBe("line 999");
    expect(result.logs[1000]).toMatchObject({ level: "warn" });
    expect(result.logs[1000]?.message).toMatch(/500 more log entries dropped/);
  });
});

describe("user-code failures are 200 results", () => {
  it("reports a runtime error at the user's own line and column", async () => {
    const result = await execute({ code: "const a = 1;\nfor (let i = 0; i < 2; i++) {}\n  null.x;" });
    expect(result).toMatchObject({ success: false, status: "error" });
    expect(result.error).toMatchObject({ code: "RUNTIME_ERROR", name: "TypeError", line: 3, column: 8 });
  });

  it("maps TypeScript runtime errors back to the TypeScript source", async () => {
    const code = "type T = { a: number };\n\n\nconst t: T = { a: 1 };\nfunction f(x: T): never {\n  throw new RangeError('bad ' + x.a);\n}\nf(t);";
    const result = await execute({ code, language: "typescript" });
    expect(result.error).toMatchObject({ code: "RUNTIME_ERROR", name: "RangeError", message: "bad 1", line: 6, column: 9 });
  });

  it("reports a thrown non-Error value", async () => {
    const result = await execute({ code: `throw { reason: "nope" }` });
    expect(result.error).toMatchObject({ code: "RUNTIME_ERROR", message: 'Uncaught {"reason":"nope"}' });
  });

  it("reports syntax errors with their position and runs nothing", async () => {
    const result = await execute({ code: "const a = 1;\nconst b = ;" });
    expect(result).toMatchObject({ success: false, status: "rejected", logs: [] });
    expect(result.error).toMatchObject({ code: "SYNTAX_ERROR", name: "SyntaxError", line: 2, column: 11 });
  });

  it("reports TypeScript syntax errors at their TypeScript position", async () => {
    const result = await execute({ code: "let x: number = 1;\nlet y: = 2;", language: "typescript" });
    expect(result.error).toMatchObject({ code: "SYNTAX_ERROR", line: 2, column: 8 });
  });
});

describe("request-level errors", () => {
  it("answers malformed JSON with 400 INVALID_JSON", async () => {
    const response = await post("/execute", "{ not json");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "INVALID_JSON" } });
  });

  it("answers schema failures with 400 and the path", async () => {
    const response = await post("/execute", { code: 42 });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("VALIDATION_ERROR");
    expect(body.error.issues[0]?.path).toBe("code");
  });

  it("rejects unknown fields instead of ignoring them", async () => {
    const response = await post("/execute", { code: "return 1", config: { timeout: 1000, env: { SECRET: "x" } } });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("config.env");
  });

  it("answers an unknown language with 400 UNSUPPORTED_LANGUAGE", async () => {
    const response = await post("/execute", { code: "print(1)", language: "python" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "UNSUPPORTED_LANGUAGE", message: expect.stringContaining("javascript") } });
  });

  it.each([50, 120_001, 1.5, "500"])("answers timeout %s with 400", async (timeout) => {
    const response = await post("/execute", { code: "return 1", config: { timeout } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "VALIDATION_ERROR" } });
  });

  it("accepts code of exactly 100 KB and answers 413 one byte over", async () => {
    const prefix = "return 1;\n//";
    const exact = prefix + "é".repeat((MAX_CODE_BYTES - prefix.length) / 2);
    expect(new TextEncoder().encode(exact).byteLength).toBe(MAX_CODE_BYTES);
    const ok = await execute({ code: exact });
    expect(ok.result).toBe(1);

    const over = await post("/execute", { code: exact + "x" });
    expect(over.status).toBe(413);
    expect(await over.json()).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
  });

  it("answers a context over its documented limit with 400 naming context", async () => {
    const response = await post("/execute", { code: "return 1", context: { blob: "x".repeat(MAX_CONTEXT_BYTES) } });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("VALIDATION_ERROR");
    expect(body.error.issues[0]?.path).toBe("context");
  });

  it("answers 405 for GET /execute and 404 for unknown routes", async () => {
    const { exports } = await import("cloudflare:workers");
    const get = await exports.default.fetch(`${BASE}/execute`);
    expect(get.status).toBe(405);
    const missing = await exports.default.fetch(`${BASE}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});

describe("RPC", () => {
  it("returns exactly the HTTP result shape through a real service binding", async () => {
    const viaRpc = await rpc("executeCode", "console.log('x'); return `Hello ${context.name}!`", "javascript", { name: "RPC" }, { timeout: 5000 });
    expect(viaRpc.ok).toBe(true);
    const viaHttp = await execute({ code: "console.log('x'); return `Hello ${context.name}!`", context: { name: "RPC" }, config: { timeout: 5000 } });
    expect(Object.keys(viaRpc.result ?? {}).sort()).toEqual(Object.keys(viaHttp).sort());
    expect(viaRpc.result).toMatchObject({ success: true, result: "Hello RPC!", status: "success", logs: [{ level: "log", message: "x" }] });
  });

  it("runs TypeScript over RPC", async () => {
    const viaRpc = await rpc("executeCode", "const n: number = 2; return n * 21", "typescript");
    expect(viaRpc.result).toMatchObject({ result: 42, language: "typescript" });
  });

  it("rejects invalid arguments with a coded error", async () => {
    const viaRpc = await rpc("executeCode", "return 1", "cobol");
    expect(viaRpc.ok).toBe(false);
    expect(viaRpc.error?.message).toMatch(/^UNSUPPORTED_LANGUAGE: /);
  });
});

describe("logged errors", () => {
  it("show stack frames at the caller's own lines, without the sandbox's frames", async () => {
    const code = "function fail() {\n  for (let i = 0; i < 1; i++) {}\n  return new Error('something failed');\n}\nconsole.error(fail());";
    const { logs } = await execute({ code });
    const message = logs[0]?.message ?? "";
    expect(message).toMatch(/^Error: something failed\n\s+at fail \(code:3:10\)\n\s+at code:5:15$/);
    expect(message).not.toMatch(/harness\.js|user\.js/);
  });
});

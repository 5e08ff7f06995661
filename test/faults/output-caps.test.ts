import { describe, expect, it } from "vitest";
import { MAX_LOG_ENTRIES, MAX_LOG_MESSAGE_CHARS, MAX_LOG_TOTAL_CHARS, MAX_RESULT_CHARS, MAX_RESULT_DEPTH, MAX_RESULT_NODES } from "../../schemas/limits";
import type { ExecutionResult } from "../../schemas/result";
import { post, rpc } from "../helpers";

// Results and logs at and beyond every cap come back truncated or encoded as documented (worker/docs.ts,
// sandbox-template/encode.js): always a 200 with a result, never a 500, and never a response that grows with
// what the code produced.

/** The response must be a 200 whose body stays within what the caps allow (result + logs + envelope). */
const MAX_RESPONSE_BYTES = 4 * (MAX_RESULT_CHARS + MAX_LOG_TOTAL_CHARS);

async function run(code: string, timeout = 10_000): Promise<ExecutionResult> {
  const response = await post("/execute", { code, config: { timeout } });
  const text = await response.text();
  expect(response.status, text.slice(0, 300)).toBe(200);
  expect(text.length).toBeLessThan(MAX_RESPONSE_BYTES);
  return JSON.parse(text) as ExecutionResult;
}

const droppedNotice = (result: ExecutionResult) => result.logs.filter((entry) => entry.message.includes("more log entries dropped"));

describe("logs at and beyond the caps", () => {
  it(`keeps exactly ${MAX_LOG_ENTRIES} entries without a notice`, async () => {
    const result = await run(`for (let i = 0; i < ${MAX_LOG_ENTRIES}; i++) console.log(i); return 'done'`);
    expect(result).toMatchObject({ success: true, result: "done" });
    expect(result.logs).toHaveLength(MAX_LOG_ENTRIES);
    expect(droppedNotice(result)).toEqual([]);
  });

  it("keeps the first entries of 1e5 log lines and says how many were dropped", async () => {
    const result = await run("for (let i = 0; i < 1e5; i++) console.log('line', i); return 'done'");
    expect(result).toMatchObject({ success: true, result: "done" });
    expect(result.logs).toHaveLength(MAX_LOG_ENTRIES + 1);
    expect(result.logs[0]?.message).toBe("line 0");
    expect(result.logs[MAX_LOG_ENTRIES - 1]?.message).toBe(`line ${MAX_LOG_ENTRIES - 1}`);
    expect(droppedNotice(result)).toEqual([
      expect.objectContaining({ level: "warn", message: expect.stringContaining(`${1e5 - MAX_LOG_ENTRIES} more log entries dropped`) }),
    ]);
  });

  it("cuts one oversized message and stops at the total character budget", async () => {
    const result = await run(`for (let i = 0; i < 200; i++) console.log('y'.repeat(${MAX_LOG_MESSAGE_CHARS * 4}));`);
    const first = result.logs[0]?.message ?? "";
    expect(first.startsWith("y".repeat(MAX_LOG_MESSAGE_CHARS))).toBe(true);
    expect(first).toContain(`[message truncated: ${MAX_LOG_MESSAGE_CHARS * 4} characters]`);
    const kept = result.logs.filter((entry) => entry.level === "log");
    expect(kept.length).toBeLessThan(200);
    expect(kept.reduce((sum, entry) => sum + entry.message.length, 0)).toBeLessThan(MAX_LOG_TOTAL_CHARS + 2 * MAX_LOG_MESSAGE_CHARS);
    expect(droppedNotice(result)).toHaveLength(1);
  });

  it("logs deep, circular and unencodable values without failing the run", async () => {
    const result = await run(`
      let deep = {}; const root = deep; for (let i = 0; i < 1e5; i++) { deep.next = {}; deep = deep.next; }
      const loop = { name: 'loop' }; loop.self = loop;
      function named() { for (;;) {} }
      console.log(root, loop, 10n, Symbol('s'), () => 1, named);
      return 'logged'`);
    expect(result).toMatchObject({ success: true, result: "logged" });
    const message = result.logs[0]?.message ?? "";
    expect(message).toContain(`"$type":"truncated","reason":"nested deeper than`);
    expect(message).toContain('{"name":"loop","self":{"$type":"circular"}}');
    // Functions print as Node prints them, not as their instrumented source.
    expect(message).toContain("10n Symbol(s) [Function (anonymous)] [Function: named]");
  });
});

describe("results at and beyond the caps", () => {
  it(`returns a string of exactly ${MAX_RESULT_CHARS} characters whole`, async () => {
    const result = await run(`return 'z'.repeat(${MAX_RESULT_CHARS})`);
    expect(result.resultTruncated).toBeUndefined();
    expect(result.result).toHaveLength(MAX_RESULT_CHARS);
  });

  it("answers a 50 MB string result with a tagged preview", async () => {
    const result = await run("return 'x'.repeat(50 * 1024 * 1024)");
    expect(result).toMatchObject({
      success: true,
      resultTruncated: true,
      result: { $type: "truncated", reason: "string too long", length: 50 * 1024 * 1024 },
    });
    expect((result.result as { preview: string }).preview).toHaveLength(MAX_RESULT_CHARS);
  });

  it("cuts a 1e5-deep object at the depth limit", async () => {
    const result = await run("let o = {}; const root = o; for (let i = 0; i < 1e5; i++) { o.next = {}; o = o.next; } return root");
    expect(result.resultTruncated).toBe(true);
    let node = result.result as Record<string, unknown>;
    let depth = 0;
    while (node.next) {
      node = node.next as Record<string, unknown>;
      depth++;
    }
    expect(depth).toBe(MAX_RESULT_DEPTH);
    expect(node).toEqual({ $type: "truncated", reason: `nested deeper than ${MAX_RESULT_DEPTH} levels` });
  });

  it("cuts a 1e5-deep array at the depth limit", async () => {
    const result = await run("let a = []; const root = a; for (let i = 0; i < 1e5; i++) { const b = []; a.push(b); a = b; } return root");
    expect(result.resultTruncated).toBe(true);
    expect(JSON.stringify(result.result)).toContain(`nested deeper than ${MAX_RESULT_DEPTH} levels`);
  });

  it(`cuts an array of more than ${MAX_RESULT_NODES} values`, async () => {
    const result = await run(`return Array.from({ length: ${MAX_RESULT_NODES * 2} }, (_, i) => i % 10)`);
    expect(result.resultTruncated).toBe(true);
    const values = result.result as unknown[];
    expect(values.length).toBeLessThanOrEqual(MAX_RESULT_NODES + 1);
    expect(values.slice(-2)).toEqual([
      { $type: "truncated", reason: `more than ${MAX_RESULT_NODES} values` },
      { $type: "truncated", reason: `array of ${MAX_RESULT_NODES * 2} items cut` },
    ]);
  });

  it("stays within the reply limit for a million-element array, Map and Set", async () => {
    for (const code of [
      "return new Array(1e6).fill(0)",
      "const m = new Map(); for (let i = 0; i < 5e5; i++) m.set(i, i); return m",
      "return new Set(Array.from({ length: 1e6 }, (_, i) => i))",
    ]) {
      const result = await run(code);
      expect(result, code).toMatchObject({ success: true, resultTruncated: true });
    }
  });

  it("cuts an object with a million keys at the character budget", async () => {
    const result = await run("const o = {}; for (let i = 0; i < 1e6; i++) o['key' + i] = i; return o");
    expect(result.resultTruncated).toBe(true);
    expect(JSON.stringify(result.result).length).toBeLessThan(MAX_RESULT_CHARS * 2);
  });

  it("encodes circular values, BigInt, Symbol and functions as tags", async () => {
    const result = await run(`
      const a = { name: 'a' }; const b = { a }; a.b = b;
      const list = [1]; list.push(list);
      return { a, list, big: 2n ** 70n, sym: Symbol('tag'), anon: Symbol(), fn: function named() {}, arrow: () => 1 }`);
    expect(result.resultTruncated).toBeUndefined();
    expect(result.result).toEqual({
      a: { name: "a", b: { a: { $type: "circular" } } },
      list: [1, { $type: "circular" }],
      big: { $type: "bigint", value: (2n ** 70n).toString() },
      sym: { $type: "symbol", description: "tag" },
      anon: { $type: "symbol", description: null },
      fn: { $type: "function", name: "named" },
      arrow: { $type: "function", name: "arrow" },
    });
  });

  it("encodes a bare BigInt, Symbol or function returned on its own", async () => {
    expect((await run("return 7n")).result).toEqual({ $type: "bigint", value: "7" });
    expect((await run("return Symbol.iterator")).result).toEqual({ $type: "symbol", description: "Symbol.iterator" });
    expect((await run("return Math.max")).result).toEqual({ $type: "function", name: "max" });
  });

  it("turns a getter or toJSON that throws into a tag instead of failing", async () => {
    const result = await run("return { get boom() { throw new Error('getter says no') } }");
    expect(result).toMatchObject({ success: true, result: { $type: "unencodable", message: "getter says no" }, resultTruncated: true });
  });

  it("returns the same capped result over RPC", async () => {
    const reply = await rpc("executeCode", "return 'x'.repeat(50 * 1024 * 1024)");
    expect(reply.ok).toBe(true);
    expect(reply.result).toMatchObject({ resultTruncated: true, result: { $type: "truncated", length: 50 * 1024 * 1024 } });
  });
});

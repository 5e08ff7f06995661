import { describe, expect, it } from "vitest";
import type { Language } from "../../schemas/execute";
import { MAX_CODE_BYTES } from "../../schemas/limits";
import type { ExecutionResult, ValidateResponse } from "../../schemas/result";
import { execute, post } from "../helpers";

// Up to 100 KB of pathological nesting: every pass over the code (parse, transpile, policy walk, instrument) is
// recursive somewhere, and the code must come back as a clean rejection, quickly, never as a 500.

/** Generous on a loaded 2-core machine; the measured answers take 3-130 ms. */
const ANSWER_WITHIN_MS = 3_000;

const fill = (open: string, middle: string, close: string): string => {
  // Room for the statement around the nesting.
  const times = Math.floor((MAX_CODE_BYTES - middle.length - 64) / (open.length + close.length));
  return `${open.repeat(times)}${middle}${close.repeat(times)}`;
};

const nestings: [name: string, code: string, language: Language][] = [
  ["nested arrays", `return ${fill("[", "", "]")}`, "javascript"],
  ["nested parentheses", `return ${fill("(", "1", ")")}`, "javascript"],
  ["nested blocks", fill("{", "", "}"), "javascript"],
  ["nested object literals", `return ${fill("{a:", "1", "}")}`, "javascript"],
  ["nested functions", fill("function f(){", "", "}"), "javascript"],
  ["nested template literals", `return ${fill("`${", "1", "}`")}`, "javascript"],
  ["a chain of ifs", `${"if (1) ".repeat(14_000)}x = 1`, "javascript"],
  ["a chain of arrows", `return ${"() => ".repeat(16_000)}1`, "javascript"],
  ["a 50 000-term sum", `return ${"1+".repeat(50_000)}1`, "javascript"],
  ["a 50 000-link member chain", `return a${".b".repeat(50_000)}`, "javascript"],
  ["a 50 000-link call chain", `return f${"()".repeat(50_000)}`, "javascript"],
  ["nested TypeScript generics", `type T = ${fill("Array<", "number", ">")}; return 1`, "typescript"],
  ["nested arrays in TypeScript", `return ${fill("[", "", "]")}`, "typescript"],
];

describe("100 KB of pathological nesting", () => {
  it.each(nestings)("rejects %s with a clean result", async (_name, code, language) => {
    expect(new TextEncoder().encode(code).byteLength).toBeLessThanOrEqual(MAX_CODE_BYTES);
    const startedAt = Date.now();
    const response = await post("/execute", { code, language, config: { timeout: 1_000 } });
    const elapsedMs = Date.now() - startedAt;
    const body = (await response.json()) as ExecutionResult;
    expect(response.status).toBe(200);
    expect(body).toMatchObject({ success: false, status: "rejected", error: { code: "SYNTAX_ERROR" } });
    expect(elapsedMs).toBeLessThan(ANSWER_WITHIN_MS);
  });

  it.each(nestings)("answers /validate for %s without a 500", async (_name, code, language) => {
    const response = await post("/validate", { code, language });
    expect(response.status).toBe(200);
    expect(((await response.json()) as ValidateResponse).valid).toBe(false);
  });

  it("runs 100 KB of ordinary flat code", async () => {
    const line = "total += 1;\n";
    const code = `let total = 0;\n${line.repeat(Math.floor((MAX_CODE_BYTES - 40) / line.length))}return total`;
    const result = await execute({ code, config: { timeout: 5_000 } });
    expect(result).toMatchObject({ success: true, status: "success" });
    expect(result.result).toBeGreaterThan(8_000);
  });

  it("does not stall a small request sent alongside a burst of them", async () => {
    const burst = nestings.map(([, code, language]) => post("/execute", { code, language, config: { timeout: 1_000 } }));
    const startedAt = Date.now();
    const small = await execute({ code: "return 'served'" });
    const smallMs = Date.now() - startedAt;
    const statuses = await Promise.all(burst.map(async (response) => (await response).status));
    expect(small.result).toBe("served");
    expect(smallMs).toBeLessThan(ANSWER_WITHIN_MS);
    expect(statuses.every((status) => status === 200)).toBe(true);
  });
});

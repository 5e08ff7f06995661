import { env } from "cloudflare:workers";
import type { CodeExecBinding, ExecutionRecord, ExecutionResult, ListExecutionsResponse } from "code-exec";
import { describe, expect, expectTypeOf, it } from "vitest";

// The package's own name resolves to worker/client.ts (package.json "exports"), exactly as in a caller Worker.
describe("typed RPC client", () => {
  it("types env.CODE_EXEC's methods with the service's own schemas (checked by npm run typecheck)", () => {
    expectTypeOf<CodeExecBinding["executeCode"]>().parameter(0).toEqualTypeOf<string>();
    expectTypeOf<CodeExecBinding["executeCode"]>().parameter(1).toEqualTypeOf<"javascript" | "typescript" | "python" | undefined>();
    expectTypeOf<ReturnType<CodeExecBinding["executeCode"]>>().toEqualTypeOf<Promise<ExecutionResult>>();
    expectTypeOf<ReturnType<CodeExecBinding["getExecution"]>>().toEqualTypeOf<Promise<ExecutionRecord>>();
    expectTypeOf<ReturnType<CodeExecBinding["listExecutions"]>>().toEqualTypeOf<Promise<ListExecutionsResponse>>();
    expectTypeOf<CodeExecBinding>().toHaveProperty("fetch");
  });

  it("the example caller Worker runs the README's example over its service binding", async () => {
    const response = await (env as unknown as { CALLER: Fetcher }).CALLER.fetch("http://caller/hello");
    expect(response.status).toBe(200);
    const body = await response.json<{ greeting: unknown; status: string; total: number }>();
    expect(body.greeting).toBe("Hello World!");
    expect(body.status).toBe("success");
    expect(body.total).toBeGreaterThanOrEqual(1);
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PARENT_GRACE_MS } from "../../schemas/limits";
import { runModel } from "../../worker/capabilities/ai";
import type { CallNote } from "../../worker/capabilities/capability-call";
import { runQuery } from "../../worker/capabilities/db";
import { execute } from "../helpers";

// A capability backend failing or hanging: the call fails cleanly (error data the code can catch) and never
// outlives the execution's timeout.
//
// Covered elsewhere, not repeated here: the executions database failing (test/history/resilience.test.ts: the
// caller still gets its result, with warnings), an AI provider answering 500 (test/capabilities/ai.test.ts:
// UPSTREAM_ERROR), an api() upstream slower than the timeout with logs kept (test/capabilities/allowed-apis.test.ts).
//
// The ai() and db() backends are bindings of the front Worker, which a test cannot swap under ctx.exports, so
// those cases call the capability's own function with a broken env: a real D1 database without the table, or a
// binding that never answers (the edge of the world, where a stand-in is fair).

const testEnv = env as unknown as Env;
const MODEL = "@cf/meta/llama-3.1-8b-instruct";
const note = (): CallNote => ({ target: "", requestBytes: 0, responseBytes: 0 });
const props = (timeoutMs: number) => ({ executionId: crypto.randomUUID(), deadlineAt: Date.now() + timeoutMs });
const never = () => new Promise<never>(() => {});

/** Runs a capability function and reports how it failed and how long it took. */
async function failure(call: () => Promise<unknown>): Promise<{ code: unknown; message: string; elapsedMs: number }> {
  const startedAt = Date.now();
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the call should have failed").toBeInstanceOf(Error);
  const { code, message } = error as Error & { code?: unknown };
  return { code, message, elapsedMs: Date.now() - startedAt };
}

describe("api() upstream hanging", () => {
  it("ends the run at its timeout and keeps serving", async () => {
    const startedAt = Date.now();
    const result = await execute({
      code: "console.log('calling'); try { await api('https://api.example.com/slow?ms=60000') } catch (e) { console.log('caught', e.code) } return 'late'",
      config: { allowedDomains: ["api.example.com"], timeout: 700 },
    });
    const elapsedMs = Date.now() - startedAt;
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
    expect(result.logs[0]?.message).toBe("calling");
    expect(elapsedMs).toBeLessThan(700 + PARENT_GRACE_MS + 1_000);
    expect((await execute({ code: "return 'next'" })).result).toBe("next");
  });
});

describe("ai() backend failing or hanging", () => {
  it("fails a hanging AI binding with TIMEOUT at the execution's deadline", async () => {
    const hanging = { ...testEnv, AI: { run: never } };
    const outcome = await failure(() => runModel(hanging, props(300), MODEL, { prompt: "hi" }, note()));
    expect(outcome.code).toBe("TIMEOUT");
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(outcome.elapsedMs).toBeLessThan(300 + PARENT_GRACE_MS);
  });

  it("fails a throwing AI binding with UPSTREAM_ERROR and no host details", async () => {
    const throwing = { ...testEnv, AI: { run: () => Promise.reject(new Error("secret internal detail")) } };
    const outcome = await failure(() => runModel(throwing, props(1_000), MODEL, { prompt: "hi" }, note()));
    expect(outcome.code).toBe("UPSTREAM_ERROR");
    expect(outcome.message).not.toContain("secret internal detail");
  });
});

describe("db() backend failing or hanging", () => {
  const query = { select: { from: "things", limit: 1 } };

  it("fails cleanly with UPSTREAM_ERROR when the database errors", async () => {
    // A real D1 database that has no `things` table: the query fails inside D1, as in an outage or a bad migration.
    const broken = { ...testEnv, DATA_DB: testEnv.EXECUTIONS_DB };
    const outcome = await failure(() => runQuery(broken, props(1_000), query, note()));
    expect(outcome.code).toBe("UPSTREAM_ERROR");
    expect(outcome.message).toBe("the database could not run the query");
  });

  it("fails a hanging DB service with TIMEOUT at the execution's deadline", async () => {
    const hanging = { ...testEnv, DB: { query: never } };
    const outcome = await failure(() => runQuery(hanging, props(300), query, note()));
    expect(outcome.code).toBe("TIMEOUT");
    expect(outcome.elapsedMs).toBeLessThan(300 + PARENT_GRACE_MS);
  });

  it("fails a DB service answering garbage with UPSTREAM_ERROR", async () => {
    const garbage = { ...testEnv, DB: { query: () => Promise.resolve({ rows: "not rows" }) } };
    const outcome = await failure(() => runQuery(garbage, props(1_000), query, note()));
    expect(outcome.code).toBe("UPSTREAM_ERROR");
  });

  it("refuses a call made after the deadline without touching the backend", async () => {
    let touched = false;
    const watched = { ...testEnv, DB: { query: () => ((touched = true), never()) } };
    const outcome = await failure(() => runQuery(watched, { executionId: crypto.randomUUID(), deadlineAt: Date.now() - 1_000 }, query, note()));
    expect(outcome.code).toBe("TIMEOUT");
    expect(touched).toBe(false);
  });
});

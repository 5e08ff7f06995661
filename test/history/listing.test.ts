import { beforeAll, describe, expect, it } from "vitest";
import type { ListExecutionsResponse } from "../../schemas/history";
import { rpc } from "../helpers";
import { call, keyPair, list, run } from "./client";

// Every test here lists as its own API key, so rows written by other test files never change the counts.
const { apiKeys, a, b } = keyPair("list");
const asA = { key: a.key, env: { API_KEYS: apiKeys } };
const ids: string[] = [];

beforeAll(async () => {
  ids.push((await run({ code: "return 1" }, asA)).executionId);
  ids.push((await run({ code: "throw new Error('no')" }, asA)).executionId);
  ids.push((await run({ code: "const n: number = 3; return n", language: "typescript" }, asA)).executionId);
  ids.push((await run({ code: "return 4" }, asA)).executionId);
  ids.push((await run({ code: "return (" }, asA)).executionId);
});

describe("GET /executions", () => {
  it("lists newest first with total, limit and offset (default limit 10)", async () => {
    const page = await list("", asA);
    expect(page).toMatchObject({ total: 5, limit: 10, offset: 0 });
    expect(page.executions.map((e) => e.executionId)).toEqual([...ids].reverse());
    expect(page.executions[0]).toMatchObject({ status: "rejected", caller: { kind: "http", identity: a.name }, errorCode: "SYNTAX_ERROR" });
    expect(page.executions[0]).not.toHaveProperty("code");
  });

  it("pages at the boundaries: first page, last partial page, past the end", async () => {
    const first = await list("?limit=2&offset=0", asA);
    expect(first.executions.map((e) => e.executionId)).toEqual([ids[4], ids[3]]);
    expect(first.total).toBe(5);
    const last = await list("?limit=2&offset=4", asA);
    expect(last.executions.map((e) => e.executionId)).toEqual([ids[0]]);
    const past = await list("?limit=2&offset=5", asA);
    expect(past).toMatchObject({ executions: [], total: 5, limit: 2, offset: 5 });
    expect((await list("?limit=1", asA)).executions).toHaveLength(1);
    expect((await list("?limit=100", asA)).executions).toHaveLength(5);
  });

  it("filters by status and by language, with the total counting only matches", async () => {
    const successes = await list("?status=success", asA);
    expect(successes.total).toBe(3);
    expect(successes.executions.every((e) => e.status === "success")).toBe(true);
    const typescript = await list("?language=typescript", asA);
    expect(typescript.executions.map((e) => e.executionId)).toEqual([ids[2]]);
    const both = await list("?status=error&language=javascript", asA);
    expect(both.executions.map((e) => e.executionId)).toEqual([ids[1]]);
    expect((await list("?status=running", asA)).total).toBe(0);
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["limit=-1", "limit"],
    ["limit=1.5", "limit"],
    ["limit=abc", "limit"],
    ["limit=", "limit"],
    ["limit=1e2", "limit"],
    ["offset=-1", "offset"],
    ["offset=x", "offset"],
    ["limit=1&limit=2", "limit"],
    ["status=done", "status"],
    ["sort=asc", "sort"],
  ])("answers 400 for ?%s", async (query, path) => {
    const response = await call(`/executions?${query}`, asA);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("VALIDATION_ERROR");
    expect(body.error.issues.map((issue) => issue.path)).toContain(path);
  });

  it("answers 400 UNSUPPORTED_LANGUAGE for an unknown language filter, as POST /execute does", async () => {
    const response = await call("/executions?language=ruby", asA);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "UNSUPPORTED_LANGUAGE" } });
  });

  it("answers 405 for other methods", async () => {
    expect((await call("/executions", { ...asA, method: "DELETE" })).status).toBe(405);
    expect((await call(`/executions/${ids[0]}`, { ...asA, method: "POST", body: {} })).status).toBe(405);
  });

  it("is private per key: another key lists none of these", async () => {
    const other = await list("", { key: b.key, env: { API_KEYS: apiKeys } });
    expect(other.executions.map((e) => e.executionId)).not.toContain(ids[0]);
  });
});

describe("listExecutions over RPC", () => {
  it("lists every caller's executions (service bindings are trusted) with the same paging", async () => {
    const response = await rpc<ListExecutionsResponse>("listExecutions", { limit: 100 });
    expect(response.ok).toBe(true);
    expect(response.result?.limit).toBe(100);
    expect(response.result?.executions.map((e) => e.executionId)).toEqual(expect.arrayContaining(ids));
    const narrowed = await rpc<ListExecutionsResponse>("listExecutions", { limit: 1, language: "typescript" });
    expect(narrowed.result?.executions).toHaveLength(1);
  });

  it.each([[{ limit: 0 }], [{ limit: 1.5 }], [{ offset: -1 }], [{ limit: "10" }], [{ status: "done" }], [{ sort: "asc" }]])(
    "rejects %j with VALIDATION_ERROR",
    async (options) => {
      const response = await rpc("listExecutions", options);
      expect(response).toMatchObject({ ok: false, error: { message: expect.stringMatching(/^VALIDATION_ERROR: /) } });
    },
  );
});

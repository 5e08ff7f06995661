import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runQuery } from "../../worker/capabilities/db";
import { compileQuery } from "../../worker/capabilities/db-query";
import { MAX_DB_BOUND_PARAMETERS, MAX_DB_CONDITIONS, MAX_DB_IN_ITEMS, MAX_DB_LIKE_PATTERN_BYTES, MAX_DB_LIMIT } from "../../worker/capabilities/limits";
import { CapabilityFailure } from "../../worker/capabilities/reply";
import { execute, rpc } from "../helpers";
import { waitForCalls } from "./audit-helpers";

const DB_EXAMPLE = `
const results = await db({ select: { from: 'things', where: { ns: 'wiki', type: 'Article' }, limit: 10 } })
console.log('Found', results.rowCount, 'articles', results.rows.length)
return results.rows.map((row) => row.id)
`;

function compileError(query: unknown): string {
  try {
    compileQuery(query);
  } catch (error) {
    if (error instanceof CapabilityFailure) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "compiled";
}

/** The query as the sandbox would send it: through JSON, so `__proto__` stays an own key as in structured clone. */
const fromJson = (json: string): unknown => JSON.parse(json);

describe("db() query compiler", () => {
  it("compiles equality, operators, null, $and/$or and JSON paths to bound parameters only", () => {
    const { compiled } = compileQuery({
      select: {
        from: "things",
        columns: ["id", "data"],
        where: {
          ns: "wiki",
          created_at: { $gte: "2026-01-01", $lt: "2026-02-01" },
          updated_at: null,
          $or: [{ type: { $in: ["Article", "Category"] } }, { "data.views": { $gt: 1000 } }],
          id: { $like: "d%", $ne: null },
          "data.published": true,
        },
        orderBy: [{ column: "data.views", direction: "desc" }, "id"],
        limit: 5,
        offset: 2,
      },
    });
    expect(compiled.sql).toBe(
      'SELECT "id", "data" FROM "things" WHERE "ns" = ? AND "created_at" >= ? AND "created_at" < ? AND "updated_at" IS NULL AND ' +
        '("type" IN (?, ?) OR json_extract("data", ?) > ?) AND "id" LIKE ? AND "id" IS NOT NULL AND json_extract("data", ?) = ? ' +
        'ORDER BY json_extract("data", ?) DESC, "id" ASC LIMIT ? OFFSET ?',
    );
    expect(compiled.params).toEqual(["wiki", "2026-01-01", "2026-02-01", "Article", "Category", "$.views", 1000, "d%", "$.published", 1, "$.views", 5, 2]);
  });

  it("keeps injection attempts in values as bound data", () => {
    const { compiled } = compileQuery({ select: { from: "things", where: { id: "x'; DROP TABLE things; --" } } });
    expect(compiled.sql).not.toContain("DROP");
    expect(compiled.params).toContain("x'; DROP TABLE things; --");
  });

  it.each([
    [{ select: { from: "executions" } }, /unknown table "executions"/],
    [{ select: { from: "sqlite_master" } }, /unknown table "sqlite_master"/],
    [{ select: { from: "things; DROP TABLE things" } }, /unknown table/],
    [{ select: { from: "things", columns: ["id", "sql"] } }, /columns: unknown column "sql"/],
    [{ select: { from: "things", columns: ['id" FROM executions --'] } }, /unknown column/],
    [{ select: { from: "things", where: { 'id" OR 1=1 --': 1 } } }, /where\.id" OR 1=1 --: unknown column/],
    [{ select: { from: "things", where: { id: { $regex: ".*" } } } }, /where\.id\.\$regex: unknown operator "\$regex"/],
    [{ select: { from: "things", where: { $where: "1" } } }, /unknown operator \$where/],
    [{ select: { from: "things", where: { id: { nested: 1 } } } }, /unknown operator "nested"/],
    [{ select: { from: "things", where: { id: ["a"] } } }, /use \{ \$in/],
    [{ select: { from: "things", where: { id: { $in: [{}] } } } }, /\$in\[0\]: values must be strings/],
    [{ select: { from: "things", where: { id: { $gt: Number.NaN } } } }, /finite/],
    [{ select: { from: "things", where: { id: { $in: Array.from({ length: MAX_DB_IN_ITEMS + 1 }, (_, i) => i) } } } }, new RegExp(`at most ${MAX_DB_IN_ITEMS} values`)],
    [{ select: { from: "things", where: { id: { $in: [] } } } }, /non-empty/],
    [{ select: { from: "things", where: { "data.a b": 1 } } }, /not a valid path/],
    [{ select: { from: "things", where: { "id.x": 1 } } }, /only JSON columns/],
    [{ select: { from: "things", orderBy: "id; DROP TABLE things" } }, /orderBy\[0\]: unknown column/],
    [{ select: { from: "things", limit: -1 } }, /limit must be at least 1/],
    [{ select: { from: "things", limit: 2.5 } }, /limit must be a whole number/],
    [{ select: { from: "things", limit: MAX_DB_LIMIT + 1 } }, /limit must be at most 1000/],
    [{ select: { from: "things", limit: "10" } }, /limit must be a number/],
    [{ select: { from: "things", offset: -5 } }, /offset must not be negative/],
    [{ delete: { from: "things" } }, /db\(\) is read-only/],
    [{ select: { from: "things", join: "executions" } }, /unknown select field/],
    ["SELECT * FROM things", /must be an object/],
  ])("rejects %j with a message naming the problem", (query, message) => {
    const error = compileError(query);
    expect(error).toMatch(/^INVALID_QUERY: /);
    expect(error).toMatch(message);
  });

  it("rejects __proto__ and constructor keys wherever they appear", () => {
    expect(compileError(fromJson('{"select":{"from":"things","where":{"__proto__":{"id":1}}}}'))).toMatch(/__proto__.*not allowed/);
    expect(compileError(fromJson('{"select":{"from":"things","where":{"id":{"__proto__":1}}}}'))).toMatch(/__proto__.*not allowed/);
    expect(compileError(fromJson('{"select":{"from":"things","where":{"constructor":1}}}'))).toMatch(/not allowed/);
    expect(compileError(fromJson('{"__proto__":{},"select":{"from":"things"}}'))).toMatch(/^INVALID_QUERY/);
    expect(compileError({ select: { from: "__proto__" } })).toMatch(/unknown table/);
    expect(compileError({ select: { from: "things", columns: ["constructor"] } })).toMatch(/unknown column/);
  });

  it("rejects nesting deeper than the limit", () => {
    let where: Record<string, unknown> = { id: "x" };
    for (let i = 0; i < 6; i++) where = { $and: [where] };
    expect(compileError({ select: { from: "things", where } })).toMatch(/deeper than 4 levels/);
  });
});

describe("db()", () => {
  it("runs the issue's example through POST /execute against the seeded table", async () => {
    const result = await execute({ code: DB_EXAMPLE });
    expect(result.success).toBe(true);
    expect(result.logs.map((l) => l.message)).toEqual(["Found 5 articles 5"]);
    expect(result.result).toEqual(expect.arrayContaining(["workers", "d1", "durable-objects"]));
  });

  it("runs the issue's example through RPC", async () => {
    const reply = await rpc("executeCode", DB_EXAMPLE);
    expect(reply.result?.logs.map((l) => l.message)).toEqual(["Found 5 articles 5"]);
  });

  it("returns data parsed and filters on JSON paths", async () => {
    const result = await execute({
      code: `const r = await db({ select: { from: 'things', columns: ['id', 'data'], where: { ns: 'wiki', 'data.views': { $gte: 900 } }, orderBy: { column: 'data.views', direction: 'desc' } } })
             return r.rows.map((row) => [row.id, row.data.title])`,
    });
    expect(result.result).toEqual([
      ["workers", "Cloudflare Workers"],
      ["workers-ai", "Workers AI"],
      ["durable-objects", "Durable Objects"],
    ]);
  });

  it("fails a bad query with INVALID_QUERY the code can catch", async () => {
    const result = await execute({
      code: "try { await db({ select: { from: 'executions' } }) } catch (e) { return [e.name, e.code, e.message] }",
    });
    expect(result.result).toEqual(["CapabilityError", "INVALID_QUERY", 'db(): unknown table "executions"; tables: things']);
  });

  it("never reaches the executions database or sqlite internals", async () => {
    const { results } = await env.DATA_DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'executions'").all();
    expect(results).toEqual([]);
  });

  it("forwards the validated query to a DB service binding when the deployment has one", async () => {
    const received: unknown[] = [];
    const service = { query: async (query: unknown) => (received.push(query), { rows: [{ id: "remote" }] }) };
    const props = { executionId: crypto.randomUUID(), deadlineAt: Date.now() + 5_000 };
    const note = { target: "", requestBytes: 0, responseBytes: 0 };
    const query = { select: { from: "things", where: { ns: "wiki" } } };
    expect(await runQuery({ ...env, DB: service } as Env, props, query, note)).toEqual({ rows: [{ id: "remote" }], rowCount: 1 });
    expect(received).toEqual([{ select: { from: "things", where: { ns: "wiki" }, limit: 100, offset: 0 } }]);
    const bad = await runQuery({ ...env, DB: service } as Env, props, { select: { from: "executions" } }, note).catch((e: unknown) => e);
    expect((bad as CapabilityFailure).code).toBe("INVALID_QUERY");
    expect(received).toHaveLength(1);
  });

  it("records the compiled SQL, not the values, in the audit trail", async () => {
    const result = await execute({ code: "await db({ select: { from: 'things', where: { id: 'private-value' } } })" });
    const [call] = await waitForCalls(result.executionId, 1);
    expect(call).toMatchObject({ kind: "db", outcome: "ok", target: 'SELECT "ns", "type", "id", "data", "created_at", "updated_at" FROM "things" WHERE "id" = ? LIMIT ? OFFSET ?' });
  });
});

/** Runs a query against the real embedded D1 and says how it ended: rows, or the capability's code and message. */
async function runEmbedded(query: unknown): Promise<{ rows: number } | { code: string; message: string }> {
  const props = { executionId: crypto.randomUUID(), deadlineAt: Date.now() + 10_000 };
  const note = { target: "", requestBytes: 0, responseBytes: 0 };
  try {
    return { rows: (await runQuery(env, props, query, note)).rowCount };
  } catch (error) {
    if (error instanceof CapabilityFailure) return { code: error.code, message: error.message };
    throw error;
  }
}

const ids = (count: number) => Array.from({ length: count }, (_, i) => `id-${i}`);
const jsonPathConditions = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`data.f${i}`, { $ne: i }]));

describe("db() within the database's limits", () => {
  it("runs $in with the documented maximum of values in D1", async () => {
    expect(await runEmbedded({ select: { from: "things", where: { id: { $in: [...ids(MAX_DB_IN_ITEMS - 1), "workers"] } } } })).toEqual({ rows: 1 });
  });

  it("runs a query that needs exactly 100 bound parameters and refuses 101 up front, naming the limit", async () => {
    const exact = { select: { from: "things", where: { ns: "wiki", id: { $in: ids(MAX_DB_BOUND_PARAMETERS - 3) } } } };
    expect(compileQuery(exact).compiled.params).toHaveLength(MAX_DB_BOUND_PARAMETERS);
    expect(await runEmbedded(exact)).toEqual({ rows: 0 });
    const over = { select: { from: "things", where: { ns: "wiki", id: { $in: ids(MAX_DB_IN_ITEMS) } } } };
    expect(await runEmbedded(over)).toEqual({
      code: "INVALID_QUERY",
      message: expect.stringMatching(/needs 101 bound parameters; the database allows 100 \(one per value, per \$in\/\$nin item and per JSON path, plus 2 for limit and offset\)/),
    });
  });

  it("counts JSON paths in where and orderBy, and never lets a query fail in the database for its size", async () => {
    // Every count of JSON-path conditions the schema allows either runs in D1 or is refused with INVALID_QUERY.
    for (let count = 1; count <= MAX_DB_CONDITIONS; count++) {
      const outcome = await runEmbedded({ select: { from: "things", where: jsonPathConditions(count), orderBy: "data.views" } });
      const params = 2 * count + 1 + 2;
      if (params <= MAX_DB_BOUND_PARAMETERS) expect(outcome, `${count} conditions`).toHaveProperty("rows");
      else expect(outcome, `${count} conditions`).toMatchObject({ code: "INVALID_QUERY", message: expect.stringContaining(`needs ${params} bound parameters`) });
    }
    for (let inItems = MAX_DB_IN_ITEMS - 4; inItems <= MAX_DB_IN_ITEMS; inItems++) {
      for (let extra = 0; extra <= 3; extra++) {
        const where = { id: { $nin: ids(inItems) }, ...Object.fromEntries(["ns", "type", "created_at"].slice(0, extra).map((name) => [name, { $ne: "x" }])) };
        const outcome = await runEmbedded({ select: { from: "things", where } });
        expect("code" in outcome ? outcome.code : "ran", `${inItems} + ${extra}`).toBe(inItems + extra + 2 <= MAX_DB_BOUND_PARAMETERS ? "ran" : "INVALID_QUERY");
      }
    }
  });

  it("runs $like patterns up to 50 bytes and refuses longer ones up front, in bytes of UTF-8", async () => {
    const cases: [string, "ran" | "refused"][] = [
      ["%".repeat(MAX_DB_LIKE_PATTERN_BYTES), "ran"],
      [Array.from({ length: 25 }, () => "a").join("%") + "%", "ran"],
      [Array.from({ length: 26 }, () => "a").join("%"), "refused"],
      ["w%".repeat(25) + "x", "refused"],
      ["é".repeat(MAX_DB_LIKE_PATTERN_BYTES / 2), "ran"],
      ["é".repeat(MAX_DB_LIKE_PATTERN_BYTES / 2) + "%", "refused"],
    ];
    for (const [pattern, expected] of cases) {
      const outcome = await runEmbedded({ select: { from: "things", where: { id: { $like: pattern } } } });
      if (expected === "ran") expect(outcome, pattern).toHaveProperty("rows");
      else {
        expect(outcome, pattern).toMatchObject({ code: "INVALID_QUERY", message: expect.stringContaining(`at most ${MAX_DB_LIKE_PATTERN_BYTES} bytes`) });
      }
    }
  });

  it("treats an empty condition inside $or as match-all, like an empty where", async () => {
    const all = await runEmbedded({ select: { from: "things" } });
    expect(all).toMatchObject({ rows: expect.any(Number) });
    expect((all as { rows: number }).rows).toBeGreaterThan(5);
    for (const where of [{}, { $or: [{}, { ns: "x" }] }, { $or: [{ ns: "x" }, {}] }, { $or: [{ $and: [{}] }, { ns: "x" }] }, { $and: [{}] }]) {
      expect(await runEmbedded({ select: { from: "things", where } }), JSON.stringify(where)).toEqual(all);
    }
    // The $or's parameters go with it: nothing stray is bound.
    expect(compileQuery({ select: { from: "things", where: { type: "Article", $or: [{}, { ns: "x" }] } } }).compiled).toMatchObject({
      sql: 'SELECT "ns", "type", "id", "data", "created_at", "updated_at" FROM "things" WHERE "type" = ? LIMIT ? OFFSET ?',
      params: ["Article", 100, 0],
    });
    // A bad item in a match-all $or is still refused.
    expect(compileError({ select: { from: "things", where: { $or: [{}, { nope: 1 }] } } })).toMatch(/unknown column "nope"/);
  });

  it("answers an oversized query inside the sandbox with INVALID_QUERY, not UPSTREAM_ERROR", async () => {
    const result = await execute({
      code: "try { await db({ select: { from: 'things', where: { ns: 'wiki', id: { $in: Array.from({ length: 98 }, (_, i) => 'x' + i) } } } }) } catch (e) { return e.code }",
    });
    expect(result.result).toBe("INVALID_QUERY");
  });
});

import { WorkerEntrypoint } from "cloudflare:workers";
import * as v from "valibot";
import { handleCall, remainingMs, withinMs, type CallNote, type CapabilityProps } from "./capability-call";
import { compileQuery, type CompiledQuery, type DbQuery } from "./db-query";
import * as limits from "./limits";
import { CapabilityFailure, type Reply } from "./reply";

export type DbProps = CapabilityProps;

export interface DbResult {
  rows: Record<string, unknown>[];
  rowCount: number;
}

/** A deployment's own data service, bound as `DB`, answering the same DSL. Its answer is checked like any input. */
export interface DbService {
  query(query: DbQuery): Promise<unknown>;
}

const ServiceResultSchema = v.object({ rows: v.array(v.record(v.string(), v.unknown())), rowCount: v.optional(v.number()) });

/** db(query): the JSON DSL in db-query.ts, compiled to one parameterized, read-only statement. */
export class DbCapability extends WorkerEntrypoint<Env, DbProps> {
  async query(query: unknown): Promise<Reply<DbResult>> {
    return handleCall({ ctx: this.ctx, env: this.env, kind: "db", maxCalls: limits.MAX_DB_QUERIES_PER_EXECUTION }, (props, note) =>
      runQuery(this.env, props, query, note),
    );
  }
}

export async function runQuery(env: Env, props: DbProps, input: unknown, note: CallNote): Promise<DbResult> {
  note.target = "(invalid query)";
  const { query, compiled } = compileQuery(input);
  note.target = compiled.sql;
  const timeoutMs = remainingMs(props.deadlineAt, Number.POSITIVE_INFINITY);
  const result = env.DB
    ? await withinMs(forward(env.DB, query), timeoutMs, "the DB service")
    : await withinMs(runEmbedded(env.DATA_DB, compiled), timeoutMs, "the database");
  const size = JSON.stringify(result.rows).length;
  note.responseBytes = size;
  if (size > limits.MAX_DB_RESULT_BYTES) {
    throw new CapabilityFailure("SIZE_LIMIT_EXCEEDED", `the result is over ${limits.MAX_DB_RESULT_BYTES} bytes; select fewer columns or rows`);
  }
  return result;
}

async function runEmbedded(db: D1Database, compiled: CompiledQuery): Promise<DbResult> {
  let results: Record<string, unknown>[];
  try {
    ({ results } = await db
      .prepare(compiled.sql)
      .bind(...compiled.params)
      .all<Record<string, unknown>>());
  } catch (error) {
    console.error("db(): query failed", { sql: compiled.sql }, error);
    throw new CapabilityFailure("UPSTREAM_ERROR", "the database could not run the query");
  }
  const rows = results.map((row) => {
    for (const name of compiled.jsonColumns) {
      const text = row[name];
      if (typeof text === "string") row[name] = JSON.parse(text);
    }
    return row;
  });
  return { rows, rowCount: rows.length };
}

async function forward(service: DbService, query: DbQuery): Promise<DbResult> {
  let answer: unknown;
  try {
    answer = await service.query(query);
  } catch (error) {
    console.error("db(): the DB service failed", error);
    throw new CapabilityFailure("UPSTREAM_ERROR", "the DB service could not run the query");
  }
  const parsed = v.safeParse(ServiceResultSchema, answer);
  if (!parsed.success) throw new CapabilityFailure("UPSTREAM_ERROR", "the DB service answered with an unexpected shape");
  return { rows: parsed.output.rows, rowCount: parsed.output.rowCount ?? parsed.output.rows.length };
}

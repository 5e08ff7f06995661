import * as v from "valibot";
import * as limits from "./limits";
import { CapabilityFailure, parseArgument } from "./reply";

// db()'s JSON query DSL and its compiler to one parameterized SQL statement. Identifiers in the SQL come only from
// the constant table below, never from the query; every value is a bound parameter. Read-only by design: the
// embedded table is shared by every execution and caller, with no per-tenant scoping, so a write from one run
// would be visible to (and could clobber) every other. Writes wait for a policy that can scope them.

interface TableSpec {
  sqlName: string;
  /** Query name -> SQL identifier; both ours. */
  columns: ReadonlyMap<string, string>;
  /** Columns holding JSON text: returned parsed, and addressable as `data.path.to.field` in where/orderBy. */
  jsonColumns: ReadonlySet<string>;
}

// Keep in sync with migrations/data/. A Map, not an object literal, so that `__proto__` or `constructor` can never
// resolve to anything.
const TABLES: ReadonlyMap<string, TableSpec> = new Map([
  [
    "things",
    {
      sqlName: '"things"',
      columns: new Map(["ns", "type", "id", "data", "created_at", "updated_at"].map((name) => [name, `"${name}"`])),
      jsonColumns: new Set(["data"]),
    },
  ],
]);

const COMPARISONS = new Map([
  ["$eq", "="],
  ["$ne", "!="],
  ["$gt", ">"],
  ["$gte", ">="],
  ["$lt", "<"],
  ["$lte", "<="],
  ["$like", "LIKE"],
]);
const OPERATORS = [...COMPARISONS.keys(), "$in", "$nin"];
const JSON_PATH_SEGMENT = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_JSON_PATH_SEGMENTS = 8;
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

const OrderItemSchema = v.union(
  [
    v.string(),
    v.strictObject({ column: v.string(), direction: v.optional(v.picklist(["asc", "desc"], "direction must be asc or desc"), "asc") }),
  ],
  "orderBy entries must be a column name or { column, direction }",
);

const SelectSchema = v.strictObject(
  {
    from: v.string("from must be a table name"),
    columns: v.optional(v.pipe(v.array(v.string("columns must be names")), v.nonEmpty("columns must not be empty"), v.maxLength(20))),
    where: v.optional(v.unknown()),
    orderBy: v.optional(v.union([OrderItemSchema, v.pipe(v.array(OrderItemSchema), v.maxLength(3, "at most 3 orderBy entries"))])),
    limit: v.optional(
      v.pipe(
        v.number("limit must be a number"),
        v.integer("limit must be a whole number"),
        v.minValue(1, "limit must be at least 1"),
        v.maxValue(limits.MAX_DB_LIMIT, `limit must be at most ${limits.MAX_DB_LIMIT}`),
      ),
      limits.DEFAULT_DB_LIMIT,
    ),
    offset: v.optional(
      v.pipe(
        v.number("offset must be a number"),
        v.integer("offset must be a whole number"),
        v.minValue(0, "offset must not be negative"),
        v.maxValue(limits.MAX_DB_OFFSET, `offset must be at most ${limits.MAX_DB_OFFSET}`),
      ),
      0,
    ),
  },
  (issue) => `unknown select field ${String(issue.received)}; expected from, columns, where, orderBy, limit, offset`,
);

export const DbQuerySchema = v.strictObject(
  { select: SelectSchema },
  (issue) => `unknown query kind ${String(issue.received)}; db() is read-only and supports { select }`,
);
export type DbQuery = v.InferOutput<typeof DbQuerySchema>;

type SqlValue = string | number | null;

export interface CompiledQuery {
  sql: string;
  params: SqlValue[];
  table: string;
  jsonColumns: readonly string[];
}

/** Validates a query from the sandbox and compiles it; fails with INVALID_QUERY naming the problem. */
export function compileQuery(input: unknown): { query: DbQuery; compiled: CompiledQuery } {
  if (typeof input !== "object" || input === null) invalid("the query must be an object such as { select: { from: 'things' } }");
  const query = parseArgument(DbQuerySchema, input, "query", "INVALID_QUERY");
  const select = query.select;
  const table = TABLES.get(select.from);
  if (!table) invalid(`unknown table ${JSON.stringify(select.from)}; tables: ${[...TABLES.keys()].join(", ")}`);

  const params: SqlValue[] = [];
  const columns = select.columns ?? [...table.columns.keys()];
  const columnSql = columns.map((name) => column(table, select.from, name, "columns"));

  let sql = `SELECT ${columnSql.join(", ")} FROM ${table.sqlName}`;
  if (select.where !== undefined) {
    const state = { params, conditions: 0 };
    const where = compileWhere(select.where, table, select.from, state, "where", 0);
    if (where) sql += ` WHERE ${where}`;
  }
  if (select.orderBy !== undefined) {
    const items = Array.isArray(select.orderBy) ? select.orderBy : [select.orderBy];
    const order = items.map((item, index) => {
      const { name, direction } = typeof item === "string" ? { name: item, direction: "asc" } : { name: item.column, direction: item.direction };
      return `${field(table, select.from, name, params, `orderBy[${index}]`)} ${direction === "desc" ? "DESC" : "ASC"}`;
    });
    sql += ` ORDER BY ${order.join(", ")}`;
  }
  sql += " LIMIT ? OFFSET ?";
  params.push(select.limit, select.offset);
  // Refused here with the reason, rather than by the database with an opaque UPSTREAM_ERROR.
  if (params.length > limits.MAX_DB_BOUND_PARAMETERS) {
    invalid(
      `the query needs ${params.length} bound parameters; the database allows ${limits.MAX_DB_BOUND_PARAMETERS} (one per value, per $in/$nin item and per JSON path, plus 2 for limit and offset)`,
    );
  }
  return { query, compiled: { sql, params, table: select.from, jsonColumns: columns.filter((c) => table.jsonColumns.has(c)) } };
}

function invalid(message: string): never {
  throw new CapabilityFailure("INVALID_QUERY", message);
}

function column(table: TableSpec, tableName: string, name: string, at: string): string {
  const sql = table.columns.get(name);
  if (sql === undefined) {
    invalid(`${at}: unknown column ${JSON.stringify(name)} in ${tableName}; columns: ${[...table.columns.keys()].join(", ")}`);
  }
  return sql;
}

/** A column, or a path into a JSON column (`data.title`) compiled to json_extract with the path bound. */
function field(table: TableSpec, tableName: string, name: string, params: SqlValue[], at: string): string {
  const dot = name.indexOf(".");
  if (dot === -1) return column(table, tableName, name, at);
  const base = name.slice(0, dot);
  const segments = name.slice(dot + 1).split(".");
  if (!table.jsonColumns.has(base)) invalid(`${at}: ${JSON.stringify(name)}: only JSON columns (${[...table.jsonColumns].join(", ")}) have paths`);
  if (segments.length > MAX_JSON_PATH_SEGMENTS || !segments.every((s) => JSON_PATH_SEGMENT.test(s))) {
    invalid(`${at}: ${JSON.stringify(name)} is not a valid path (letters, digits and _, at most ${MAX_JSON_PATH_SEGMENTS} levels)`);
  }
  params.push(`$.${segments.join(".")}`);
  return `json_extract(${column(table, tableName, base, at)}, ?)`;
}

interface WhereState {
  params: SqlValue[];
  conditions: number;
}

function compileWhere(node: unknown, table: TableSpec, tableName: string, state: WhereState, at: string, depth: number): string {
  if (depth > limits.MAX_DB_WHERE_DEPTH) invalid(`${at}: conditions nest deeper than ${limits.MAX_DB_WHERE_DEPTH} levels`);
  if (!isPlainObject(node)) invalid(`${at} must be an object of conditions`);
  const parts: string[] = [];
  for (const [key, value] of Object.entries(node)) {
    const path = `${at}.${key}`;
    if (FORBIDDEN_KEYS.has(key)) invalid(`${path}: key ${JSON.stringify(key)} is not allowed`);
    if (key === "$and" || key === "$or") {
      if (!Array.isArray(value) || value.length === 0 || value.length > limits.MAX_DB_CONDITIONS) {
        invalid(`${path} must be a non-empty array of at most ${limits.MAX_DB_CONDITIONS} condition objects`);
      }
      const paramsBefore = state.params.length;
      const inner = value.map((item, index) => compileWhere(item, table, tableName, state, `${path}[${index}]`, depth + 1));
      // An empty condition matches every row, as an empty where does: it drops out of $and and makes the whole
      // $or true. Every item is still compiled above, so a bad one is refused either way.
      if (key === "$or" && inner.includes("")) {
        state.params.length = paramsBefore;
        continue;
      }
      const joined = inner.filter(Boolean).join(key === "$and" ? " AND " : " OR ");
      if (joined) parts.push(`(${joined})`);
      continue;
    }
    if (key.startsWith("$")) invalid(`${path}: unknown operator ${key}; use $and/$or here, or ${OPERATORS.join(", ")} on a column`);
    const target = field(table, tableName, key, state.params, path);
    parts.push(compileCondition(target, value, state, path));
  }
  return parts.join(" AND ");
}

function compileCondition(target: string, value: unknown, state: WhereState, at: string): string {
  if (++state.conditions > limits.MAX_DB_CONDITIONS) invalid(`${at}: more than ${limits.MAX_DB_CONDITIONS} conditions`);
  if (value === null) return `${target} IS NULL`;
  if (Array.isArray(value)) invalid(`${at}: an array is not a value; use { $in: [...] }`);
  if (!isPlainObject(value)) {
    state.params.push(primitive(value, at));
    return `${target} = ?`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) invalid(`${at}: empty operator object`);
  return entries
    .map(([operator, operand]) => {
      const path = `${at}.${operator}`;
      if (FORBIDDEN_KEYS.has(operator)) invalid(`${path}: key ${JSON.stringify(operator)} is not allowed`);
      if (operator === "$in" || operator === "$nin") {
        if (!Array.isArray(operand) || operand.length === 0 || operand.length > limits.MAX_DB_IN_ITEMS) {
          invalid(`${path} must be a non-empty array of at most ${limits.MAX_DB_IN_ITEMS} values`);
        }
        for (const [index, item] of operand.entries()) state.params.push(primitive(item, `${path}[${index}]`));
        return `${target} ${operator === "$in" ? "IN" : "NOT IN"} (${operand.map(() => "?").join(", ")})`;
      }
      const sqlOperator = COMPARISONS.get(operator);
      if (sqlOperator === undefined) {
        invalid(`${path}: unknown operator ${JSON.stringify(operator)}; operators: ${OPERATORS.join(", ")}`);
      }
      if (operand === null && (operator === "$eq" || operator === "$ne")) return `${target} IS ${operator === "$ne" ? "NOT " : ""}NULL`;
      if (operator === "$like") {
        if (typeof operand !== "string") invalid(`${path} must be a string pattern`);
        const patternBytes = new TextEncoder().encode(operand).byteLength;
        if (patternBytes > limits.MAX_DB_LIKE_PATTERN_BYTES) {
          invalid(`${path}: the pattern is ${patternBytes} bytes; the database allows LIKE patterns of at most ${limits.MAX_DB_LIKE_PATTERN_BYTES} bytes (UTF-8)`);
        }
      }
      state.params.push(primitive(operand, path));
      return `${target} ${sqlOperator} ?`;
    })
    .join(" AND ");
}

function primitive(value: unknown, at: string): string | number {
  if (typeof value === "string") {
    if (value.length > limits.MAX_DB_STRING_CHARS) invalid(`${at}: strings are limited to ${limits.MAX_DB_STRING_CHARS} characters`);
    return value;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) invalid(`${at}: numbers must be finite`);
    return value;
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  return invalid(`${at}: values must be strings, finite numbers, booleans or null, not ${describeType(value)}`);
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

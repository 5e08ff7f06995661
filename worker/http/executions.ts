import { ListExecutionsQuerySchema } from "../../schemas/history";
import { getExecution, listExecutions } from "../history/queries";
import { parseInput } from "../parse";
import type { Authenticated } from "./auth";

export async function handleGetExecution(id: string, env: Env, auth: Authenticated): Promise<Response> {
  return Response.json(await getExecution(env.EXECUTIONS_DB, id, auth.viewer));
}

export async function handleListExecutions(request: Request, env: Env, auth: Authenticated): Promise<Response> {
  const options = parseInput(ListExecutionsQuerySchema, queryObject(new URL(request.url).searchParams));
  return Response.json(await listExecutions(env.EXECUTIONS_DB, options, auth.viewer));
}

/** A repeated parameter becomes an array, which the schema rejects, instead of one value silently winning. */
function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    query[key] = values.length === 1 ? values[0]! : values;
  }
  return query;
}

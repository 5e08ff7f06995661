import type { ExecutionRecord, ListExecutionsOptions, ListExecutionsResponse } from "../../schemas/history";
import { findExecution, listExecutionSummaries, type Viewer } from "./executions-store";
import { sweepOrphans } from "./orphans";

// The reads behind GET /executions and the RPC getExecution/listExecutions. Each sweeps orphans first, so no
// reader ever sees a row still `running` past its deadline.

export async function getExecution(db: D1Database, id: string, viewer: Viewer): Promise<ExecutionRecord | undefined> {
  await sweepOrphans(db);
  return findExecution(db, id, viewer);
}

export async function listExecutions(db: D1Database, options: ListExecutionsOptions, viewer: Viewer): Promise<ListExecutionsResponse> {
  await sweepOrphans(db);
  const { executions, total } = await listExecutionSummaries(db, options, viewer);
  return { executions, total, limit: options.limit, offset: options.offset };
}

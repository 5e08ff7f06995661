import type { ExecutionRecord, ListExecutionsOptions, ListExecutionsResponse } from "../../schemas/history";
import { ErrorCode, ServiceError } from "../errors";
import { findExecution, listExecutionSummaries, type Viewer } from "./executions-store";
import { sweepOrphans } from "./orphans";

// The reads behind GET /executions and the RPC getExecution/listExecutions. Each sweeps orphans first, so no
// reader ever sees a row still `running` past its deadline.

/** Another viewer's execution answers exactly like a missing one: its existence is private too. */
export async function getExecution(db: D1Database, id: string, viewer: Viewer): Promise<ExecutionRecord> {
  await sweepOrphans(db);
  const record = await findExecution(db, id, viewer);
  if (!record) throw new ServiceError(ErrorCode.NOT_FOUND, `No execution with id ${JSON.stringify(id)}`);
  return record;
}

export async function listExecutions(db: D1Database, options: ListExecutionsOptions, viewer: Viewer): Promise<ListExecutionsResponse> {
  await sweepOrphans(db);
  const { executions, total } = await listExecutionSummaries(db, options, viewer);
  return { executions, total, limit: options.limit, offset: options.offset };
}

import * as v from "valibot";
import { sweepOrphans } from "./orphans";

export const DEFAULT_RETENTION_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows deleted per statement: keeps each DELETE well inside D1's per-query time limit on a large backlog. */
const PURGE_BATCH_ROWS = 1_000;

const RetentionDaysSchema = v.optional(
  v.pipe(
    v.string(),
    v.regex(/^\d{1,5}$/, "RETENTION_DAYS must be a whole number of days"),
    v.transform(Number),
    v.minValue(1, "RETENTION_DAYS must be at least 1"),
  ),
  String(DEFAULT_RETENTION_DAYS),
);

/**
 * Reads RETENTION_DAYS. A malformed value throws instead of falling back to the default: deleting history on a
 * guessed schedule is worse than not deleting it, and the failed cron run shows up in the logs.
 */
export function retentionDays(raw: string | undefined): number {
  const parsed = v.safeParse(RetentionDaysSchema, raw);
  if (!parsed.success) throw new Error(`Invalid RETENTION_DAYS ${JSON.stringify(raw)}: ${parsed.issues[0].message}`);
  return parsed.output;
}

export interface PurgeOutcome {
  cutoff: string;
  executions: number;
  capabilityCalls: number;
}

/** Deletes executions created before now - days, and capability calls made before then. */
export async function purgeExpired(db: D1Database, days: number, nowMs: number): Promise<PurgeOutcome> {
  const cutoffMs = nowMs - days * DAY_MS;
  const executions = await deleteInBatches(
    db.prepare(`DELETE FROM executions WHERE id IN (SELECT id FROM executions WHERE created_at < ? LIMIT ?)`).bind(cutoffMs, PURGE_BATCH_ROWS),
  );
  const capabilityCalls = await deleteInBatches(
    db
      .prepare(`DELETE FROM capability_calls WHERE id IN (SELECT id FROM capability_calls WHERE started_at < ? LIMIT ?)`)
      .bind(cutoffMs, PURGE_BATCH_ROWS),
  );
  return { cutoff: new Date(cutoffMs).toISOString(), executions, capabilityCalls };
}

async function deleteInBatches(statement: D1PreparedStatement): Promise<number> {
  let total = 0;
  for (;;) {
    const { meta } = await statement.run();
    total += meta.changes;
    if (meta.changes < PURGE_BATCH_ROWS) return total;
  }
}

/** The daily cron: orphans first (so nothing old is left `running`), then everything past retention. */
export async function runRetention(env: Env, nowMs: number): Promise<PurgeOutcome & { aborted: number }> {
  const days = retentionDays(env.RETENTION_DAYS);
  const aborted = await sweepOrphans(env.EXECUTIONS_DB, nowMs);
  const purged = await purgeExpired(env.EXECUTIONS_DB, days, nowMs);
  console.log("history: retention", { days, aborted, ...purged });
  return { ...purged, aborted };
}

import { PARENT_GRACE_MS } from "../../schemas/limits";

/**
 * Extra time, past an execution's own timeout, before its `running` row counts as orphaned. The parent stops
 * waiting for the child at timeout + PARENT_GRACE_MS and then writes the outcome; this covers slow D1 writes on
 * top of that.
 */
export const ORPHAN_GRACE_MS = 30_000;

/** When a row started at startedAtMs with this timeout is certainly no longer being run by anyone. */
export function staleAfter(startedAtMs: number, timeoutMs: number): number {
  return startedAtMs + timeoutMs + PARENT_GRACE_MS + ORPHAN_GRACE_MS;
}

/**
 * Marks orphaned `running` rows `aborted`: ones whose process died (a crash, a redeploy, a restarted
 * `wrangler dev`) before it could write the outcome.
 *
 * Orphans are found by time, never by "rows from another process": in production many isolates in many places
 * write to the same database at once, and a row another live isolate is running is not an orphan. No execution
 * can legitimately still be running after its stale_after, so the rule is correct everywhere; the price is that
 * a row orphaned by a restart stays `running` until its deadline passes (at most MAX_TIMEOUT_MS + grace).
 *
 * Called before every history read (so no reader sees a row running past its deadline), once per isolate when
 * it first records an execution, and by the retention cron.
 */
export async function sweepOrphans(db: D1Database, nowMs: number = Date.now()): Promise<number> {
  const error = JSON.stringify({
    code: "SANDBOX_ERROR",
    name: "AbortedError",
    message: "The process running this execution stopped before it recorded an outcome; the result is lost",
  });
  const outcome = await db
    .prepare(
      `UPDATE executions SET status = 'aborted', success = 0, error_json = ?, logs_json = COALESCE(logs_json, '[]')
         WHERE status = 'running' AND stale_after < ?`,
    )
    .bind(error, nowMs)
    .run();
  return outcome.meta.changes;
}

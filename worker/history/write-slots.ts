/**
 * An optional cap on history writes in flight per isolate, set by the HISTORY_WRITES_IN_FLIGHT var. Local
 * `wrangler dev` (wrangler 4.124 / miniflare 5 alpha) loses its runtime connection when many D1 queries are in
 * flight at once: with ~100 concurrent executions its ProxyWorker answers 500 "Network connection lost." and
 * wrangler exits (cloudflare/workers-sdk#15451; reproduced with a Worker that only does two D1 writes per
 * request). The local scripts (npm run dev, load, bench, e2e) pass 4, which holds 100 clients; a deployment
 * leaves it unset, so production never queues.
 */
const WAIT_STEP_MS = 5;

let maxInFlight = Number.POSITIVE_INFINITY;
let inFlight = 0;

/** Reads the var (a positive integer; anything else means no cap). The value is per deployment, so per isolate. */
export function configureWriteSlots(raw: string | undefined): void {
  const parsed = Number(raw);
  maxInFlight = Number.isInteger(parsed) && parsed > 0 ? parsed : Number.POSITIVE_INFINITY;
}

/**
 * Runs one write when a slot is free. Waiters poll rather than queue: a promise created by one request and
 * resolved by another is unsafe in workerd (it cancels continuations of a request context that has ended), and
 * every waiter here belongs to a different request.
 */
export async function withWriteSlot<T>(write: () => Promise<T>): Promise<T> {
  while (inFlight >= maxInFlight) await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  inFlight++;
  try {
    return await write();
  } finally {
    inFlight--;
  }
}

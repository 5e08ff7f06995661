/**
 * At most this many history writes in flight per isolate. Local `wrangler dev` (wrangler 4.124 / miniflare 5
 * alpha) loses its runtime connection when many D1 queries are in flight at once: with ~100 concurrent executions
 * its ProxyWorker answers 500 "Network connection lost." and wrangler exits (cloudflare/workers-sdk#15451;
 * reproduced with a Worker that only does two D1 writes per request). With this limit `npm run load` holds 100
 * clients. In production it only queues writes past 4 concurrent ones per isolate, a few ms each.
 */
const MAX_WRITES_IN_FLIGHT = 4;
const WAIT_STEP_MS = 5;

let inFlight = 0;

/**
 * Runs one write when a slot is free. Waiters poll rather than queue: a promise created by one request and
 * resolved by another is unsafe in workerd (it cancels continuations of a request context that has ended), and
 * every waiter here belongs to a different request.
 */
export async function withWriteSlot<T>(write: () => Promise<T>): Promise<T> {
  while (inFlight >= MAX_WRITES_IN_FLIGHT) await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  inFlight++;
  try {
    return await write();
  } finally {
    inFlight--;
  }
}

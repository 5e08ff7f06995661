import { waitUntil } from "cloudflare:workers";
import { withWriteSlot } from "./write-slots";

// Group commit for the executions table: the history writes of concurrent executions in this isolate (running
// rows and outcomes alike) go to D1 together, as one `db.batch`, and each caller still awaits its own statement.
//
// Why: a D1 query has a fixed cost much larger than the work of one small INSERT or UPDATE. Locally it is ~1 ms
// of CPU on the thread every isolate shares (miniflare's D1 is a Durable Object in the same workerd process), and
// a batch of 4 statements costs about what one does (README, "Benchmarks"); in production it is a round trip
// to a database that runs one query at a time. At one execution at a time nothing changes: a write that finds
// no batch in flight is sent at once, alone, as `statement.run()`.
//
// How: one batch in flight per database. Writes that arrive while it is in flight collect into the next batch;
// the request whose write opened that batch sends it when the one ahead has settled, from its own request
// context, so the I/O belongs to a request that is waiting for it (and `waitUntil` keeps it alive if that
// client goes away). The other writers poll for their write's settlement, a plain field the sender sets; they
// never await a promise settled by another request: measured in this runtime, code resumed that way lost its own
// request's tracing span, and its next D1 call failed with "Cannot perform I/O on behalf of a different request"
// (the same reason worker/history/write-slots.ts polls). Polling costs a timer per POLL_MS per waiting write,
// and only under concurrency: a lone write is sent and awaited by its own request.
//
// A batch is one transaction: if it fails, nothing of it was written, and each of its callers then runs its own
// statement alone, so one bad row fails only its own execution's write, with its own error.

/** Statements per batch. D1 counts each against the sending invocation's query limit (1 000 on the paid plan). */
export const MAX_BATCH_STATEMENTS = 16;
/**
 * Characters bound into one batch, roughly (the caller's estimate of its statement). A history row is capped
 * under 1 MB, so a few large rows travel in separate batches rather than as one request of many megabytes.
 */
export const MAX_BATCH_CHARS = 1_000_000;
/**
 * How long a batch waits for the one ahead of it before it is sent anyway. Waiting is only an optimisation (an
 * execution's outcome is written after its running row has settled, so no order between batches is needed); a
 * batch stuck ahead (its request cancelled under it) must not hold up history for good.
 */
const TURN_WAIT_MS = 2_000;
/** How long a caller waits for its statement's batch before its write counts as failed (D1's own query limit is 30 s). */
const WRITE_DEADLINE_MS = 35_000;
/** How often a write waiting in another request's batch (or a batch waiting its turn) looks again. */
const POLL_MS = 1;

type Settlement = { ok: true } | { ok: false; error: unknown; retryAlone: boolean };

interface Write {
  statement: D1PreparedStatement;
  /** Set by the request that sent the write's batch. */
  settlement?: Settlement;
}

interface Batch {
  writes: Write[];
  chars: number;
}

interface Lane {
  /** Batches opened and not yet settled, oldest first: the first is in flight (or about to be). */
  queue: Batch[];
  /** The batch still taking writes (not sent yet), if any. */
  collecting?: Batch;
}

/** Per database binding; an isolate serves many requests, and their writes meet here. */
const lanes = new WeakMap<D1Database, Lane>();

/** What this isolate has sent, for tests and benchmarks: statements written, and the D1 calls that carried them. */
export const groupCommitStats = { statements: 0, calls: 0 };

/**
 * Writes one statement with whatever other history writes are waiting, and resolves when it is stored (rejects
 * with its own error if it could not be). `chars` estimates the data bound into it.
 */
export async function commitWrite(db: D1Database, statement: D1PreparedStatement, chars: number): Promise<void> {
  let lane = lanes.get(db);
  if (!lane) {
    lane = { queue: [] };
    lanes.set(db, lane);
  }
  const write: Write = { statement };
  const open = lane.collecting;
  if (open && open.writes.length < MAX_BATCH_STATEMENTS && open.chars + chars <= MAX_BATCH_CHARS) {
    open.writes.push(write);
    open.chars += chars;
    const settled = await pollUntil(() => write.settlement !== undefined, WRITE_DEADLINE_MS);
    if (!settled) throw new Error(`the history write did not complete within ${WRITE_DEADLINE_MS} ms`);
  } else {
    await sendBatch(db, lane, { writes: [write], chars });
  }
  const settlement = write.settlement!;
  if (settlement.ok) return;
  if (!settlement.retryAlone) throw settlement.error;
  await withWriteSlot(() => statement.run());
}

/** Runs in the request whose write opened the batch: it takes more writes until its turn comes, then sends it. */
async function sendBatch(db: D1Database, lane: Lane, batch: Batch): Promise<void> {
  lane.queue.push(batch);
  lane.collecting = batch;
  try {
    if (lane.queue[0] !== batch) {
      const onTime = await pollUntil(() => lane.queue[0] === batch, TURN_WAIT_MS);
      // The batches ahead never settled (their requests went away under them): they no longer hold the lane.
      if (!onTime) lane.queue.splice(0, lane.queue.indexOf(batch));
    } else {
      // Writes made in this same turn of the event loop join before it is sent.
      await Promise.resolve();
    }
    if (lane.collecting === batch) lane.collecting = undefined;
    const { writes } = batch;
    groupCommitStats.statements += writes.length;
    groupCommitStats.calls += 1;
    const sent = withWriteSlot<unknown>(() =>
      writes.length === 1 ? writes[0]!.statement.run() : db.batch(writes.map((write) => write.statement)),
    );
    try {
      waitUntil(sent.catch(() => {}));
    } catch {
      // No request context to extend (none is expected to lack one): the batch still runs, awaited below.
    }
    try {
      await sent;
      for (const write of writes) write.settlement = { ok: true };
    } catch (error) {
      for (const write of writes) write.settlement = { ok: false, error, retryAlone: writes.length > 1 };
    }
  } finally {
    if (lane.collecting === batch) lane.collecting = undefined;
    const index = lane.queue.indexOf(batch);
    if (index !== -1) lane.queue.splice(index, 1);
  }
}

/** Whether `done()` became true within `ms`, looking every POLL_MS (Date.now() advances with each timer). */
async function pollUntil(done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

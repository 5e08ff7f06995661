// @ts-check
// The child side of the log channel: the entries the harness's log buffer accepts leave the isolate in batches,
// as they are made, through the LOGS capability stub (worker/capabilities/logs.ts; keep in sync), so the front
// holds them even if this isolate never answers. The reply still carries every entry; the front merges by sequence
// number (worker/execution/execution-events.ts).
//
// Cost: nothing at all for a run that logs nothing or ends within LOG_FLUSH_DELAY_MS of its first entry (the
// pending batch is dropped at close(), the reply has it). Batches go one at a time, the first LOG_FLUSH_DELAY_MS
// after an entry and later ones after a gap that grows with the run's age (a twentieth of it), at most
// MAX_LOG_FLUSHES per run: whether these calls count against production's subRequests cannot be checked locally,
// so the parent raises the child's subRequests limit by MAX_LOG_FLUSHES (worker/execution/sandbox.ts).
// A synchronous loop holds its entries until it yields (timers and RPC only run then); the guard stopping it
// returns them with the reply.
//
// Also the run's cancellation: a cancel reaches the child as the harness's cancel() RPC or as `cancelled` in a
// batch's answer, whichever comes first; both call cancelRun().

// Keep in sync with schemas/limits.ts.
const LOG_FLUSH_DELAY_MS = 20;
const MAX_LOG_FLUSHES = 100;
const GAP_SHARE_OF_AGE = 1 / 20;

// Captured at module evaluation, before any user code exists: user code may patch any of these.
const now = Date.now;
const schedule = setTimeout;
const unschedule = clearTimeout;
const max = Math.max;
const call = Function.prototype.call;
const uncurry = /** @type {<T extends (...args: any[]) => any>(fn: T) => (self: unknown, ...args: Parameters<T>) => ReturnType<T>} */ (
  (fn) => call.bind(fn)
);
const arrayPush = uncurry(Array.prototype.push);
const arraySplice = uncurry(Array.prototype.splice);
const promiseThen = uncurry(Promise.prototype.then);

/** @typedef {{ level: string, message: string, timestamp: string }} LogEntry */
/** @typedef {{ append(firstSeq: number, entries: LogEntry[]): Promise<unknown> }} LogSink */

/**
 * An RPC call answers an RpcPromise, which Promise.prototype.then refuses as its receiver; awaiting it here
 * gives a real promise.
 * @param {LogSink} sink
 * @param {number} firstSeq
 * @param {LogEntry[]} batch
 */
async function send(sink, firstSeq, batch) {
  return await sink.append(firstSeq, batch);
}

/** @type {(() => void)[]} */
const cancelListeners = [];
let cancelled = false;

/** Cancels the run in this isolate (one run per isolate): idempotent. */
export function cancelRun() {
  if (cancelled) return;
  cancelled = true;
  for (let index = 0; index < cancelListeners.length; index++) /** @type {() => void} */ (cancelListeners[index])();
}

/** @param {() => void} listener called once, at the cancel (at once if already cancelled) */
export function onCancel(listener) {
  if (cancelled) listener();
  else arrayPush(cancelListeners, listener);
}

/**
 * @param {LogSink | undefined} sink the LOGS stub; absent when console output is not captured
 * @param {number} startedAt epoch ms, the run's start
 */
export function createLogChannel(sink, startedAt) {
  /** @type {LogEntry[]} */
  const pending = [];
  let sentEntries = 0;
  let flushes = 0;
  let inFlight = false;
  let closed = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;

  const arm = () => {
    if (timer !== undefined || inFlight || closed || pending.length === 0) return;
    const gapMs = flushes === 0 ? LOG_FLUSH_DELAY_MS : max(LOG_FLUSH_DELAY_MS, (now() - startedAt) * GAP_SHARE_OF_AGE);
    timer = schedule(flush, gapMs);
  };

  const flush = () => {
    timer = undefined;
    if (!sink || closed || pending.length === 0 || flushes >= MAX_LOG_FLUSHES) return;
    const batch = arraySplice(pending, 0, pending.length);
    const firstSeq = sentEntries;
    sentEntries += batch.length;
    flushes++;
    inFlight = true;
    promiseThen(
      send(sink, firstSeq, batch),
      (/** @type {unknown} */ reply) => {
        inFlight = false;
        const answer = /** @type {{ ok?: unknown, value?: { held?: unknown, cancelled?: unknown } } | null} */ (reply);
        const value = answer && answer.ok === true ? answer.value : undefined;
        if (!value || value.held !== true) closed = true;
        if (value && value.cancelled === true) cancelRun();
        arm();
      },
      () => {
        // The front is gone or refused: stop sending; the reply still carries every entry.
        inFlight = false;
        closed = true;
      },
    );
  };

  return {
    /** @param {LogEntry} entry an entry the log buffer accepted (already capped and formatted) */
    accept(entry) {
      if (!sink || closed) return;
      arrayPush(pending, entry);
      arm();
    },
    /** At the end of the run: whatever is pending goes with the reply instead. */
    close() {
      closed = true;
      if (timer !== undefined) unschedule(timer);
      timer = undefined;
    },
  };
}

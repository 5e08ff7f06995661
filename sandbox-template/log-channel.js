// @ts-check
// The child side of the log channel: the entries the harness's log buffer accepts leave the isolate in batches,
// as they are made, through the LOGS capability stub (worker/capabilities/logs.ts; keep in sync), so the front
// holds them even if this isolate never answers. The reply still carries every entry; the front merges by sequence
// number (worker/execution/execution-events.ts).
//
// Protocol: LOGS.append(firstSeq, entriesJson) -> "held" | "cancelled" | "refused". entriesJson is the JSON text of
// the batch's entries (the log buffer's own text, so no array or object is built here), firstSeq the index of its
// first entry in the run's log. The answer is a string so that receiving it resolves no promise with an object
// (Object.prototype.then would be looked up): "refused" means send no more (the front does not hold this run, or
// has had MAX_LOG_FLUSHES batches), "cancelled" that the run is cancelled.
//
// Cost: nothing at all for a run that logs nothing or ends within LOG_FLUSH_DELAY_MS of its first entry (the
// pending batch is dropped at close(), the reply has it). Batches go one at a time, the first LOG_FLUSH_DELAY_MS
// after an entry and later ones after a gap that grows with the run's age (a twentieth of it), at most
// MAX_LOG_FLUSHES per run: whether these calls count against production's subRequests cannot be checked locally,
// so the parent raises the child's subRequests limit by MAX_LOG_FLUSHES (worker/execution/sandbox.ts).
// A synchronous loop holds its entries until it yields (timers and RPC only run then); the guard stopping it
// returns them with the reply.
//
// Also the run's cancellation: a cancel reaches the child as the harness's cancel() RPC or as "cancelled" in a
// batch's answer, whichever comes first; both call cancelRun(). Runs on the harness's side of the realm: the
// rules of primordials.js apply.

import { DateNow, MathMax, setTimeoutSafe, clearTimeoutSafe } from "./primordials.js";

// Keep in sync with schemas/limits.ts.
const LOG_FLUSH_DELAY_MS = 20;
const MAX_LOG_FLUSHES = 100;
const GAP_SHARE_OF_AGE = 1 / 20;

/** @typedef {{ append(firstSeq: number, entriesJson: string): { then(onAnswer: (answer: unknown) => void, onError: () => void): unknown } }} LogSink */

// One run per isolate, so one cancellation: a flag and at most one listener (the run's).
let cancelled = false;
/** @type {(() => void) | undefined} */
let cancelListener;

/** Cancels the run in this isolate: idempotent. */
export function cancelRun() {
  if (cancelled) return;
  cancelled = true;
  if (cancelListener !== undefined) cancelListener();
}

/** @param {() => void} listener called once, at the cancel (at once if already cancelled) */
export function onCancel(listener) {
  cancelListener = listener;
  if (cancelled) listener();
}

/**
 * @param {LogSink | undefined} sink the LOGS stub; absent when console output is not captured
 * @param {number} startedAt epoch ms, the run's start
 */
export function createLogChannel(sink, startedAt) {
  let pendingJson = "";
  let pendingCount = 0;
  let sentEntries = 0;
  let flushes = 0;
  let inFlight = false;
  let closed = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;

  const arm = () => {
    if (timer !== undefined || inFlight || closed || pendingCount === 0) return;
    const gapMs = flushes === 0 ? LOG_FLUSH_DELAY_MS : MathMax(LOG_FLUSH_DELAY_MS, (DateNow() - startedAt) * GAP_SHARE_OF_AGE);
    timer = setTimeoutSafe(flush, gapMs);
  };

  /** @param {unknown} answer */
  const onAnswer = (answer) => {
    inFlight = false;
    if (answer !== "held" && answer !== "cancelled") closed = true;
    if (answer === "cancelled") cancelRun();
    arm();
  };
  const onError = () => {
    // The front is gone: send no more; the reply still carries every entry.
    inFlight = false;
    closed = true;
  };

  const flush = () => {
    timer = undefined;
    if (sink === undefined || closed || pendingCount === 0 || flushes >= MAX_LOG_FLUSHES) return;
    const batch = `[${pendingJson}]`;
    const firstSeq = sentEntries;
    sentEntries += pendingCount;
    pendingJson = "";
    pendingCount = 0;
    flushes++;
    inFlight = true;
    try {
      // The stub's answer is an RpcPromise, which user code never holds, so its `then` is the runtime's.
      sink.append(firstSeq, batch).then(onAnswer, onError);
    } catch {
      onError();
    }
  };

  return {
    __proto__: null,
    /** @param {string} entryJson the JSON text of one entry the log buffer accepted (already capped) */
    accept(entryJson) {
      if (sink === undefined || closed) return;
      pendingJson += pendingCount === 0 ? entryJson : `,${entryJson}`;
      pendingCount++;
      arm();
    },
    /** At the end of the run: whatever is pending goes with the reply instead. */
    close() {
      closed = true;
      if (timer !== undefined) clearTimeoutSafe(timer);
      timer = undefined;
    },
  };
}

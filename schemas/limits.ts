// Limits shared by the schemas, the pipeline, the sandbox harness and the docs. Keep in sync with the
// constants at the top of sandbox-template/harness.js (the child cannot import from here).

export const MAX_CODE_BYTES = 100 * 1024;
/** A multi-file program: at most this many files, whose contents together stay within MAX_CODE_BYTES. */
export const MAX_FILES = 50;
export const MAX_FILE_PATH_CHARS = 200;
export const MAX_FILE_PATH_SEGMENTS = 8;
/** The whole JSON request body: code plus context plus config, with room for JSON escaping. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
export const MAX_CONTEXT_BYTES = 256 * 1024;

export const DEFAULT_TIMEOUT_MS = 30_000;
export const MIN_TIMEOUT_MS = 100;
export const MAX_TIMEOUT_MS = 120_000;

/**
 * Guard checks per millisecond the sandbox allows while the clock stands still. Production freezes Date.now()
 * during synchronous code, so there the count of checks stands in for time; locally the clock moves and trips
 * first. Measured here: instrumented tight loops make 360 000 - 600 000 checks per ms.
 */
export const GUARD_STEPS_PER_MS = 500_000;

/**
 * Python's guard runs in Pyodide's signal check, every ~50 eval-breaker ticks: measured 180 checks per ms in a
 * busy `for` loop and 3 000 - 5 500 in `while True: pass`. The count must use the high rate so fast loops stop.
 */
export const PYTHON_GUARD_STEPS_PER_MS = 6_000;

/** A Python child restores its memory snapshot before the user's code starts (~110 ms warm, more under load). */
export const PYTHON_STARTUP_ALLOWANCE_MS = 3_000;

/** Grace the parent gives the child after the timeout before declaring it unresponsive. */
export const PARENT_GRACE_MS = 400;

export const MAX_LOG_ENTRIES = 1_000;
export const MAX_LOG_MESSAGE_CHARS = 8 * 1024;
export const MAX_LOG_TOTAL_CHARS = 512 * 1024;

export const MAX_RESULT_CHARS = 1024 * 1024;
export const MAX_RESULT_DEPTH = 64;
export const MAX_RESULT_NODES = 100_000;

/** Production only: workerd enforces neither locally. */
export const SUBREQUEST_LIMIT = 50;

/**
 * The log channel (sandbox-template/log-channel.js -> worker/capabilities/logs.ts): the child sends the entries it
 * accepts in batches, the first LOG_FLUSH_DELAY_MS after an entry and later ones spaced by a growing gap, at most
 * MAX_LOG_FLUSHES per run; whatever is left goes with the reply. Keep in sync with sandbox-template/log-channel.js.
 */
export const LOG_FLUSH_DELAY_MS = 20;
export const MAX_LOG_FLUSHES = 100;

/** After a cancel the parent waits this long for the child's own "cancelled" reply (with its last logs). */
export const CANCEL_GRACE_MS = 100;

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

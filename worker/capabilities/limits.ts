// Capability limits, enforced parent-side and shown in GET /docs.

export const MAX_API_CALLS_PER_EXECUTION = 50;
export const MAX_DB_QUERIES_PER_EXECUTION = 100;
export const MAX_AI_CALLS_PER_EXECUTION = 10;

export const MAX_API_URL_CHARS = 2048;
export const MAX_API_HEADERS = 50;
export const MAX_API_HEADER_VALUE_CHARS = 8 * 1024;
export const MAX_API_REQUEST_BYTES = 1024 * 1024;
export const MAX_API_RESPONSE_BYTES = 2 * 1024 * 1024;
export const MAX_API_REDIRECTS = 5;
/** Even with time left in the execution, one api() call gives up after this. */
export const MAX_API_CALL_MS = 30_000;

export const DEFAULT_DB_LIMIT = 100;
export const MAX_DB_LIMIT = 1_000;
export const MAX_DB_OFFSET = 100_000;
export const MAX_DB_WHERE_DEPTH = 4;
export const MAX_DB_CONDITIONS = 50;
/**
 * D1 binds at most 100 parameters per statement ("too many SQL variables" past that). The compiler binds one per
 * value, per $in/$nin item and per JSON path, plus two for LIMIT and OFFSET, and refuses a query that needs more.
 */
export const MAX_DB_BOUND_PARAMETERS = 100;
/** So that a lone $in/$nin of the maximum size fits beside LIMIT and OFFSET. */
export const MAX_DB_IN_ITEMS = MAX_DB_BOUND_PARAMETERS - 2;
/** D1's SQLITE_LIMIT_LIKE_PATTERN_LENGTH: a longer pattern fails with "LIKE or GLOB pattern too complex". */
export const MAX_DB_LIKE_PATTERN_BYTES = 50;
export const MAX_DB_STRING_CHARS = 4 * 1024;
export const MAX_DB_RESULT_BYTES = 2 * 1024 * 1024;

export const MAX_AI_INPUT_BYTES = 64 * 1024;
export const MAX_AI_RESPONSE_BYTES = 1024 * 1024;
export const MAX_AI_CALL_MS = 60_000;

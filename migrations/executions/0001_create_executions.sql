-- Execution history and capability-call audit. worker/history/ is the only code that reads or writes these.
-- Times are epoch milliseconds. JSON columns are capped by the writer (worker/history/caps.ts) well under D1's
-- 1 MB value limit, with a marker when cut.

CREATE TABLE executions (
  id TEXT PRIMARY KEY,
  caller_kind TEXT NOT NULL CHECK (caller_kind IN ('http', 'rpc')),
  caller_identity TEXT NOT NULL,
  language TEXT NOT NULL,
  code TEXT NOT NULL,
  code_sha256 TEXT NOT NULL,
  context_json TEXT NOT NULL,
  config_json TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'success', 'error', 'timeout', 'rejected', 'aborted')),
  success INTEGER,
  result_json TEXT,
  logs_json TEXT,
  error_json TEXT,
  truncated_json TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  duration_ms INTEGER,
  -- When a `running` row is certainly orphaned: the execution's own deadline plus a grace (see orphans.ts).
  stale_after INTEGER NOT NULL
);

CREATE INDEX executions_identity_created ON executions (caller_identity, created_at DESC);
CREATE INDEX executions_created ON executions (created_at DESC);
CREATE INDEX executions_running ON executions (stale_after) WHERE status = 'running';

CREATE TABLE capability_calls (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  execution_id TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  error_code TEXT,
  duration_ms REAL NOT NULL,
  request_bytes INTEGER NOT NULL,
  response_bytes INTEGER NOT NULL
);

CREATE INDEX capability_calls_execution ON capability_calls (execution_id, id);
CREATE INDEX capability_calls_started ON capability_calls (started_at);

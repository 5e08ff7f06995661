-- Migration number: 0002 	 2026-12-01T20:40:00.000Z
-- A run can end "cancelled" (issue 13). SQLite cannot alter a CHECK constraint, so the table is rebuilt with the
-- wider one and its rows and indexes carried over.

CREATE TABLE executions_new (
  id TEXT PRIMARY KEY,
  caller_kind TEXT NOT NULL CHECK (caller_kind IN ('http', 'rpc')),
  caller_identity TEXT NOT NULL,
  language TEXT NOT NULL,
  code TEXT NOT NULL,
  code_sha256 TEXT NOT NULL,
  context_json TEXT NOT NULL,
  config_json TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'success', 'error', 'timeout', 'rejected', 'cancelled', 'aborted')),
  success INTEGER,
  result_json TEXT,
  logs_json TEXT,
  error_json TEXT,
  truncated_json TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  duration_ms INTEGER,
  stale_after INTEGER NOT NULL
);

INSERT INTO executions_new SELECT id, caller_kind, caller_identity, language, code, code_sha256, context_json,
  config_json, status, success, result_json, logs_json, error_json, truncated_json, created_at, started_at,
  finished_at, duration_ms, stale_after FROM executions;
DROP TABLE executions;
ALTER TABLE executions_new RENAME TO executions;

CREATE INDEX executions_identity_created ON executions (caller_identity, created_at DESC);
CREATE INDEX executions_created ON executions (created_at DESC);
CREATE INDEX executions_running ON executions (stale_after) WHERE status = 'running';

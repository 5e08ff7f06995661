-- Persistent sessions (worker/sessions/). A session's state lives in its own Durable Object; D1 keeps the cells
-- as executions (session_id) and the index GET /sessions lists a caller's sessions from.

ALTER TABLE executions ADD COLUMN session_id TEXT;
CREATE INDEX executions_session ON executions (session_id, created_at) WHERE session_id IS NOT NULL;

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  -- "<caller kind>:<identity>": the only caller that may see or use the session.
  owner TEXT NOT NULL,
  language TEXT NOT NULL,
  config_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  -- Refreshed by each cell; the session's alarm deletes it (and this row) once passed.
  expires_at INTEGER NOT NULL,
  cell_count INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX sessions_owner ON sessions (owner, created_at DESC);

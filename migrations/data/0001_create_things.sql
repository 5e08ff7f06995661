-- The embedded data store behind db(): generic "things" addressed by namespace, type and id, with a JSON
-- document. Sandboxed code reaches it only through the query compiler in worker/capabilities/db-query.ts, which
-- knows this table's columns by name; a column added here is invisible to db() until it is added there.
-- Times are ISO 8601 UTC strings so they sort and compare as text and read well in results.

CREATE TABLE things (
  ns TEXT NOT NULL,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (ns, type, id)
);

CREATE INDEX things_ns_type_created ON things (ns, type, created_at);

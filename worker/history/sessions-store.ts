import type { ExecuteConfig, Language } from "../../schemas/execute";
import type { Session } from "../../schemas/session";

// The D1 index of sessions behind GET /sessions (a Durable Object cannot be listed). The session's own Durable
// Object is the truth for its state and lifetime; this row follows it and is deleted with it.

export interface SessionRow {
  id: string;
  owner: string;
  language: Language;
  config: ExecuteConfig;
  createdAt: number;
  expiresAt: number;
  cellCount: number;
}

export async function insertSession(db: D1Database, row: SessionRow): Promise<void> {
  await db
    .prepare(`INSERT INTO sessions (id, owner, language, config_json, created_at, expires_at, cell_count) VALUES (?, ?, ?, ?, ?, ?, ?)`)
    .bind(row.id, row.owner, row.language, JSON.stringify(row.config), row.createdAt, row.expiresAt, row.cellCount)
    .run();
}

export async function touchSession(db: D1Database, id: string, expiresAt: number, cellCount: number): Promise<void> {
  await db.prepare(`UPDATE sessions SET expires_at = ?, cell_count = ? WHERE id = ?`).bind(expiresAt, cellCount, id).run();
}

export async function deleteSession(db: D1Database, id: string): Promise<void> {
  await db.prepare(`DELETE FROM sessions WHERE id = ?`).bind(id).run();
}

/** The owner's live sessions, newest first. Expired rows whose alarm has not run yet are left out. */
export async function listSessions(db: D1Database, owner: string, nowMs: number, limit: number): Promise<Session[]> {
  const { results } = await db
    .prepare(
      `SELECT id, language, config_json, created_at, expires_at, cell_count FROM sessions
        WHERE owner = ? AND expires_at > ? ORDER BY created_at DESC, rowid DESC LIMIT ?`,
    )
    .bind(owner, nowMs, limit)
    .all<{ id: string; language: Language; config_json: string; created_at: number; expires_at: number; cell_count: number }>();
  return results.map((row) => ({
    sessionId: row.id,
    language: row.language,
    config: JSON.parse(row.config_json) as ExecuteConfig,
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    cellCount: row.cell_count,
  }));
}

import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Setup files run outside per-test storage isolation and may run more than once; applying is idempotent.
const testEnv = env as unknown as Record<string, unknown>;
for (const [binding, migrations] of [
  ["EXECUTIONS_DB", "TEST_EXECUTIONS_MIGRATIONS"],
  ["DATA_DB", "TEST_DATA_MIGRATIONS"],
] as const) {
  const db = testEnv[binding] as D1Database | undefined;
  if (db) await applyD1Migrations(db, testEnv[migrations] as Parameters<typeof applyD1Migrations>[1]);
}

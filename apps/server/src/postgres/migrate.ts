/**
 * Applies the missing migrations of `schema.ts` to a PostgreSQL database, safely when several
 * instances start at once: the whole run holds a session-level advisory lock, so the first instance
 * migrates and the others wait, then find nothing left to do.
 *
 * @module
 */
import type pg from 'pg';
import { PG_MIGRATIONS, type PgMigration } from './schema.js';

/** Key of the advisory lock held while migrating (any constant; "kv" + 1). */
export const MIGRATION_LOCK_KEY = 0x6b7601;

/** The database's schema is newer than this server: it refuses to start. */
export class NewerSchemaError extends Error {
  override name = 'NewerSchemaError';
}

/**
 * Brings the database to the newest schema version, each migration in its own transaction, recorded in
 * `kv_migrations`. Returns the versions applied now (empty when it was current).
 *
 * @param client - a dedicated connection (the advisory lock is held by its session)
 * @param migrations - the migrations to apply, in order
 * @throws NewerSchemaError when the database has a version this server does not know
 */
export async function migrate(
  client: pg.ClientBase,
  migrations: readonly PgMigration[] = PG_MIGRATIONS,
): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS kv_migrations (
         version integer PRIMARY KEY,
         description text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM kv_migrations',
    );
    const current = rows[0]?.version ?? 0;
    if (current > migrations.length) {
      throw new NewerSchemaError(
        `the database has kv schema version ${current}, newer than this server's ${migrations.length}; upgrade kv-server`,
      );
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO kv_migrations (version, description) VALUES ($1, $2)', [
          m.version,
          m.description,
        ]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
  }
}

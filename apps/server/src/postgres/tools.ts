/**
 * `kv-server export` on PostgreSQL: one store as JSON Lines (the format of `tools.ts` and the `kv`
 * command line), read in one snapshot. Import goes through `importStore` in `tools.ts` with a
 * `PostgresStorage`; backup and restore are PostgreSQL's own (`pg_dump`, `pg_restore`:
 * apps/server/README.md).
 *
 * @module
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { formatJsonLine } from '@kv/core/protocol';
import { PostgresStorage } from './storage.js';

/**
 * Writes every live entry of `store` to `out` as JSON Lines, in key order, from one consistent snapshot
 * (instances may keep writing meanwhile).
 *
 * @param url - the PostgreSQL connection string
 * @returns how many entries were written
 * @throws StoreNotFoundError when the store does not exist
 * @throws PostgresOpenError when the database cannot be used
 */
export async function exportPostgresStore(url: string, store: string, out: Writable): Promise<number> {
  const storage = await PostgresStorage.open({ url, poolSize: 1 });
  try {
    let count = 0;
    for await (const page of storage.snapshotEntries(store, Date.now())) {
      for (const entry of page) {
        if (!out.write(formatJsonLine(entry))) await once(out, 'drain');
      }
      count += page.length;
    }
    return count;
  } finally {
    await storage.close();
  }
}

/** What `kv-server backup` and `restore` say with `--storage postgres`. */
export const PG_BACKUP_MESSAGE: string =
  'with --storage postgres, back up and restore with PostgreSQL tools: pg_dump --format=custom --file kv.dump "$KV_POSTGRES_URL", ' +
  'then pg_restore --clean --if-exists --dbname "$KV_POSTGRES_URL" kv.dump (apps/server/README.md)';

/**
 * The test cluster itself: reachable only on its unix socket, UTF-8 with byte-order (`C`) collation,
 * and each test file on its own database.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useDatabase } from './database.js';

const db = useDatabase();

describe('test cluster', () => {
  it('serves a fresh UTF-8 database over its unix socket only', async () => {
    const client = new pg.Client({ connectionString: db.url() });
    await client.connect();
    try {
      const { rows } = await client.query<{ enc: string; listen: string; tables: string; db: string }>(
        `SELECT current_setting('server_encoding') AS enc, current_setting('listen_addresses') AS listen,
                (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')::text AS tables,
                current_database() AS db`,
      );
      expect(rows[0]).toMatchObject({ enc: 'UTF8', listen: '', tables: '0' });
      expect(db.url()).toContain(`/${rows[0]!.db}?`);
    } finally {
      await client.end();
    }
  });
});

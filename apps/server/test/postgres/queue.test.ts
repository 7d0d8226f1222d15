/**
 * The queue rows of `PostgresStorage` (`queue_messages`, schema version 2), what is PostgreSQL's own (the
 * contract cases are the shared storage suite's, `storage.test.ts`): the migration of a version-1
 * database, the `kv_changes` hint of a transaction that only wrote queue rows, and leases taken by two
 * instances at once (the store row's lock serializes them).
 */
import type { QueueMessage } from '@kv/engine';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/postgres/migrate.js';
import { PG_MIGRATIONS } from '../../src/postgres/schema.js';
import { PostgresStorage } from '../../src/postgres/storage.js';
import { committed, dueIds, inTx, message, putAll, T0 } from '../queue-rows.js';
import { useDatabase } from './database.js';

const db = useDatabase();
let schemas = 0;
const opened: PostgresStorage[] = [];
afterAll(async () => {
  for (const s of opened) await s.close();
});

const config = { history: 1, defaultTtlMs: null, maxValueBytes: 1 << 20 };

/** A URL of this file's database whose connections use a new schema (created first). */
async function schemaUrl(): Promise<string> {
  const name = `q${++schemas}`;
  const admin = new pg.Client({ connectionString: db.url() });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${name}`);
  } finally {
    await admin.end();
  }
  return `${db.url()}&options=${encodeURIComponent(`-c search_path=${name}`)}`;
}

async function open(url?: string): Promise<PostgresStorage> {
  const storage = await PostgresStorage.open({ url: url ?? (await schemaUrl()), poolSize: 4 });
  opened.push(storage);
  return storage;
}

describe('PostgresStorage queue rows (PostgreSQL specifics)', () => {
  it('migrates a version-1 database to version 2: stores kept, queue_messages added and usable', async () => {
    const url = await schemaUrl();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect(await migrate(client, PG_MIGRATIONS.slice(0, 1))).toEqual([1]);
      await client.query(
        `INSERT INTO stores (name, history, default_ttl_ms, max_value_bytes, created_at, updated_at, signing_secret)
         VALUES ('q', 1, NULL, 1048576, $1, $1, 'secret')`,
        [T0],
      );
    } finally {
      await client.end();
    }
    const storage = await open(url);
    const { rows } = await storage.pool.query<{ version: number }>(
      'SELECT version FROM kv_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
    expect(PG_MIGRATIONS.length).toBeGreaterThanOrEqual(2);
    expect((await storage.getStore('q'))?.name).toBe('q');
    await putAll(storage, [message('m')]);
    expect(await committed(storage, 'm')).toEqual(message('m'));
  });

  it('dueMessages reads queue_messages_due in delivery order (EXPLAIN, no sort)', async () => {
    const storage = await open();
    await storage.createStore('q', config, T0, 'secret');
    await putAll(
      storage,
      Array.from({ length: 200 }, (_, i) => message(`m${i}`, { visibleAt: T0 + (i % 17) })),
    );
    const client = await storage.pool.connect();
    try {
      await client.query('ANALYZE queue_messages');
      // Index scans only (a table this small would otherwise be read whole): the plan must be able to.
      await client.query('SET enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT id FROM queue_messages WHERE store_id = 1 AND visible_at <= ${T0 + 5}
         ORDER BY visible_at, id LIMIT 10`,
      );
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/queue_messages_due/);
      expect(plan).not.toMatch(/Sort/);
    } finally {
      client.release();
    }
  });

  it('a transaction that only wrote queue rows sends the kv_changes hint to other instances; a rolled back one does not', async () => {
    const url = await schemaUrl();
    const one = await open(url);
    const two = await open(url);
    await two.createStore('q', config, T0, 'secret');
    await two.createStore('mark', config, T0, 'secret');
    const heard: string[] = [];
    const stop = one.onChange((store) => heard.push(store));
    try {
      // The LISTEN connection opens in the background: write until it hears one.
      let n = 0;
      await expect
        .poll(async () => {
          await putAll(two, [message(`warm${n++}`)]);
          return heard.length;
        })
        .toBeGreaterThan(0);
      expect(new Set(heard)).toEqual(new Set(['q']));
      // Hints arrive in commit order: once a queue write to `mark` is heard, every earlier one is.
      let marks = 0;
      const barrier = async (): Promise<number> => {
        await putAll(two, [message(`mark${marks++}`)], 'mark');
        await expect.poll(() => heard.filter((s) => s === 'mark').length).toBe(marks);
        return heard.filter((s) => s === 'q').length;
      };
      const before = await barrier();
      await expect(
        inTx(two, function* (tx) {
          yield tx.putMessage(message('never'));
          yield tx.getMessage('never'); // sent to the database, then rolled back
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      // A delete alone is a queue write too; a transaction that wrote nothing sends nothing.
      await inTx(two, function* (tx) {
        yield tx.getMessage('warm0');
      });
      await inTx(two, function* (tx) {
        yield tx.deleteMessage('warm0');
      });
      expect(await barrier()).toBe(before + 1);
      expect(await committed(two, 'never')).toBeUndefined();
      expect(await committed(two, 'warm0')).toBeUndefined();
    } finally {
      stop();
    }
  });

  it('leases taken at once through two instances never hand out one message twice', async () => {
    const url = await schemaUrl();
    const one = await open(url);
    const two = await open(url);
    await one.createStore('q', config, T0, 'secret');
    const ids = Array.from({ length: 40 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    await putAll(
      one,
      ids.map((id, i) => message(id, { visibleAt: T0 + i })),
    );
    // Eight leases of five, as the engine takes them: the due ones, each put back leased.
    const lease = (storage: PostgresStorage, n: number) =>
      inTx(storage, function* (tx) {
        const due = (yield tx.dueMessages(T0 + 100, 5)) as QueueMessage[];
        for (const m of due) {
          yield tx.putMessage({
            ...m,
            attempts: m.attempts + 1,
            leaseId: `lease-${n}`,
            leaseExpiresAt: T0 + 30_000,
            visibleAt: T0 + 31_000,
          });
        }
        return due.map((m) => m.id);
      });
    const batches = await Promise.all(Array.from({ length: 8 }, (_, n) => lease(n % 2 === 0 ? one : two, n)));
    const all = batches.flat();
    expect(batches.every((b) => b.length === 5)).toBe(true);
    expect([...all].sort()).toEqual(ids);
    for (const [n, batch] of batches.entries()) {
      for (const id of batch) expect((await committed(two, id))?.leaseId).toBe(`lease-${n}`);
    }
    expect(await one.queueStats('q', T0 + 100)).toEqual({
      ready: 0,
      delayed: 0,
      inFlight: 40,
      nextVisibleAt: T0 + 31_000,
    });
    expect(await dueIds(one, T0 + 100, 10)).toEqual([]);
  });
});

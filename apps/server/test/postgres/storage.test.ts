/**
 * `PostgresStorage` against the shared storage suite (`@kv/engine/testing`, the model-based property
 * test included): each storage the suite opens is a fresh schema in this file's database.
 */
import {
  applyCommit,
  commit,
  type MaybePromise,
  type Mutation,
  type PutOp,
  type StorageTx,
  sweepExpired,
} from '@kv/engine';
import { describeStorageSuite } from '@kv/engine/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PG_MIGRATIONS } from '../../src/postgres/schema.js';
import { PostgresStorage } from '../../src/postgres/storage.js';
import { useDatabase } from './database.js';

const db = useDatabase();
let schemas = 0;
const opened: PostgresStorage[] = [];
afterAll(async () => {
  for (const s of opened) await s.close();
});

/** A URL of this file's database whose connections use schema `name` (created first). */
async function schemaUrl(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: db.url() });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${name}`);
  } finally {
    await admin.end();
  }
  return `${db.url()}&options=${encodeURIComponent(`-c search_path=${name}`)}`;
}

async function fresh(options: { changeLogLimit?: number } = {}): Promise<PostgresStorage> {
  const url = await schemaUrl(`s${++schemas}`);
  const storage = await PostgresStorage.open({ url, poolSize: 4, ...options });
  return storage;
}

describeStorageSuite('PostgresStorage', (options) => fresh(options), { propertyTimeoutMs: 300_000 });

describe('PostgresStorage specifics', () => {
  it('keeps the schema current and migrates once when several instances open at once', async () => {
    const url = await schemaUrl(`s${++schemas}`);
    const all = await Promise.all(
      Array.from({ length: 4 }, () => PostgresStorage.open({ url, poolSize: 2 })),
    );
    opened.push(...all);
    const { rows } = await all[0]!.pool.query<{ version: number }>('SELECT version FROM kv_migrations');
    expect(rows.map((r) => r.version).sort((a, b) => a - b)).toEqual(PG_MIGRATIONS.map((m) => m.version));
  });
});

describe('several PostgresStorage instances on one database', () => {
  const T0 = 1_700_000_000_000;
  const config = { history: 1, defaultTtlMs: null, maxValueBytes: 1 << 20 };

  it('two instances sweeping at once record exactly one expire per key', async () => {
    const url = await schemaUrl(`s${++schemas}`);
    const [one, two] = await Promise.all([
      PostgresStorage.open({ url, poolSize: 4 }),
      PostgresStorage.open({ url, poolSize: 4 }),
    ]);
    opened.push(one!, two!);
    await one!.createStore('a', config, T0, 'secret');
    await one!.createStore('b', config, T0, 'secret');
    const keys = Array.from({ length: 150 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    for (const store of ['a', 'b']) {
      const result = await commit(one!, store, {
        mode: 'each',
        nowMs: T0,
        mutations: keys.map((key, i) => ({
          type: 'put' as const,
          key,
          value: new TextEncoder().encode(key),
          contentType: 'text/plain',
          metadata: null,
          scopes: [],
          expiresAt: T0 + 1 + (i % 7),
          resume: false,
          newId: `${store}-${key}`,
        })),
      });
      expect(result.ok).toBe(true);
    }
    // Both sweep in small batches, concurrently, until nothing is left.
    let total = 0;
    for (let round = 0; round < 20; round++) {
      const [a, b] = await Promise.all([sweepExpired(one!, T0 + 100, 40), sweepExpired(two!, T0 + 100, 40)]);
      total += a.expired + b.expired;
      if (a.expired + b.expired === 0) break;
    }
    expect(total).toBe(300);
    for (const store of ['a', 'b']) {
      const changes = await two!.changes(store, 150, 1000);
      expect(changes.map((c) => c.revision)).toEqual(Array.from({ length: 150 }, (_, i) => 151 + i));
      expect(changes.every((c) => c.operation === 'expire')).toBe(true);
      expect(changes.map((c) => c.key).sort()).toEqual(keys);
      expect(await one!.getStore(store)).toMatchObject({ revision: 300, keyCount: 0, totalBytes: 0 });
    }
  });

  it('onChange hears the commits of another instance (LISTEN/NOTIFY), not failed ones', async () => {
    const url = await schemaUrl(`s${++schemas}`);
    const [one, two] = await Promise.all([
      PostgresStorage.open({ url, poolSize: 2 }),
      PostgresStorage.open({ url, poolSize: 2 }),
    ]);
    opened.push(one!, two!);
    await two!.createStore('n', config, T0, 'secret');
    const heard: string[] = [];
    const stop = one!.onChange((store) => heard.push(store));
    // The LISTEN connection opens in the background: write until it hears one.
    const putIn = (store: string, key: string, precondition?: { kind: 'absent' }) =>
      commit(two!, store, {
        mode: 'atomic',
        nowMs: T0,
        mutations: [
          {
            type: 'put',
            key,
            value: new Uint8Array([1]),
            contentType: 'application/octet-stream',
            metadata: null,
            scopes: [],
            expiresAt: null,
            resume: false,
            newId: `id-${key}`,
            ...(precondition === undefined ? {} : { precondition }),
          },
        ],
      });
    const put = (key: string, precondition?: { kind: 'absent' }) => putIn('n', key, precondition);
    await expect
      .poll(async () => {
        await put('k');
        return heard.length;
      })
      .toBeGreaterThan(0);
    expect(new Set(heard)).toEqual(new Set(['n']));
    // Notifications arrive in commit order: once a write to store `m` is heard, every earlier one is.
    await two!.createStore('m', config, T0, 'secret');
    const barrier = async (): Promise<number> => {
      const marks = heard.filter((x) => x === 'm').length;
      await putIn('m', `mark${marks}`);
      await expect.poll(() => heard.filter((x) => x === 'm').length).toBe(marks + 1);
      return heard.filter((x) => x === 'n').length;
    };
    const before = await barrier();
    // A commit that writes nothing (its precondition fails) sends nothing; a write does.
    expect(await put('k', { kind: 'absent' })).toMatchObject({ ok: false });
    await put('k2');
    expect(await barrier()).toBe(before + 1);
    stop();
  });

  it('commits from two instances to one store take gap-free revisions', async () => {
    const url = await schemaUrl(`s${++schemas}`);
    const [one, two] = await Promise.all([
      PostgresStorage.open({ url, poolSize: 8 }),
      PostgresStorage.open({ url, poolSize: 8 }),
    ]);
    opened.push(one!, two!);
    await one!.createStore('c', config, T0, 'secret');
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        commit(i % 2 === 0 ? one! : two!, 'c', {
          mode: 'each',
          nowMs: T0,
          mutations: [
            {
              type: 'put',
              key: `k${i % 10}`,
              value: new TextEncoder().encode(String(i)),
              contentType: 'text/plain',
              metadata: null,
              scopes: [],
              expiresAt: null,
              resume: false,
              newId: `id-${i}`,
            },
          ],
        }),
      ),
    );
    const revisions = results.map((r) => (r.ok ? r.revision : -1)).sort((x, y) => x - y);
    expect(revisions).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const changes = await one!.changes('c', 0, 1000);
    expect(changes.map((c) => c.revision)).toEqual(revisions);
    expect(await two!.getStore('c')).toMatchObject({ revision: 100, keyCount: 10 });
  });
});

describe('PgTx: held writes sent alone give the same result as sequences sent as one statement', () => {
  const T0 = 1_700_000_000_000;
  const enc = new TextEncoder();
  const put = (key: string, value: string, fields: Partial<PutOp> = {}): PutOp => ({
    type: 'put',
    key,
    value: enc.encode(value),
    contentType: 'text/plain',
    metadata: null,
    scopes: [],
    expiresAt: null,
    resume: false,
    newId: `id-${key}-${value}`,
    ...fields,
  });
  /** Commits covering every StorageTx write: puts (new, overwrite, scopes changed), setExpiry, delete, purge, expire. */
  const commits: Array<{ nowMs: number; mutations: Mutation[] }> = [
    {
      nowMs: T0,
      mutations: [put('a', 'a1', { scopes: ['x'] }), put('b', 'b1', { metadata: { m: 1 } }), put('c', 'c1')],
    },
    {
      nowMs: T0 + 1,
      mutations: [put('a', 'a2', { scopes: ['y', 'x'] }), { type: 'setExpiry', key: 'b', expiresAt: T0 + 5 }],
    },
    { nowMs: T0 + 2, mutations: [{ type: 'delete', key: 'c' }, put('a', 'a3'), { type: 'purge', key: 'c' }] },
    {
      nowMs: T0 + 10,
      mutations: [put('b', 'b2'), { type: 'purge', key: 'a' }, put('d', 'd1', { scopes: ['z'] })],
    },
    {
      nowMs: T0 + 11,
      mutations: [
        { type: 'setExpiry', key: 'd', expiresAt: null },
        { type: 'delete', key: 'd' },
      ],
    },
  ];

  /** A StorageTx that reads after every write, so every held write is sent on its own. */
  function flushing(tx: StorageTx): StorageTx {
    const read = async <T>(answer: MaybePromise<T>): Promise<T> => {
      const value = await answer;
      await tx.head('~flush');
      return value;
    };
    return {
      get store() {
        return tx.store;
      },
      head: (key) => tx.head(key),
      value: (key) => tx.value(key),
      lastRecord: (key) => tx.lastRecord(key),
      putEntry: (entry, previous) => read(tx.putEntry(entry, previous)),
      updateEntry: (previous, change) => read(tx.updateEntry(previous, change)),
      removeEntry: (previous) => read(tx.removeEntry(previous)),
      appendHistory: (tombstone) => read(tx.appendHistory(tombstone)),
      purgeHistory: (key) => read(tx.purgeHistory(key)),
      appendChange: (record) => read(tx.appendChange(record)),
      nextRevision: () => tx.nextRevision(),
      adjustStats: (keys, bytes) => tx.adjustStats(keys, bytes),
      getIdempotency: (scopeKey, nowMs) => tx.getIdempotency(scopeKey, nowMs),
      putIdempotency: (scopeKey, record) => read(tx.putIdempotency(scopeKey, record)),
      getMessage: (id) => tx.getMessage(id),
      dueMessages: (nowMs, limit) => tx.dueMessages(nowMs, limit),
      putMessage: (message) => read(tx.putMessage(message)),
      deleteMessage: (id) => read(tx.deleteMessage(id)),
    };
  }

  async function state(storage: PostgresStorage) {
    const keys = ['a', 'b', 'c', 'd'];
    return {
      store: await storage.getStore('h'),
      entries: await storage.scan('h', { limit: 100, values: true, nowMs: T0 + 11 }),
      history: await Promise.all(keys.map((k) => storage.history('h', k))),
      changes: await storage.changes('h', 0, 100),
      scopes: await storage.listScopes('h', T0 + 11),
    };
  }

  it('agrees on entries, history, change log, scopes and stats', async () => {
    const results = [];
    for (const mode of ['held', 'flushing'] as const) {
      const storage = await PostgresStorage.open({ url: await schemaUrl(`s${++schemas}`), poolSize: 2 });
      opened.push(storage);
      await storage.createStore(
        'h',
        { history: 3, defaultTtlMs: null, maxValueBytes: 1 << 20 },
        T0,
        'secret',
      );
      for (const c of commits) {
        const result = await storage.transaction('h', (tx) =>
          applyCommit(mode === 'held' ? tx : flushing(tx), { mode: 'each', ...c }),
        );
        expect(result.ok).toBe(true);
      }
      results.push(await state(storage));
    }
    expect(results[1]).toEqual(results[0]);
    // And the held path wrote what the rules say: every revision in the log, the expire of b included.
    expect(results[0]!.changes.map((c) => `${c.revision}:${c.operation}:${c.key}`)).toEqual([
      '1:put:a',
      '2:put:b',
      '3:put:c',
      '4:put:a',
      '5:put:b',
      '6:delete:c',
      '7:put:a',
      '8:purge:c',
      '9:expire:b',
      '10:put:b',
      '11:purge:a',
      '12:put:d',
      '13:put:d',
      '14:delete:d',
    ]);
  });
});

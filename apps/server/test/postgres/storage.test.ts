/**
 * `PostgresStorage` against the shared storage suite (`@kv/engine/testing`, the model-based property
 * test included): each storage the suite opens is a fresh schema in this file's database.
 */
import { commit, sweepExpired } from '@kv/engine';
import { describeStorageSuite } from '@kv/engine/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
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
    expect(rows.map((r) => r.version)).toEqual([1]);
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

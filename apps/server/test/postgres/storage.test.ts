/**
 * `PostgresStorage` against the shared storage suite (`@kv/engine/testing`, the model-based property
 * test included): each storage the suite opens is a fresh schema in this file's database.
 */
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

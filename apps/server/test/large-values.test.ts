/**
 * One large value must not sit in the clustered b-trees every lookup walks: the built kv-server, on a
 * real SQLite file, given the pattern that made a 25 MiB row a divider cell of the `entries` tree (50 tiny
 * keys, the 25 MiB value, 55 more tiny keys in one store), keeps that value out of `entries`, `history`
 * and `changes` (checked through SQLite's `dbstat`, not timing), still serves it byte for byte, keeps
 * answering another store, and frees it when the store is deleted.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authHeaders, call, type ServerProcess, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-server-large-');
afterAll(() => tmp.remove());

const LARGE_BYTES = 25 * 1024 * 1024;
const key = (i: number): string => `k${String(i).padStart(3, '0')}`;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('a 25 MiB value on the SQLite server', () => {
  let server: ServerProcess;
  let base: string;
  const dataFile = join(tmp.dir, 'large.sqlite');
  const large = new Uint8Array(LARGE_BYTES);
  for (let i = 0; i < large.length; i++) large[i] = (i * 131) & 0xff;

  const put = async (store: string, k: string, body: Uint8Array | string): Promise<void> => {
    const res = await fetch(`${base}/v1/stores/${store}/entries/${k}`, {
      method: 'PUT',
      headers: authHeaders({ 'content-type': 'application/octet-stream' }),
      body,
    });
    expect([200, 201], `PUT ${store}/${k}`).toContain(res.status);
    await res.arrayBuffer();
  };

  /** Reads the server's file on a second, read-only connection (WAL: it sees every commit). */
  const inspect = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(dataFile, { readonly: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    server = await startServer(['--data', dataFile]);
    base = server.url;
    for (const name of ['probe', 'bulk']) {
      const created = await call(`${base}/v1/stores`, { method: 'POST', json: { name, history: 2 } });
      expect(created.status).toBe(201);
    }
    for (let i = 0; i < 100; i++) await put('probe', `probe.k${i}`, 'tiny');
    for (let i = 0; i < 50; i++) await put('bulk', key(i), 'tiny');
    await put('bulk', key(50), large);
    for (let i = 51; i < 106; i++) await put('bulk', key(i), 'tiny');
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('holds no overflow page and no inline value over 512 bytes in entries, history or changes', () => {
    const found = inspect((db) =>
      ['entries', 'history', 'changes'].map((table) => ({
        table,
        overflowPages: db
          .prepare("SELECT count(*) FROM dbstat WHERE name = ? AND pagetype = 'overflow'")
          .pluck()
          .get(table),
        longestInline: db.prepare(`SELECT coalesce(max(length(value)), 0) FROM ${table}`).pluck().get(),
      })),
    );
    expect(found).toEqual([
      { table: 'entries', overflowPages: 0, longestInline: 4 },
      { table: 'history', overflowPages: 0, longestInline: 0 },
      { table: 'changes', overflowPages: 0, longestInline: 4 },
    ]);
  });

  it('serves the large value byte for byte, and the other store and the large value’s neighbours as before', async () => {
    const res = await fetch(`${base}/v1/stores/bulk/entries/${key(50)}`, { headers: authHeaders() });
    expect(res.status).toBe(200);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body.byteLength).toBe(LARGE_BYTES);
    expect(sha256(body)).toBe(sha256(large));
    for (const [store, k] of [
      ['probe', 'probe.k0'],
      ['probe', 'probe.k99'],
      ['bulk', key(49)],
      ['bulk', key(51)],
    ] as const) {
      const r = await call(`${base}/v1/stores/${store}/entries/${k}`);
      expect([store, k, r.status, r.text]).toEqual([store, k, 200, 'tiny']);
    }
  });

  it('frees the large value when its store is deleted, and the other store keeps answering', async () => {
    expect(inspect((db) => db.prepare('SELECT count(*) FROM blobs').pluck().get())).toBe(1);
    const deleted = await call(`${base}/v1/stores/bulk`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(inspect((db) => db.prepare('SELECT count(*) FROM blobs').pluck().get())).toBe(0);
    const r = await call(`${base}/v1/stores/probe/entries/probe.k42`);
    expect([r.status, r.text]).toEqual([200, 'tiny']);
  });
});

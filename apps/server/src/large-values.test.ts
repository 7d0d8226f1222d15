/**
 * Large values in `SqliteStorage`: values longer than `INLINE_VALUE_MAX_BYTES` live in the `blobs` rowid
 * table, out of the clustered (`WITHOUT ROWID`) `entries`, `history` and `changes` b-trees, so that no
 * row of those trees needs an overflow chain for its value (docs/performance.md "Large values").
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseJsonLine } from '@kv/core/protocol';
import { commit as commitTo, type Mutation, type PutOp, sweepExpired as sweepRound } from '@kv/engine';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { INLINE_VALUE_MAX_BYTES, MIGRATIONS } from './schema.js';
import { SqliteStorage } from './sqlite-storage.js';
import { exportStore } from './tools.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-large-values-test-'));
let seq = 0;
const opened: SqliteStorage[] = [];

function fresh(options: { changeLogLimit?: number } = {}): SqliteStorage {
  const storage = SqliteStorage.open({
    path: join(dir, `db-${++seq}.sqlite`),
    checkpointIntervalMs: null,
    ...options,
  });
  opened.push(storage);
  return storage;
}

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000;
const config = { history: 1, defaultTtlMs: null, maxValueBytes: 32 << 20 };
let ids = 0;

/** `n` bytes, each a function of its position and `seed` (so two values never compare equal by chance). */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

function put(key: string, value: Uint8Array, fields: Partial<PutOp> = {}): PutOp {
  return {
    type: 'put',
    key,
    value,
    contentType: 'application/octet-stream',
    metadata: null,
    scopes: [],
    expiresAt: null,
    resume: false,
    newId: `id-${++ids}`,
    ...fields,
  };
}

/** Hex digest of some bytes, so that assertions on megabytes compare (and print) 64 characters. */
function digest(value: Uint8Array | undefined): string {
  return value === undefined
    ? 'undefined'
    : `${value.byteLength}:${createHash('sha256').update(value).digest('hex')}`;
}

function count(db: Database.Database, sql: string): number {
  return db.prepare(sql).pluck().get() as number;
}

/** Every blob is used by some row and every row's blob exists (no orphan, nothing dangling). */
function expectBlobsConsistent(db: Database.Database): void {
  const used = `SELECT blob_id FROM entries WHERE blob_id IS NOT NULL
    UNION SELECT blob_id FROM history WHERE blob_id IS NOT NULL
    UNION SELECT blob_id FROM changes WHERE blob_id IS NOT NULL`;
  expect(count(db, `SELECT count(*) FROM blobs WHERE id NOT IN (${used})`), 'orphan blobs').toBe(0);
  expect(count(db, `SELECT count(*) FROM (${used}) WHERE blob_id NOT IN (SELECT id FROM blobs)`)).toBe(0);
}

/**
 * The structural property: no value held inline in the clustered tables is longer than the threshold,
 * and none of their pages is an overflow page (SQLite's `dbstat`). Uses nothing of the new schema, so it
 * runs against a file written by the old layout too.
 */
function expectClusteredTreesSmall(db: Database.Database): void {
  for (const table of ['entries', 'history', 'changes']) {
    const longest = count(db, `SELECT coalesce(max(length(value)), 0) FROM ${table}`);
    expect(longest, `longest inline value in ${table}`).toBeLessThanOrEqual(INLINE_VALUE_MAX_BYTES);
    const overflow = count(
      db,
      `SELECT count(*) FROM dbstat WHERE name = '${table}' AND pagetype = 'overflow'`,
    );
    expect(overflow, `overflow pages of ${table}`).toBe(0);
  }
}

describe('large values (SqliteStorage)', () => {
  it('keeps a 25 MiB value out of the clustered entries/history/changes trees (50 tiny + 25 MiB + 55 tiny)', async () => {
    const s = fresh();
    await s.createStore('probe', config, T0, 'secret');
    await s.createStore('bulk', { ...config, history: 3 }, T0, 'secret');
    const tiny = bytes(10);
    const key = (i: number): string => `k${String(i).padStart(3, '0')}`;
    await commitTo(s, 'probe', {
      mode: 'each',
      mutations: Array.from({ length: 100 }, (_, i) => put(`probe.k${i}`, tiny)),
      nowMs: T0,
    });
    for (let i = 0; i < 50; i++) {
      await commitTo(s, 'bulk', { mode: 'each', mutations: [put(key(i), tiny)], nowMs: T0 });
    }
    const large = bytes(25 * 1024 * 1024, 3);
    await commitTo(s, 'bulk', { mode: 'each', mutations: [put(key(50), large)], nowMs: T0 });
    for (let i = 51; i < 106; i++) {
      await commitTo(s, 'bulk', { mode: 'each', mutations: [put(key(i), tiny)], nowMs: T0 });
    }
    expectClusteredTreesSmall(s.db);
    // Overwritten: the 25 MiB revision is now in history and the change log as well.
    await commitTo(s, 'bulk', { mode: 'each', mutations: [put(key(50), bytes(20, 4))], nowMs: T0 });
    expectClusteredTreesSmall(s.db);
    expect(digest((await s.history('bulk', key(50)))[1]?.value)).toBe(digest(large));
    expect(digest((await s.get('probe', 'probe.k7', T0))?.value)).toBe(digest(tiny));
  });

  for (const size of [
    0,
    INLINE_VALUE_MAX_BYTES - 1,
    INLINE_VALUE_MAX_BYTES,
    INLINE_VALUE_MAX_BYTES + 1,
    1 << 20,
  ]) {
    it(`a ${size}-byte value reads back the same on every read path`, async () => {
      const s = fresh();
      await s.createStore('st', { ...config, history: 3 }, T0, 'secret');
      const first = bytes(size, 1);
      const value = bytes(size, 2);
      const w1 = await commitTo(s, 'st', {
        mode: 'each',
        mutations: [put('k', first, { scopes: ['sc'] })],
        nowMs: T0,
      });
      const w2 = await commitTo(s, 'st', {
        mode: 'each',
        mutations: [put('k', value, { scopes: ['sc'] })],
        nowMs: T0,
      });
      expect(w1.ok && w2.ok).toBe(true);
      const id = w1.ok ? w1.results[0]!.id! : '';

      expect(digest((await s.get('st', 'k', T0))?.value)).toBe(digest(value));
      expect(digest((await s.getById('st', id, T0))?.value)).toBe(digest(value));
      expect(digest((await s.getMany('st', ['k', 'missing'], T0, true))[0]?.value)).toBe(digest(value));
      const scanned = await s.scan('st', { limit: 10, values: true, nowMs: T0 });
      expect(scanned.map((e) => digest(e.value))).toEqual([digest(value)]);
      const reversed = await s.scan('st', { limit: 10, values: true, nowMs: T0, reverse: true, prefix: 'k' });
      expect(reversed.map((e) => digest(e.value))).toEqual([digest(value)]);
      const scoped = await s.scan('st', { limit: 10, values: true, nowMs: T0, scope: 'sc' });
      expect(scoped.map((e) => digest(e.value))).toEqual([digest(value)]);
      // Without values, no value is read (and none is returned).
      const keysOnly = await s.scan('st', { limit: 10, values: false, nowMs: T0 });
      expect(keysOnly.map((e) => [e.size, e.value.byteLength])).toEqual([[size, 0]]);
      expect((await s.history('st', 'k')).map((r) => digest(r.value))).toEqual([
        digest(value),
        digest(first),
      ]);
      expect((await s.changes('st', 0, 10)).map((r) => digest(r.value))).toEqual([
        digest(first),
        digest(value),
      ]);

      const lines: string[] = [];
      const out = new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      });
      // exportStore (kv-server export) reads the file on its own connection.
      expect(await exportStore(s.path, 'st', out)).toBe(1);
      expect(digest(parseJsonLine(lines.join('').trim(), 1).value)).toBe(digest(value));

      const inBlobs = count(s.db, 'SELECT count(*) FROM blobs');
      expect(inBlobs).toBe(size > INLINE_VALUE_MAX_BYTES ? 2 : 0);
      expectClusteredTreesSmall(s.db);
      expectBlobsConsistent(s.db);
    });
  }

  it('frees a blob with the last row using it: overwrite, delete, expiry, purge, trimming, store delete', async () => {
    // A change log of 1 revision, trimmed every 64 revisions: `churn` pushes old change rows out.
    const s = fresh({ changeLogLimit: 1 });
    const blobs = (): number => count(s.db, 'SELECT count(*) FROM blobs');
    await s.createStore('st', { ...config, history: 3 }, T0, 'secret');
    await s.createStore('other', config, T0, 'secret');
    const big = (seed: number): Uint8Array => bytes(4096, seed);
    const commit = async (...mutations: CommitMutation[]): Promise<void> => {
      const r = await commitTo(s, 'st', { mode: 'each', mutations, nowMs: T0 });
      expect(r.ok).toBe(true);
      expectBlobsConsistent(s.db);
    };
    const churn = async (): Promise<void> => {
      for (let i = 0; i < 130; i++) await commit(put('churn', bytes(4, i)));
    };

    // Overwrites: the old revisions stay readable in history (3 kept) and then go with it.
    await commit(put('a', big(1)));
    await commit(put('a', big(2)));
    await commit(put('a', bytes(8, 3)));
    expect(blobs()).toBe(2);
    await commit(put('a', bytes(8, 4)), put('a', bytes(8, 5)));
    await churn();
    expect(blobs()).toBe(0);

    // Delete: the tombstone keeps the put in history until trimmed; purge drops the history.
    await commit(put('b', big(6)));
    await commit({ type: 'delete', key: 'b' });
    await churn();
    expect(blobs()).toBe(1);
    await commit({ type: 'purge', key: 'b' });
    expect(blobs()).toBe(0);

    // Expiry by the sweeper, then trimming history to depth 1 (store update).
    await commit(put('c', big(7), { expiresAt: T0 + 5 }));
    expect((await sweepRound(s, T0 + 5, 10)).expired).toBe(1);
    expectBlobsConsistent(s.db);
    await churn();
    expect(blobs()).toBe(1);
    await s.updateStore('st', { history: 1 }, T0);
    expectBlobsConsistent(s.db);
    expect(blobs()).toBe(0);

    // Store delete drops every row of the store, and so every blob; another store's blob stays.
    await commit(put('d', big(8)), put('e', big(9)));
    // A new expiry is a new revision of the same value: its rows share the blob.
    await commit({ type: 'setExpiry', key: 'd', expiresAt: T0 + 60_000 });
    expect(digest((await s.get('st', 'd', T0))?.value)).toBe(digest(big(8)));
    expect(digest((await s.changes('st', 0, 1000)).at(-1)?.value)).toBe(digest(big(8)));
    await commitTo(s, 'other', { mode: 'each', mutations: [put('o', big(10))], nowMs: T0 });
    expect(blobs()).toBe(3);
    expect(await s.deleteStore('st')).toBe(true);
    expectBlobsConsistent(s.db);
    expect(blobs()).toBe(1);
    expect(digest((await s.get('other', 'o', T0))?.value)).toBe(digest(big(10)));
  });

  it('migrates a schema-2 file: large values move out of the clustered tables in one step and read the same', async () => {
    const path = join(dir, 'schema-2.sqlite');
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    for (const m of MIGRATIONS.filter((m) => m.version <= 2)) old.exec(m.sql);
    old.pragma('user_version = 2');
    const v1 = bytes(2000, 1);
    const v2 = bytes(70_000, 2);
    const small = bytes(INLINE_VALUE_MAX_BYTES, 3);
    old
      .prepare(
        `INSERT INTO stores (id, name, history, default_ttl_ms, max_value_bytes, revision, key_count, total_bytes, created_at, updated_at, signing_secret)
         VALUES (1, 'st', 3, NULL, ?, 3, 2, ?, ?, ?, 'secret')`,
      )
      .run(config.maxValueBytes, v2.byteLength + small.byteLength, T0, T0);
    // The rows the old storage wrote for: put big v1 (rev 1), put big v2 (rev 2), put small (rev 3).
    const row = (rev: number, key: string, value: Uint8Array) =>
      [
        1,
        key,
        rev,
        'put',
        `id-${key}`,
        'application/octet-stream',
        null,
        '[]',
        T0,
        T0,
        null,
        0,
        value.byteLength,
        value,
      ] as const;
    const cols =
      'store_id, key, revision, operation, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value';
    const insertChange = old.prepare(
      `INSERT INTO changes (${cols}) VALUES (${cols
        .split(', ')
        .map(() => '?')
        .join(', ')})`,
    );
    const insertHistory = old.prepare(
      `INSERT INTO history (${cols}) VALUES (${cols
        .split(', ')
        .map(() => '?')
        .join(', ')})`,
    );
    const insertEntry = old.prepare(
      `INSERT INTO entries (store_id, key, revision, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value)
       VALUES (?, ?, ?, ?, 'application/octet-stream', NULL, '[]', ?, ?, NULL, 0, ?, ?)`,
    );
    insertHistory.run(...row(1, 'big', v1));
    insertChange.run(...row(1, 'big', v1));
    insertChange.run(...row(2, 'big', v2));
    insertChange.run(...row(3, 'small', small));
    insertEntry.run(1, 'big', 2, 'id-big', T0, T0, v2.byteLength, v2);
    insertEntry.run(1, 'small', 3, 'id-small', T0, T0, small.byteLength, small);
    expect(
      count(old, "SELECT count(*) FROM dbstat WHERE name = 'entries' AND pagetype = 'overflow'"),
    ).toBeGreaterThan(0);
    old.close();

    const s = SqliteStorage.open({ path, checkpointIntervalMs: null });
    opened.push(s);
    expect(s.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expectClusteredTreesSmall(s.db);
    expectBlobsConsistent(s.db);
    // One blob per revision, shared by the rows of the three tables that hold it.
    expect(count(s.db, 'SELECT count(*) FROM blobs')).toBe(2);
    expect(count(s.db, "SELECT count(*) FROM entries WHERE key = 'small' AND blob_id IS NULL")).toBe(1);
    expect(digest((await s.get('st', 'big', T0))?.value)).toBe(digest(v2));
    expect(digest((await s.get('st', 'small', T0))?.value)).toBe(digest(small));
    expect(digest((await s.getById('st', 'id-big', T0))?.value)).toBe(digest(v2));
    expect((await s.history('st', 'big')).map((r) => [r.revision, digest(r.value)])).toEqual([
      [2, digest(v2)],
      [1, digest(v1)],
    ]);
    expect((await s.changes('st', 0, 10)).map((r) => digest(r.value))).toEqual([v1, v2, small].map(digest));
    // And the migrated rows are freed like new ones.
    await commitTo(s, 'st', { mode: 'each', mutations: [{ type: 'purge', key: 'big' }], nowMs: T0 });
    expectBlobsConsistent(s.db);
    expect(await s.deleteStore('st')).toBe(true);
    expect(count(s.db, 'SELECT count(*) FROM blobs')).toBe(0);
  });
});

type CommitMutation = Mutation;

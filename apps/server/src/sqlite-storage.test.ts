import {
  chmodSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareKeys } from '@kv/core';
import {
  applyCommit,
  commit as commitTo,
  createEngine,
  type PutOp,
  type Storage,
  sweepExpired as sweepRound,
} from '@kv/engine';
import { describeStorageSuite } from '@kv/engine/testing';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { prefixSuccessor } from './keys.js';
import { MIGRATIONS } from './schema.js';
import {
  classifyOpenError,
  DatabaseCorruptError,
  DatabaseOpenError,
  SqliteStorage,
} from './sqlite-storage.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-sqlite-test-'));
let seq = 0;
const opened: Storage[] = [];

/** A fresh storage on its own temp file. */
function fresh(options: { changeLogLimit?: number } = {}): SqliteStorage {
  const storage = SqliteStorage.open({ path: join(dir, `db-${++seq}.sqlite`), ...options });
  opened.push(storage);
  return storage;
}

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000;
const config = { history: 1, defaultTtlMs: null, maxValueBytes: 1 << 20 };
const enc = new TextEncoder();
let ids = 0;

function put(key: string, value: string, fields: Partial<PutOp> = {}): PutOp {
  return {
    type: 'put',
    key,
    value: enc.encode(value),
    contentType: 'text/plain',
    metadata: null,
    scopes: [],
    expiresAt: null,
    resume: false,
    newId: `id-${++ids}`,
    ...fields,
  };
}

describeStorageSuite('SqliteStorage', (options) => {
  const storage = SqliteStorage.open({ path: join(dir, `suite-${++seq}.sqlite`), ...options });
  return storage;
});

describe('key order helpers', () => {
  const samples = [
    '',
    'a',
    'ab',
    'b',
    'z',
    'é',
    '\uffff',
    '\u{10000}',
    '\u{10ffff}',
    '\ue000',
    '\ud7ff',
    'a\u{10ffff}',
  ];

  it('prefixSuccessor bounds exactly the keys that start with the prefix', () => {
    expect(prefixSuccessor('')).toBeUndefined();
    expect(prefixSuccessor('\u{10ffff}')).toBeUndefined();
    expect(prefixSuccessor('ab')).toBe('ac');
    expect(prefixSuccessor('a\u{10ffff}')).toBe('b');
    expect(prefixSuccessor('\ud7ff')).toBe('\ue000');
    expect(prefixSuccessor('\uffff')).toBe('\u{10000}');
    for (const p of ['a', '\uffff', '\ud7ff', 'a\u{10ffff}']) {
      const succ = prefixSuccessor(p)!;
      for (const s of samples.concat(samples.map((x) => p + x))) {
        const inRange = compareKeys(s, p) >= 0 && compareKeys(s, succ) < 0;
        expect(inRange).toBe(s.startsWith(p));
      }
    }
  });
});

describe('SqliteStorage (SQLite specifics)', () => {
  it('orders keys by UTF-8 bytes, including U+FFFF before U+10000', async () => {
    const s = fresh();
    await s.createStore('st', config, T0, 'secret');
    const keys = [
      'a',
      'Z',
      'é',
      '\uffff',
      '\u{10000}',
      '\ue000',
      'ab',
      '\u{10ffff}',
      'a.b',
      'a\uffff',
      'a\u{10000}',
    ];
    await commitTo(s, 'st', { mode: 'each', mutations: keys.map((k) => put(k, k)), nowMs: T0 });
    const expected = [...keys].sort(compareKeys);
    expect(expected.indexOf('\uffff')).toBeLessThan(expected.indexOf('\u{10000}'));
    const listed = await s.scan('st', { limit: 100, values: false, nowMs: T0 });
    expect(listed.map((e) => e.key)).toEqual(expected);
    const reversed = await s.scan('st', { limit: 100, values: false, nowMs: T0, reverse: true });
    expect(reversed.map((e) => e.key)).toEqual([...expected].reverse());
    // SQL agrees too: ORDER BY on the raw table.
    const sqlOrder = s.db.prepare('SELECT key FROM entries ORDER BY key').pluck().all();
    expect(sqlOrder).toEqual(expected);
    // Prefix scans with a non-ASCII prefix and startAfter across the BMP/astral boundary.
    const withA = await s.scan('st', { prefix: 'a', limit: 100, values: false, nowMs: T0 });
    expect(withA.map((e) => e.key)).toEqual(['a', 'a.b', 'ab', 'a\uffff', 'a\u{10000}']);
    const afterFFFF = await s.scan('st', { after: '\uffff', limit: 100, values: false, nowMs: T0 });
    expect(afterFFFF.map((e) => e.key)).toEqual(['\u{10000}', '\u{10ffff}']);
    const beforeAstral = await s.scan('st', {
      prefix: 'a',
      after: 'a\u{10000}',
      reverse: true,
      limit: 2,
      values: false,
      nowMs: T0,
    });
    expect(beforeAstral.map((e) => e.key)).toEqual(['a\uffff', 'ab']);
  });

  it('uses an index range scan for every entries/history/changes/scopes query (EXPLAIN QUERY PLAN)', async () => {
    const s = fresh();
    await s.createStore('st', config, T0, 'secret');
    const big = /^(SCAN) (entries|history|changes|entry_scopes|e|s|idempotency|queue_messages|q)\b/;
    const checked: string[] = [];
    const plans = new Map<string, string>();
    for (const [name, sql] of Object.entries(s.statementSql())) {
      const params = Math.max(
        (sql.match(/\?(?!\d)/g) ?? []).length,
        ...Array.from(sql.matchAll(/\?(\d+)/g), (m) => Number(m[1])),
      );
      const plan = s.db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...Array.from({ length: params }, () => null)) as Array<{ detail: string }>;
      const details = plan.map((p) => p.detail);
      for (const d of details) {
        expect(d, `${name}: ${details.join(' | ')}`).not.toMatch(big);
        if (name.startsWith('scan:')) expect(d, `${name} sorts`).not.toMatch(/TEMP B-TREE/);
      }
      checked.push(name);
      plans.set(name, details.join(' | '));
    }
    // Not scanning the whole store is not enough: each bound of the key range must be in the index
    // search, else a prefix or `after` listing reads every key from the start (or to the end).
    for (const [name, plan] of plans) {
      const m = /^scan:(key|scope):(>=|>)?:(<)?:/.exec(name);
      if (m === null) continue;
      const search = plan.split(' | ')[0]!;
      expect(search, name).toMatch(
        m[1] === 'scope' ? /^SEARCH s .*store_id=\? AND scope=\?/ : /^SEARCH entries /,
      );
      if (m[2] === undefined) expect(search, name).not.toContain('key>?');
      else expect(search, name).toContain('key>?');
      if (m[3] === undefined) expect(search, name).not.toContain('key<?');
      else expect(search, name).toContain('key<?');
    }
    // The expiry sweep and the change log read ranges of their indexes too.
    expect(plans.get('expiredEntries')).toMatch(
      /^SEARCH e USING (COVERING )?INDEX \S+ \(expires_at>\? AND expires_at<\?\)/,
    );
    expect(plans.get('deleteExpiredIdempotency')).toMatch(
      /SEARCH idempotency USING INDEX \S+ \(expires_at<\?\)/,
    );
    expect(plans.get('changesAfter')).toContain('(store_id=? AND revision>?)');
    expect(plans.get('trimChanges')).toContain('(store_id=? AND revision<?)');
    expect(checked.filter((n) => n.startsWith('scan:'))).toHaveLength(48);
    expect(checked).toEqual(
      expect.arrayContaining(['getById', 'historyOf', 'changesAfter', 'expiredEntries']),
    );
  });

  it('persists across reopen and records the schema version', async () => {
    const path = join(dir, 'persist.sqlite');
    const a = SqliteStorage.open({ path });
    await a.createStore('st', { ...config, history: 3 }, T0, 'secret');
    await commitTo(a, 'st', { mode: 'each', mutations: [put('k', 'v1'), put('k', 'v2')], nowMs: T0 });
    // The default is NORMAL (1): WAL without an fsync per commit.
    expect(a.db.pragma('synchronous', { simple: true })).toBe(1);
    await a.close();
    const b = SqliteStorage.open({ path, synchronous: 'full' });
    opened.push(b);
    expect(b.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(b.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(b.db.pragma('synchronous', { simple: true })).toBe(2);
    const h = await b.history('st', 'k');
    expect(h.map((r) => [r.revision, new TextDecoder().decode(r.value)])).toEqual([
      [2, 'v2'],
      [1, 'v1'],
    ]);
    expect((await b.getStore('st'))?.revision).toBe(2);
  });

  it('an idempotent write and its record reach the file together: after a crash and a reopen the retry is replayed', async () => {
    const path = join(dir, 'idempotent.sqlite');
    const a = SqliteStorage.open({ path });
    await a.createStore('st', config, T0, 'secret');
    // The server dies before any record saved in a transaction of its own could be written.
    const crashing = new Proxy(a, {
      get(target, prop, receiver) {
        if (prop === 'putIdempotency') {
          return async () => {
            throw new Error('crashed before the record was saved');
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const request = () =>
      new Request('http://kv.test/v1/stores/st/entries/k', {
        method: 'PUT',
        body: 'v',
        headers: { 'content-type': 'text/plain', 'idempotency-key': 'once' },
      });
    const first = await createEngine({ storage: crashing, clock: () => T0 }).fetch(request());
    const firstBody = await first.text();
    expect(first.status, firstBody).toBe(201);
    await a.close();

    const b = SqliteStorage.open({ path });
    opened.push(b);
    const retry = await createEngine({ storage: b, clock: () => T0 + 1 }).fetch(request());
    expect(retry.status).toBe(201);
    expect(retry.headers.get('kv-idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(firstBody);
    expect((await b.getStore('st'))?.revision).toBe(1);
  });

  it('refuses a database written by a newer schema, naming the file', () => {
    const path = join(dir, 'newer.sqlite');
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => SqliteStorage.open({ path })).toThrow(
      expect.objectContaining({ reason: 'newer_schema', message: expect.stringContaining(path) }),
    );
  });

  it('refuses a corrupt file and a read-only file with a message naming the file', () => {
    const corrupt = join(dir, 'corrupt.sqlite');
    writeFileSync(corrupt, 'this is not a database, just some bytes '.repeat(200));
    let err: unknown;
    try {
      SqliteStorage.open({ path: corrupt });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatabaseOpenError);
    expect((err as DatabaseOpenError).reason).toBe('corrupt');
    expect((err as DatabaseOpenError).message).toContain(corrupt);

    const ro = join(dir, 'ro.sqlite');
    SqliteStorage.open({ path: ro }).close();
    chmodSync(ro, 0o444);
    expect(() => SqliteStorage.open({ path: ro })).toThrow(
      expect.objectContaining({ reason: 'read_only', message: expect.stringContaining(ro) }),
    );
    // The read-only mode (backup/export tools) still opens it.
    const reader = SqliteStorage.open({ path: ro, readonly: true });
    opened.push(reader);
    expect(reader.db.readonly).toBe(true);
  });

  it('group commit: concurrent commits share a transaction, yet one that throws is rolled back alone', async () => {
    const s = fresh();
    await s.createStore('st', config, T0, 'secret');
    await s.createStore('other', config, T0, 'secret');
    const results = await Promise.allSettled([
      commitTo(s, 'st', { mode: 'each', mutations: [put('a', '1')], nowMs: T0 }),
      commitTo(s, 'missing', { mode: 'each', mutations: [put('x', 'x')], nowMs: T0 }),
      commitTo(s, 'other', {
        mode: 'atomic',
        checks: [{ key: 'z', precondition: { kind: 'exists' } }],
        mutations: [put('z', 'z')],
        nowMs: T0,
      }),
      commitTo(s, 'st', { mode: 'each', mutations: [put('b', '2'), put('a', '3')], nowMs: T0 }),
      commitTo(s, 'other', { mode: 'each', mutations: [put('o', 'o')], nowMs: T0 }),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'store_not_found' });
    expect((results[2] as PromiseFulfilledResult<unknown>).value).toEqual({ ok: false, failedKeys: ['z'] });
    expect((results[3] as PromiseFulfilledResult<{ revision: number }>).value.revision).toBe(3);
    expect((await s.getStore('st'))?.revision).toBe(3);
    expect((await s.getStore('other'))?.revision).toBe(1);
    expect(await s.getStore('missing')).toBeUndefined();
    expect(new TextDecoder().decode((await s.get('st', 'a', T0))?.value)).toBe('3');
  });

  it('transaction: a fn that throws after writing is rolled back alone inside the group commit; an async fn is refused', async () => {
    const s = fresh();
    await s.createStore('st', config, T0, 'secret');
    const boom = new Error('after writing');
    // Issued in one tick: one SQLite transaction, three savepoints.
    const results = await Promise.allSettled([
      commitTo(s, 'st', { mode: 'each', mutations: [put('a', '1')], nowMs: T0 }),
      s.transaction('st', (tx) => {
        applyCommit(tx, { mode: 'each', mutations: [put('b', '2'), put('a', 'x')], nowMs: T0 });
        throw boom;
      }),
      s.transaction('st', async (tx) => {
        applyCommit(tx, { mode: 'each', mutations: [put('c', '3')], nowMs: T0 });
      }),
      commitTo(s, 'st', { mode: 'each', mutations: [put('d', '4')], nowMs: T0 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBe(boom);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
    expect((results[3] as PromiseFulfilledResult<{ revision: number }>).value.revision).toBe(2);
    const entries = await s.scan('st', { limit: 10, values: true, nowMs: T0 });
    expect(entries.map((e) => [e.key, new TextDecoder().decode(e.value), e.revision])).toEqual([
      ['a', '1', 1],
      ['d', '4', 2],
    ]);
    expect(await s.getStore('st')).toMatchObject({ revision: 2, keyCount: 2, totalBytes: 2 });
    expect((await s.changes('st', 0, 10)).map((c) => [c.key, c.revision])).toEqual([
      ['a', 1],
      ['d', 2],
    ]);
  });

  it('keeps the stats counters and scope rows consistent with the tables', async () => {
    const s = fresh();
    await s.createStore('st', { ...config, history: 2 }, T0, 'secret');
    await commitTo(s, 'st', {
      mode: 'each',
      mutations: [
        put('a', 'xx', { scopes: ['s1', 's2'] }),
        put('b', 'yyy', { scopes: ['s2'] }),
        put('c', 'z', { expiresAt: T0 + 10 }),
        put('a', 'xxxx', { scopes: ['s1'] }),
        { type: 'delete', key: 'b' },
      ],
      nowMs: T0,
    });
    const st = await s.getStore('st');
    const actual = s.db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM entries').get();
    expect(actual).toEqual({ n: st!.keyCount, bytes: st!.totalBytes });
    expect(s.db.prepare('SELECT scope, key FROM entry_scopes ORDER BY scope, key').all()).toEqual([
      { scope: 's1', key: 'a' },
    ]);
    expect((await sweepRound(s, T0 + 10, 100)).expired).toBe(1);
    const after = await s.getStore('st');
    expect(after).toMatchObject({ keyCount: 1, totalBytes: 4, revision: 6 });
  });
});

/** Overwrites page `page` (1-based) of `file` with junk. */
function junkPage(file: string, page: number, pageSize = 4096): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (page - 1) * pageSize);
  closeSync(fd);
}

/** A closed database file with store `st` holding `n` keys; returns its path. */
async function filled(name: string, n: number): Promise<string> {
  const path = join(dir, name);
  const s = SqliteStorage.open({ path });
  await s.createStore('st', config, T0, 'secret');
  await commitTo(s, 'st', {
    mode: 'each',
    mutations: Array.from({ length: n }, (_, i) => put(`k${String(i).padStart(5, '0')}`, 'v'.repeat(100))),
    nowMs: T0,
  });
  await s.close();
  return path;
}

function rootPage(path: string, table: string): number {
  const db = new Database(path, { readonly: true });
  const page = db.prepare('SELECT rootpage FROM sqlite_schema WHERE name = ?').pluck().get(table) as number;
  db.close();
  return page;
}

function middleLeaf(path: string, table: string): number {
  const db = new Database(path, { readonly: true });
  const leaves = db
    .prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno")
    .pluck()
    .all(table) as number[];
  db.close();
  return leaves[Math.floor(leaves.length / 2)]!;
}

describe('damaged files and readiness', () => {
  it('runs PRAGMA quick_check at open: a damaged middle page is refused, naming the file, unwritten', async () => {
    const path = await filled('qc.sqlite', 3000);
    junkPage(path, middleLeaf(path, 'entries'));
    const before = readFileSync(path);
    let err: unknown;
    try {
      SqliteStorage.open({ path });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatabaseOpenError);
    expect(err).toMatchObject({ reason: 'corrupt', path, message: expect.stringContaining(path) });
    expect(readFileSync(path).equals(before)).toBe(true);
    // quickCheck: false opens it (the damage shows later, when a statement reads the page).
    const unchecked = SqliteStorage.open({ path, quickCheck: false });
    opened.push(unchecked);
    expect(await unchecked.ping()).toBe(true);
  });

  it('corruption met while serving: DatabaseCorruptError (no path in the message), reported once, ping false, writes refused', async () => {
    const path = await filled('serving.sqlite', 3000);
    junkPage(path, middleLeaf(path, 'entries'));
    const reported: DatabaseCorruptError[] = [];
    const s = SqliteStorage.open({ path, quickCheck: false, onCorruption: (e) => reported.push(e) });
    opened.push(s);
    expect(s.corruption).toBeUndefined();
    const scan = s.scan('st', { limit: 5000, values: true, nowMs: T0 });
    await expect(scan).rejects.toBeInstanceOf(DatabaseCorruptError);
    const error = (await scan.catch((e: unknown) => e)) as DatabaseCorruptError;
    expect(error).toMatchObject({
      status: 500,
      code: 'internal',
      path,
      details: { reason: 'database_corrupt' },
    });
    expect(error.message).not.toContain(path);
    expect((error.cause as { code: string }).code).toMatch(/^SQLITE_CORRUPT/);
    expect(s.corruption).toBe(error);
    expect(reported).toEqual([error]);
    expect(await s.ping()).toBe(false);
    // Every write is refused before it reaches the file; reads of undamaged rows still work.
    const changes = s.db.prepare('SELECT total_changes()').pluck();
    const writesBefore = changes.get();
    await expect(commitTo(s, 'st', { mode: 'each', mutations: [put('new', 'x')], nowMs: T0 })).rejects.toBe(
      error,
    );
    await expect(s.createStore('other', config, T0, 'secret')).rejects.toBe(error);
    await expect(sweepRound(s, T0, 10)).rejects.toBe(error);
    expect(() => s.assertWritable()).toThrow(error);
    expect(changes.get()).toBe(writesBefore);
    expect((await s.getStore('st'))?.keyCount).toBe(3000);
    // A second failure is reported as the same error, once.
    await expect(s.scan('st', { limit: 5000, values: true, nowMs: T0 })).rejects.toBe(error);
    expect(reported).toHaveLength(1);
  });

  it('a corruption error in one write of a group commit rolls back the whole batch: nothing else is committed into the file', async () => {
    const path = await filled('batch.sqlite', 10);
    const s = SqliteStorage.open({ path, checkpointIntervalMs: null });
    opened.push(s);
    const revisionBefore = (await s.getStore('st'))!.revision;
    // The first write of the batch meets a damaged page (simulated: SQLite's own error code, thrown by a
    // statement of the transaction after its commit wrote).
    const first = s.transaction('st', (tx) => {
      applyCommit(tx, { mode: 'each', mutations: [put('hits.damage', 'x')], nowMs: T0 });
      throw Object.assign(new Error('database disk image is malformed'), { code: 'SQLITE_CORRUPT' });
    });
    // Issued in the same tick: one group commit.
    const second = commitTo(s, 'st', { mode: 'each', mutations: [put('innocent', 'y')], nowMs: T0 });
    const results = await Promise.allSettled([first, second]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(DatabaseCorruptError);
    expect(s.corruption).toBeInstanceOf(DatabaseCorruptError);
    expect(await s.get('st', 'innocent', T0)).toBeUndefined();
    expect((await s.getStore('st'))!.revision).toBe(revisionBefore);
    // And later batches are refused before they run.
    await expect(commitTo(s, 'st', { mode: 'each', mutations: [put('later', 'z')], nowMs: T0 })).rejects.toBe(
      s.corruption,
    );
  });

  it('ping reads a real table: false once the stores table is unreadable or the connection closed', async () => {
    const path = await filled('ping.sqlite', 10);
    const s = SqliteStorage.open({ path, checkpointIntervalMs: null });
    opened.push(s);
    expect(await s.ping()).toBe(true);
    // Damage the root page of `stores`, then commit from another connection so this one drops its page
    // cache and reads the file again (SELECT 1 would still answer).
    junkPage(path, rootPage(path, 'stores'));
    const other = new Database(path);
    other.exec('CREATE TABLE touch (x)');
    other.close();
    expect(await s.ping()).toBe(false);
    expect(s.corruption).toBeInstanceOf(DatabaseCorruptError);

    const t = fresh();
    expect(await t.ping()).toBe(true);
    t.db.close(); // behind the storage's back
    expect(await t.ping()).toBe(false);
    await t.close().catch(() => {});
  });

  it('classifyOpenError names the file for every SQLite error', () => {
    const path = '/srv/kv.sqlite';
    const err = (code: string) => Object.assign(new Error('boom'), { code });
    expect(classifyOpenError(path, err('SQLITE_CORRUPT'))).toMatchObject({ reason: 'corrupt' });
    expect(classifyOpenError(path, err('SQLITE_CORRUPT_INDEX'))).toMatchObject({ reason: 'corrupt' });
    expect(classifyOpenError(path, err('SQLITE_NOTADB'))).toMatchObject({ reason: 'corrupt' });
    expect(classifyOpenError(path, err('SQLITE_READONLY_DBMOVED'))).toMatchObject({ reason: 'read_only' });
    expect(classifyOpenError(path, err('SQLITE_IOERR'))).toMatchObject({ reason: 'cannot_open' });
    for (const code of ['SQLITE_CORRUPT', 'SQLITE_READONLY', 'SQLITE_IOERR']) {
      expect(classifyOpenError(path, err(code)).message).toContain(path);
    }
    const already = new DatabaseOpenError(path, 'newer_schema', 'x');
    expect(classifyOpenError(path, already)).toBe(already);
  });
});

/**
 * The queue rows of `SqliteStorage` (`queue_messages`, schema version 4), what is SQLite's own: durability
 * across a reopen, the group commit, the migration of an older file, and the query plans. The contract
 * cases are the shared storage suite's (`sqlite-storage.test.ts`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueMessage, Storage } from '@kv/engine';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { allBytes, committed, dueIds, inTx, message, putAll, T0 } from '../test/queue-rows.js';
import { MIGRATIONS } from './schema.js';
import { SqliteStorage } from './sqlite-storage.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-sqlite-queue-'));
let seq = 0;
const opened: Storage[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh storage on its own file (closed after the test). */
function fresh(path = join(dir, `db-${++seq}.sqlite`)): SqliteStorage {
  const storage = SqliteStorage.open({ path });
  opened.push(storage);
  return storage;
}

const config = { history: 1, defaultTtlMs: null, maxValueBytes: 1 << 20 };

describe('SqliteStorage queue rows (SQLite specifics)', () => {
  it('messages are in the file once the transaction resolved: they survive a close and a reopen', async () => {
    const path = join(dir, 'durable.sqlite');
    const a = SqliteStorage.open({ path });
    await a.createStore('q', config, T0, 'secret');
    const bytes = allBytes();
    await putAll(a, [
      message('m1', { value: bytes, keysIfUndelivered: ['dead/m1'], backoffScheduleMs: [] }),
      message('m2', { attempts: 2, leaseId: 'l', leaseExpiresAt: T0 + 9, visibleAt: T0 + 10 }),
      message('m3', { value: new Uint8Array(0) }),
    ]);
    await inTx(a, function* (tx) {
      yield tx.deleteMessage('m3');
    });
    await a.close();
    const b = fresh(path);
    expect(await committed(b, 'm1')).toEqual(
      message('m1', { value: bytes, keysIfUndelivered: ['dead/m1'], backoffScheduleMs: [] }),
    );
    expect(await committed(b, 'm2')).toEqual(
      message('m2', { attempts: 2, leaseId: 'l', leaseExpiresAt: T0 + 9, visibleAt: T0 + 10 }),
    );
    expect(await committed(b, 'm3')).toBeUndefined();
    expect(await b.queueStats('q', T0)).toEqual({ ready: 1, delayed: 0, inFlight: 1, nextVisibleAt: T0 });
  });

  it('a queue-only transaction joins the group commit: one that throws is rolled back alone', async () => {
    const s = fresh();
    await s.createStore('q', config, T0, 'secret');
    const boom = new Error('this one fails');
    // Issued in one event-loop turn: one SQLite transaction, each in its own savepoint.
    const results = await Promise.allSettled([
      putAll(s, [message('a')]),
      inTx(s, function* (tx) {
        yield tx.putMessage(message('b'));
        yield tx.deleteMessage('a');
        throw boom;
      }),
      putAll(s, [message('c')]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await dueIds(s, T0, 10)).toEqual(['a', 'c']);
    // Nothing is left open: the next transaction commits.
    await putAll(s, [message('d')]);
    expect(await dueIds(s, T0, 10)).toEqual(['a', 'c', 'd']);
  });

  it('an async fn is refused and leaves no message behind', async () => {
    const s = fresh();
    await s.createStore('q', config, T0, 'secret');
    await expect(
      s.transaction('q', async (tx) => {
        tx.putMessage(message('a'));
      }),
    ).rejects.toThrow(TypeError);
    expect(await committed(s, 'a')).toBeUndefined();
  });

  it('migrates a schema-3 file to version 4: entries kept, queue_messages added and usable', async () => {
    const path = join(dir, 'v3.sqlite');
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    for (const m of MIGRATIONS.filter((m) => m.version <= 3)) old.exec(m.sql);
    old.pragma('user_version = 3');
    old
      .prepare(
        `INSERT INTO stores (name, history, default_ttl_ms, max_value_bytes, created_at, updated_at, signing_secret)
         VALUES ('q', 1, NULL, 1048576, ?, ?, 'secret')`,
      )
      .run(T0, T0);
    old.close();

    const s = fresh(path);
    expect(MIGRATIONS.length).toBeGreaterThanOrEqual(4);
    expect(s.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect((await s.getStore('q'))?.name).toBe('q');
    expect(await s.queueStats('q', T0)).toEqual({ ready: 0, delayed: 0, inFlight: 0, nextVisibleAt: null });
    await putAll(s, [message('m')]);
    expect(await committed(s, 'm')).toEqual(message('m'));
  });

  it('dueMessages and queueStats read ranges of queue_messages_due (EXPLAIN QUERY PLAN), without sorting', async () => {
    const s = fresh();
    const sql = s.statementSql();
    const plan = (name: string, params: number): string =>
      (
        s.db
          .prepare(`EXPLAIN QUERY PLAN ${sql[name]}`)
          .all(...Array.from({ length: params }, () => null)) as Array<{
          detail: string;
        }>
      )
        .map((p) => p.detail)
        .join(' | ');
    const due = plan('dueMessages', 3);
    expect(due).toMatch(
      /SEARCH queue_messages USING INDEX queue_messages_due \(store_id=\? AND visible_at<\?\)/,
    );
    expect(due).not.toMatch(/TEMP B-TREE/);
    expect(plan('queueCounts', 2)).toMatch(
      /SEARCH q USING COVERING INDEX queue_messages_due \(store_id=\?\)/,
    );
    expect(plan('getMessage', 2)).toMatch(
      /SEARCH queue_messages USING INDEX sqlite_autoindex_queue_messages_1 \(store_id=\? AND id=\?\)/,
    );
    expect(plan('deleteMessage', 2)).toMatch(/\(store_id=\? AND id=\?\)/);
    expect(plan('deleteStoreData.4', 1)).toMatch(
      /SEARCH queue_messages USING (COVERING )?INDEX \S+ \(store_id=\?\)/,
    );
  });

  it('a leased batch is one transaction: every message of it or none', async () => {
    const s = fresh();
    await s.createStore('q', config, T0, 'secret');
    await putAll(
      s,
      Array.from({ length: 20 }, (_, i) => message(`m${String(i).padStart(2, '0')}`, { visibleAt: T0 + i })),
    );
    // A lease of 10 as the engine does it: the due ones, each put back leased.
    const leased = await inTx(s, function* (tx) {
      const due = (yield tx.dueMessages(T0 + 100, 10)) as QueueMessage[];
      for (const m of due) {
        yield tx.putMessage({
          ...m,
          attempts: m.attempts + 1,
          leaseId: `lease-${m.id}`,
          leaseExpiresAt: T0 + 30_000,
          visibleAt: T0 + 31_000,
        });
      }
      return due.map((m) => m.id);
    });
    expect(leased).toEqual(Array.from({ length: 10 }, (_, i) => `m${String(i).padStart(2, '0')}`));
    expect(await s.queueStats('q', T0 + 100)).toEqual({
      ready: 10,
      delayed: 0,
      inFlight: 10,
      nextVisibleAt: T0 + 10,
    });
    expect(await dueIds(s, T0 + 100, 100)).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${String(i + 10).padStart(2, '0')}`),
    );
  });
});

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KvCache, type KvCacheOptions } from './cache.js';
import { entryOf, type NewCacheRecord, recordFromDecoded, tombstone } from './record.js';

const open: KvCache[] = [];

function makeCache(options: KvCacheOptions = {}): KvCache {
  const cache = new KvCache({ indexedDB: new IDBFactory(), broadcast: false, ...options });
  open.push(cache);
  return cache;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function rec(key: string, value: unknown, revision: number, store = 's'): NewCacheRecord {
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : undefined;
  const record = recordFromDecoded(
    store,
    {
      key,
      id: `id-${key}`,
      revision,
      contentType: bytes ? 'text/plain; charset=utf-8' : 'application/json',
      metadata: null,
      scopes: [],
      createdAt: '2024-01-01T00:00:00.000Z',
      updatedAt: '2024-01-01T00:00:00.000Z',
      expiresAt: null,
      resume: false,
      size: bytes?.byteLength ?? JSON.stringify(value).length,
    },
    value,
  );
  if (!record) throw new Error('unencodable');
  return record;
}

describe('KvCache records', () => {
  it('stores a record and reads it back from IndexedDB in a new instance', async () => {
    const factory = new IDBFactory();
    const a = makeCache({ indexedDB: factory });
    await a.put(rec('k', { n: 1 }, 3));
    await a.close();
    const b = makeCache({ indexedDB: factory });
    const got = await b.get('s', 'k');
    expect(got?.revision).toBe(3);
    expect(got?.etag).toBe('"3"');
    expect(entryOf(got!).value).toEqual({ n: 1 });
    expect(got?.exact).toBe(false);
  });

  it('an older write committing after a newer eager one does not roll the memory layer back', async () => {
    const cache = makeCache();
    // A read-through write of revision 1 is still in IndexedDB when a live event puts revision 2 eagerly.
    const older = cache.put(rec('k', 'off', 1));
    const newer = cache.put(rec('k', 'on', 2), { eager: true });
    await older;
    expect(cache.peek('s', 'k')?.revision).toBe(2);
    await newer;
    expect(cache.peek('s', 'k')?.revision).toBe(2);
    expect(entryOf((await cache.get('s', 'k'))!).value).toBe('on');
  });

  it('never goes back in revision, and replaces on an equal revision', async () => {
    const cache = makeCache();
    await cache.put(rec('k', 'new', 5));
    expect(await cache.put(rec('k', 'old', 4))).toBeUndefined();
    expect(entryOf((await cache.get('s', 'k'))!).value).toBe('new');
    const again = await cache.put({ ...rec('k', 'new', 5), metadata: { a: 1 } });
    expect(again?.metadata).toEqual({ a: 1 });
    cache.dropMemory();
    expect((await cache.get('s', 'k'))?.metadata).toEqual({ a: 1 });
  });

  it('keeps namespaces apart', async () => {
    const factory = new IDBFactory();
    const a = makeCache({ indexedDB: factory, namespace: 'a' });
    const b = makeCache({ indexedDB: factory, namespace: 'b' });
    await a.put(rec('k', 'from a', 1));
    expect(await b.get('s', 'k')).toBeUndefined();
    expect((await a.get('s', 'k'))?.present).toBe(true);
  });

  it('stores tombstones', async () => {
    const cache = makeCache();
    await cache.put(rec('k', 'v', 1));
    await cache.put(tombstone('s', 'k', 2));
    const got = await cache.get('s', 'k');
    expect(got?.present).toBe(false);
    expect(got?.revision).toBe(2);
  });

  it('does not return expired entries', async () => {
    let now = 1_000_000;
    const cache = makeCache({ now: () => now });
    await cache.put({ ...rec('k', 'v', 1), expiresAt: new Date(now + 1000).toISOString() });
    expect(await cache.get('s', 'k')).toBeDefined();
    now += 1000;
    expect(await cache.get('s', 'k')).toBeUndefined();
    expect(cache.peek('s', 'k')).toBeUndefined();
    expect((await cache.stats()).entries).toBe(0);
  });

  it('confirm() refreshes cachedAt only for the same revision', async () => {
    let now = 100;
    const cache = makeCache({ now: () => now });
    await cache.put(rec('k', 'v', 7));
    now = 500;
    expect(await cache.confirm('s', 'k', 6)).toBeUndefined();
    expect((await cache.get('s', 'k'))?.cachedAt).toBe(100);
    expect((await cache.confirm('s', 'k', 7))?.cachedAt).toBe(500);
    await cache.flushAccessTimes();
    cache.dropMemory();
    expect((await cache.get('s', 'k'))?.cachedAt).toBe(500);
  });

  it('does not store values over maxEntryBytes and drops the older record of that key', async () => {
    const cache = makeCache({ maxEntryBytes: 4 });
    await cache.put(rec('k', 'abc', 1));
    expect(await cache.put(rec('k', 'abcdef', 2))).toBeUndefined();
    expect(await cache.get('s', 'k')).toBeUndefined();
    expect(await cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('load() returns the live records of one store in key order', async () => {
    const cache = makeCache();
    await cache.putMany([
      rec('b', '2', 2),
      rec('a', '1', 1),
      rec('x', '9', 3, 'other'),
      tombstone('s', 'c', 4),
    ]);
    cache.dropMemory();
    const loaded = await cache.load('s');
    expect(loaded.map((r) => r.key)).toEqual(['a', 'b']);
    expect(cache.peek('s', 'a')?.revision).toBe(1);
  });

  it('lets another tab delete the database, then opens it again', async () => {
    const factory = new IDBFactory();
    const cache = makeCache({ indexedDB: factory, name: 'deleted' });
    await cache.put(rec('k', 'v', 1));
    await new Promise<void>((resolve, reject) => {
      const request = factory.deleteDatabase('deleted');
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
    });
    cache.dropMemory();
    expect(await cache.get('s', 'k')).toBeUndefined();
    await cache.put(rec('k', 'again', 2));
    expect((await cache.get('s', 'k'))?.revision).toBe(2);
  });

  it('deleteStore() and clear() remove records and keep totals right', async () => {
    const cache = makeCache();
    await cache.putMany([rec('a', 'xx', 1), rec('b', 'yyy', 2), rec('a', 'z', 3, 'other')]);
    expect(await cache.stats()).toMatchObject({ entries: 3, bytes: 6 });
    await cache.deleteStore('s');
    expect(await cache.get('s', 'a')).toBeUndefined();
    expect(await cache.stats()).toMatchObject({ entries: 1, bytes: 1 });
    await cache.clear();
    expect(await cache.get('other', 'a')).toBeUndefined();
    expect(await cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});

describe('KvCache bounds (LRU)', () => {
  it('evicts the least recently used record past maxEntries', async () => {
    let now = 1;
    const cache = makeCache({ maxEntries: 2, now: () => now++ });
    await cache.put(rec('a', 'a', 1));
    await cache.put(rec('b', 'b', 2));
    await cache.get('s', 'a'); // a is now more recent than b
    await cache.put(rec('c', 'c', 3));
    cache.dropMemory();
    expect(await cache.get('s', 'b')).toBeUndefined();
    expect(await cache.get('s', 'a')).toBeDefined();
    expect(await cache.get('s', 'c')).toBeDefined();
    expect((await cache.stats()).entries).toBe(2);
  });

  it('evicts past maxBytes, never the record just written', async () => {
    let now = 1;
    const cache = makeCache({ maxBytes: 10, now: () => now++ });
    await cache.put(rec('a', '1234', 1));
    await cache.put(rec('b', '1234', 2));
    await cache.put(rec('c', '12345678', 3));
    expect(await cache.stats()).toMatchObject({ entries: 1, bytes: 8 });
    expect(await cache.get('s', 'c')).toBeDefined();
  });

  it('never evicts a record holding a pending offline write', async () => {
    let now = 1;
    const cache = makeCache({ maxEntries: 1, now: () => now++ });
    await cache.enqueue({ store: 's', key: 'p', op: 'set', bytes: new Uint8Array([1]) });
    await cache.put(rec('a', 'a', 1));
    await cache.put(rec('b', 'b', 2));
    cache.dropMemory();
    expect((await cache.get('s', 'p'))?.pending).toBe(true);
    expect(await cache.get('s', 'a')).toBeUndefined();
  });
});

describe('KvCache offline queue', () => {
  it('derives each write base: cached revision, absent, then chained to the previous write', async () => {
    const cache = makeCache();
    await cache.put(rec('known', 'v', 9));
    const a = await cache.enqueue({ store: 's', key: 'known', op: 'set', bytes: new Uint8Array([1]) });
    const b = await cache.enqueue({ store: 's', key: 'new', op: 'set', bytes: new Uint8Array([2]) });
    const c = await cache.enqueue({ store: 's', key: 'known', op: 'delete' });
    expect(a.base).toEqual({ kind: 'revision', revision: 9 });
    expect(b.base).toEqual({ kind: 'absent' });
    expect(c.base).toEqual({ kind: 'previous' });
    expect((await cache.queued()).map((q) => q.seq)).toEqual([a.seq, b.seq, c.seq]);
    const known = await cache.get('s', 'known');
    expect(known).toMatchObject({ present: false, pending: true });
    expect((await cache.get('s', 'new'))?.pending).toBe(true);
  });

  it('keeps pending records against later server data until settled', async () => {
    const cache = makeCache();
    await cache.enqueue({
      store: 's',
      key: 'k',
      op: 'set',
      bytes: new TextEncoder().encode('mine'),
      contentType: 'text/plain',
    });
    expect(await cache.put(rec('k', 'theirs', 50))).toBeUndefined();
    expect(entryOf((await cache.get('s', 'k'))!).value).toBe('mine');
  });

  it('settle(applied) passes the revision on to the chained write, then un-pends the record', async () => {
    const cache = makeCache();
    const first = await cache.enqueue({ store: 's', key: 'k', op: 'set', bytes: new Uint8Array([1]) });
    const second = await cache.enqueue({ store: 's', key: 'k', op: 'set', bytes: new Uint8Array([2]) });
    await cache.settle(first.seq, { applied: 11, id: 'the-id' });
    const [left] = await cache.queued();
    expect(left).toMatchObject({ seq: second.seq, base: { kind: 'revision', revision: 11 } });
    expect((await cache.get('s', 'k'))?.pending).toBe(true);
    await cache.settle(second.seq, { applied: 12 });
    cache.dropMemory();
    const record = await cache.get('s', 'k');
    expect(record).toMatchObject({ pending: false, revision: 12, id: 'the-id', etag: '"12"' });
    expect([...(record?.bytes ?? [])]).toEqual([2]);
    expect(await cache.queued()).toEqual([]);
  });

  it('settle(dropped) drops the chained writes and evicts the record', async () => {
    const cache = makeCache();
    const first = await cache.enqueue({ store: 's', key: 'k', op: 'set', bytes: new Uint8Array([1]) });
    const second = await cache.enqueue({ store: 's', key: 'k', op: 'delete' });
    const other = await cache.enqueue({ store: 's', key: 'o', op: 'set', bytes: new Uint8Array([3]) });
    const { dropped } = await cache.settle(first.seq, { dropped: true });
    expect(dropped.map((d) => d.seq)).toEqual([second.seq]);
    expect((await cache.queued()).map((q) => q.seq)).toEqual([other.seq]);
    expect(await cache.get('s', 'k')).toBeUndefined();
    expect(await cache.stats()).toMatchObject({ entries: 1, queued: 1 });
  });

  it('clear() keeps queued writes unless asked', async () => {
    const cache = makeCache();
    await cache.enqueue({ store: 's', key: 'k', op: 'set', bytes: new Uint8Array([1]) });
    await cache.clear();
    expect((await cache.stats()).queued).toBe(1);
    expect((await cache.get('s', 'k'))?.pending).toBe(true);
    await cache.clear({ queue: true });
    expect(await cache.stats()).toMatchObject({ queued: 0, entries: 0 });
  });
});

describe('KvCache across tabs', () => {
  it('two instances on one database stay consistent; broadcasts drop stale memory records', async () => {
    const factory = new IDBFactory();
    const name = `tabs-${Math.random()}`;
    const tabA = makeCache({ indexedDB: factory, name, broadcast: true });
    const tabB = makeCache({ indexedDB: factory, name, broadcast: true });
    await tabA.put(rec('k', 'one', 1));
    expect(entryOf((await tabB.get('s', 'k'))!).value).toBe('one');
    const seen = new Promise<[string | undefined, string | undefined]>((resolve) => {
      tabB.onRemoteChange((store, key) => resolve([store, key]));
    });
    await tabA.put(rec('k', 'two', 2));
    expect(await seen).toEqual(['s', 'k']);
    expect(tabB.peek('s', 'k')).toBeUndefined();
    expect(entryOf((await tabB.get('s', 'k'))!).value).toBe('two');
  });

  it('concurrent writers keep the totals exact', async () => {
    const factory = new IDBFactory();
    const tabA = makeCache({ indexedDB: factory });
    const tabB = makeCache({ indexedDB: factory });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? tabA : tabB).put(rec(`k${i % 5}`, 'x'.repeat(i + 1), i + 1)),
      ),
    );
    const stats = await tabA.stats();
    expect(stats.entries).toBe(5);
    // The last writer of each key (highest revision) wins: i = 15..19 -> sizes 16..20.
    expect(stats.bytes).toBe(16 + 17 + 18 + 19 + 20);
  });
});

/**
 * Counts the IndexedDB transactions opened from now on, by mode (`idb` calls the database's own
 * `transaction`, which fake-indexeddb/auto installs as the global `IDBDatabase`).
 */
function countTransactions(): { readonly: number; readwrite: number; restore(): void } {
  const counts = { readonly: 0, readwrite: 0 };
  const original = IDBDatabase.prototype.transaction;
  const spy = vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (
    this: IDBDatabase,
    ...args: Parameters<IDBDatabase['transaction']>
  ) {
    counts[args[1] === 'readwrite' ? 'readwrite' : 'readonly'] += 1;
    return original.apply(this, args);
  });
  return Object.assign(counts, { restore: () => spy.mockRestore() });
}

/** A cache whose records of `keys` are in IndexedDB only (as after a page reload). */
async function reloaded(keys: string[], options: KvCacheOptions = {}): Promise<KvCache> {
  const factory = new IDBFactory();
  const before = makeCache({ indexedDB: factory, ...options });
  await before.putMany(keys.map((key, i) => rec(key, `value ${key}`, i + 1)));
  await before.close();
  const after = makeCache({ indexedDB: factory, ...options });
  await after.stats(); // opens the database before counting
  return after;
}

describe('KvCache batched reads', () => {
  const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);

  it('getMany() reads every key missing from memory in one readonly transaction', async () => {
    const cache = await reloaded(keys);
    const count = countTransactions();
    const records = await cache.getMany('s', [...keys, 'absent', 'k0']);
    count.restore();
    expect(count).toMatchObject({ readonly: 1, readwrite: 0 });
    expect([...records.keys()]).toEqual(keys);
    expect(entryOf(records.get('k7')!).value).toBe('value k7');
    // Now in memory: no transaction at all.
    const again = countTransactions();
    expect((await cache.getMany('s', keys)).size).toBe(50);
    again.restore();
    expect(again).toMatchObject({ readonly: 0, readwrite: 0 });
  });

  it('get() calls issued in the same tick share one transaction; awaited one by one, one each', async () => {
    const cache = await reloaded(keys);
    const count = countTransactions();
    const records = await Promise.all(keys.slice(0, 25).map((key) => cache.get('s', key)));
    expect(count).toMatchObject({ readonly: 1, readwrite: 0 });
    expect(records.map((r) => r?.key)).toEqual(keys.slice(0, 25));
    for (const key of keys.slice(25, 30)) await cache.get('s', key);
    count.restore();
    expect(count).toMatchObject({ readonly: 6, readwrite: 0 });
  });

  it('the same key read twice in one batch is read once and answers both', async () => {
    const cache = await reloaded(['a']);
    const [first, second] = await Promise.all([cache.get('s', 'a'), cache.get('s', 'a')]);
    expect(first).toBeDefined();
    expect(second).toBe(first);
  });

  it('a batch removes the expired records it finds and returns the others', async () => {
    const factory = new IDBFactory();
    const before = makeCache({ indexedDB: factory });
    const past = { ...rec('old', 'x', 1), expiresAt: '2000-01-01T00:00:00.000Z' };
    await before.putMany([past, rec('live', 'y', 2)]);
    await before.close();
    const cache = makeCache({ indexedDB: factory });
    const records = await cache.getMany('s', ['old', 'live']);
    expect([...records.keys()]).toEqual(['live']);
    expect((await cache.stats()).entries).toBe(1);
  });

  it('a failed batch rejects every read in it', async () => {
    const closed = makeCache();
    await closed.close();
    const reads = [closed.get('s', 'a'), closed.get('s', 'b')];
    await expect(Promise.all(reads)).rejects.toThrow(/closed/);
    await expect(reads[1]).rejects.toThrow(/closed/);
  });

  it('a dense batch reads its key range with one getAll, a sparse one key by key', async () => {
    const factory = new IDBFactory();
    const before = makeCache({ indexedDB: factory });
    const stored = Array.from({ length: 100 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    await before.putMany(stored.map((key, i) => rec(key, key, i + 1)));
    await before.putMany(stored.map((key, i) => rec(key, `other ${key}`, i + 1, 'other')));
    await before.close();
    const cache = makeCache({ indexedDB: factory });
    await cache.stats();
    const getAll = vi.spyOn(IDBObjectStore.prototype, 'getAll');
    const get = vi.spyOn(IDBObjectStore.prototype, 'get');
    try {
      // 20 keys (one absent) within a range of 21 records: one getAll.
      const dense = [...stored.slice(10, 31).filter((_, i) => i !== 5), 'k020x'];
      const records = await cache.getMany('s', dense);
      expect(getAll).toHaveBeenCalledTimes(1);
      expect(get).not.toHaveBeenCalled();
      expect([...records.keys()]).toEqual(dense.slice(0, -1));
      expect(entryOf(records.get('k012')!).value).toBe('k012');
      expect(records.has('k015')).toBe(false); // in the range, not asked for
      // 16 keys (none in memory) spread over a range of 61 records: one get each.
      const sparse = stored.filter((_, i) => i >= 36 && i % 4 === 0);
      getAll.mockClear();
      const spread = await cache.getMany('s', sparse);
      expect(getAll).not.toHaveBeenCalled();
      expect(get).toHaveBeenCalledTimes(16);
      expect([...spread.keys()]).toEqual(sparse);
    } finally {
      getAll.mockRestore();
      get.mockRestore();
    }
  });

  it('access times wait for reads to pause (at most 5 s) before they are written', async () => {
    const cache = await reloaded(keys);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const count = countTransactions();
    try {
      for (let i = 0; i < 4; i++) {
        await cache.get('s', keys[i] as string);
        await vi.advanceTimersByTimeAsync(900);
      }
      expect(count.readwrite).toBe(0); // reads never paused for 1 s
      await vi.advanceTimersByTimeAsync(200);
      expect(count.readwrite).toBe(1);
      for (let i = 4; i < 20; i++) {
        await cache.get('s', keys[i] as string);
        await vi.advanceTimersByTimeAsync(400);
      }
      expect(count.readwrite).toBe(2); // flushed 5 s after the first read, though reads went on
    } finally {
      count.restore();
      vi.useRealTimers();
    }
  });

  it('access times of batched reads reach IndexedDB in one write and drive LRU eviction', async () => {
    let now = 1;
    const factory = new IDBFactory();
    const options = { indexedDB: factory, maxEntries: 3, now: () => now++ };
    const before = makeCache(options);
    for (const key of ['a', 'b', 'c']) await before.put(rec(key, key, now));
    await before.close();
    const cache = makeCache(options);
    await cache.stats();
    await cache.getMany('s', ['a', 'b']); // c is now the least recently used
    const count = countTransactions();
    await cache.flushAccessTimes();
    count.restore();
    expect(count).toMatchObject({ readonly: 0, readwrite: 1 });
    await cache.put(rec('d', 'd', 10));
    cache.dropMemory();
    expect(await cache.get('s', 'c')).toBeUndefined();
    expect((await cache.getMany('s', ['a', 'b', 'd'])).size).toBe(3);
  });
});

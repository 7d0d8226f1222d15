import 'fake-indexeddb/auto';
import { validateMetadata } from '@kv/core/protocol';
import { createEngine, type Engine, MemoryStorage } from '@kv/engine';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type BrowserCacheOptions,
  type BrowserClient,
  createClient,
  type KvClient,
  NetworkError,
  RevisionMismatchError,
  type SetOptions,
  type WriteConflict,
} from './index.js';

const URL_ = 'http://kv.test';

let engine: Engine;
let requests: Request[];
let down: boolean;
const clients: Array<{ close(): Promise<void> }> = [];

function networkFetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  requests.push(request.clone());
  if (down) return Promise.reject(new TypeError('Failed to fetch'));
  return engine.fetch(request);
}

function cached(cache: BrowserCacheOptions = {}, factory: IDBFactory = new IDBFactory()): BrowserClient {
  const client = createClient({
    url: URL_,
    fetch: networkFetch,
    retry: false,
    cache: { indexedDB: factory, broadcast: false, ...cache },
  });
  clients.push(client);
  return client;
}

/** A second client with no cache: "another device" writing to the same server. */
function other(): KvClient {
  return createClient({ url: URL_, fetch: (i, init) => engine.fetch(new Request(i, init)), retry: false });
}

beforeEach(async () => {
  engine = createEngine({ storage: new MemoryStorage() });
  requests = [];
  down = false;
  await other().stores.create('s');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const entryRequests = (): Request[] => requests.filter((r) => r.url.includes('/entries/'));

describe('read-through', () => {
  it('a read by id caches the entry under its key as written (Kv-Key is percent-decoded)', async () => {
    const key = 'a/b,ü%';
    const written = await other().store('s').set(key, 'v');
    const kv = cached({ maxAgeMs: 60_000 });
    expect((await kv.store('s').getEntryById(written.id))?.key).toBe(key);
    expect(await kv.store('s').get(key)).toBe('v');
    expect(requests).toHaveLength(1);
    expect(kv.cacheCounters.hits).toBe(1);
    expect(await kv.cache?.get('s', encodeURIComponent(key))).toBeUndefined();
  });

  it('an entry response with unreadable Kv-Metadata is rejected and not cached', async () => {
    await other()
      .store('s')
      .set('k', 'v', { metadata: { owner: 'ü' } });
    let corrupt = true;
    const kv = createClient({
      url: URL_,
      retry: false,
      cache: { indexedDB: new IDBFactory(), broadcast: false, maxAgeMs: 60_000 },
      fetch: async (input, init) => {
        const response = await networkFetch(input, init);
        if (!corrupt || !response.headers.has('kv-metadata')) return response;
        const headers = new Headers(response.headers);
        headers.set('kv-metadata', '%7B%22owner');
        return new Response(response.body, { status: response.status, headers });
      },
    });
    clients.push(kv);
    await expect(kv.store('s').getEntry('k')).rejects.toMatchObject({ code: 'invalid_response' });
    corrupt = false;
    expect(await kv.store('s').getEntry('k')).toMatchObject({ value: 'v', metadata: { owner: 'ü' } });
    expect(entryRequests()).toHaveLength(2);
  });

  it('serves a fresh entry with no request', async () => {
    await other().store('s').set('k', { n: 1 });
    const kv = cached({ maxAgeMs: 60_000 });
    const first = await kv.store('s').getEntry('k');
    expect(first?.value).toEqual({ n: 1 });
    expect(requests).toHaveLength(1);
    const again = await kv.store('s').getEntry('k');
    expect(again).toEqual(first);
    expect(await kv.store('s').get('k')).toEqual({ n: 1 });
    expect(await kv.store('s').getJson('k')).toEqual({ n: 1 });
    expect(await kv.store('s').getText('k')).toBe('{"n":1}');
    expect(await kv.store('s').exists('k')).toBe(true);
    expect(requests).toHaveLength(1);
    expect(kv.cacheCounters.hits).toBe(5);
  });

  it('revalidates a stale entry with If-None-Match; a 304 keeps the cached bytes', async () => {
    const written = await other().store('s').set('k', 'hello');
    const kv = cached({ maxAgeMs: 0 });
    expect(await kv.store('s').getText('k')).toBe('hello');
    const entry = await kv.store('s').getEntry('k');
    expect(entry).toMatchObject({ value: 'hello', revision: written.revision, id: written.id });
    expect(requests).toHaveLength(2);
    expect(requests[1]?.headers.get('if-none-match')).toBe(`"${written.revision}"`);
    expect(kv.cacheCounters.notModified).toBe(1);
    expect(await kv.store('s').getBytes('k')).toEqual(new TextEncoder().encode('hello'));
  });

  it('a stale entry changed on the server is replaced by the new value', async () => {
    await other().store('s').set('k', 'one');
    const kv = cached({ maxAgeMs: 0 });
    expect(await kv.store('s').get('k')).toBe('one');
    const second = await other()
      .store('s')
      .set('k', 'two', { metadata: { v: 2 } });
    const entry = await kv.store('s').getEntry('k');
    expect(entry).toMatchObject({ value: 'two', revision: second.revision, metadata: { v: 2 } });
    expect(kv.cacheCounters.notModified).toBe(0);
  });

  it('a store deleted and created again elsewhere (revisions restart) does not pin old entries', async () => {
    for (let i = 0; i < 5; i++) await other().store('s').set('k', `old ${i}`);
    const kv = cached({ maxAgeMs: 0 });
    expect(await kv.store('s').get('k')).toBe('old 4');
    await other().stores.delete('s');
    await other().stores.create('s');
    const fresh = await other().store('s').set('k', 'new');
    expect(await kv.store('s').get('k')).toBe('new');
    await kv.cache?.settled();
    requests = [];
    expect(await kv.store('s').getEntry('k')).toMatchObject({ value: 'new', revision: fresh.revision });
    expect(requests[0]?.headers.get('if-none-match')).toBe(`"${fresh.revision}"`);
  });

  it('caches a missing key as a tombstone', async () => {
    const kv = cached({ maxAgeMs: 60_000 });
    expect(await kv.store('s').get('nope')).toBeUndefined();
    expect(await kv.store('s').getEntry('nope')).toBeUndefined();
    expect(await kv.store('s').exists('nope')).toBe(false);
    expect(entryRequests()).toHaveLength(1);
  });

  it('getMany answers cached keys from the cache and fetches the rest in one request', async () => {
    await other()
      .store('s')
      .setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 'two' },
      ]);
    const kv = cached({ maxAgeMs: 60_000 });
    await kv.store('s').get('a');
    requests = [];
    const many = await kv.store('s').getMany(['a', 'b', 'c']);
    expect([...many.keys()]).toEqual(['a', 'b', 'c']);
    expect(many.get('a')?.value).toBe(1);
    expect(many.get('b')?.value).toBe('two');
    expect(many.get('c')).toBeUndefined();
    expect(requests).toHaveLength(1);
    const body = (await requests[0]?.clone().json()) as { keys: string[] };
    expect(body.keys).toEqual(['b', 'c']);
    requests = [];
    await kv.store('s').getMany(['a', 'b', 'c']);
    expect(requests).toHaveLength(0);
  });

  it('preload() loads a store from IndexedDB for a new client on the same database', async () => {
    const factory = new IDBFactory();
    await other()
      .store('s')
      .setMany(Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: i })));
    const first = cached({ maxAgeMs: 60_000 }, factory);
    await first.store('s').list({ values: true });
    await first.close();
    requests = [];
    const second = cached({ maxAgeMs: 60_000 }, factory);
    expect(await second.store('s').preload()).toBe(20);
    const many = await second.store('s').getMany(Array.from({ length: 20 }, (_, i) => `k${i}`));
    expect([...many.values()].map((e) => e?.value)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(requests).toHaveLength(0);
  });
});

describe('reads after a reload (new client, records in IndexedDB only)', () => {
  const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);

  /** Caches `keys` with one client, closes it and returns a new client on the same database. */
  async function afterReload(cache: BrowserCacheOptions): Promise<BrowserClient> {
    const factory = new IDBFactory();
    await other()
      .store('s')
      .setMany(keys.map((key, i) => ({ key, value: i })));
    const first = cached(cache, factory);
    await first.store('s').list({ values: true });
    await first.close();
    const second = cached(cache, factory);
    await second.cache?.stats(); // opens the database before counting
    requests = [];
    return second;
  }

  /** Counts the readonly IndexedDB transactions opened while `run` runs. */
  async function readTransactions<T>(run: () => Promise<T>): Promise<{ result: T; readonly: number }> {
    let readonly = 0;
    const original = IDBDatabase.prototype.transaction;
    const spy = vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (
      this: IDBDatabase,
      ...args: Parameters<IDBDatabase['transaction']>
    ) {
      if (args[1] !== 'readwrite') readonly += 1;
      return original.apply(this, args);
    });
    try {
      return { result: await run(), readonly };
    } finally {
      spy.mockRestore();
    }
  }

  it('getMany reads every cached key in one IndexedDB transaction, with no request', async () => {
    const kv = await afterReload({ maxAgeMs: 60_000 });
    const { result, readonly } = await readTransactions(() => kv.store('s').getMany(keys));
    expect(readonly).toBe(1);
    expect([...result.values()].map((e) => e?.value)).toEqual(keys.map((_, i) => i));
    expect(requests).toHaveLength(0);
    expect(kv.cacheCounters.hits).toBe(keys.length);
  });

  it('getEntry for many keys at once shares one IndexedDB transaction, with no request', async () => {
    const kv = await afterReload({ maxAgeMs: 60_000 });
    const { result, readonly } = await readTransactions(() =>
      Promise.all(keys.map((key) => kv.store('s').getEntry(key))),
    );
    expect(readonly).toBe(1);
    expect(result.map((e) => e?.value)).toEqual(keys.map((_, i) => i));
    expect(requests).toHaveLength(0);
  });

  it('records older than maxAgeMs read in a batch are revalidated in one request', async () => {
    let now = 1_000_000;
    const kv = await afterReload({ maxAgeMs: 60_000, now: () => now });
    now += 60_000;
    await other().store('s').set('k3', 'changed');
    const many = await kv.store('s').getMany(keys);
    expect(many.get('k3')?.value).toBe('changed');
    expect(many.get('k4')?.value).toBe(4);
    expect(requests).toHaveLength(1);
    expect(kv.cacheCounters.hits).toBe(0);
  });

  it('when the network fails, a batch of cached records answers marked stale', async () => {
    let now = 1_000_000;
    const kv = await afterReload({ maxAgeMs: 60_000, now: () => now });
    now += 60_000;
    down = true;
    const many = await kv.store('s').getMany(keys.slice(0, 3));
    expect([...many.values()].map((e) => (e as { stale?: true } | undefined)?.stale)).toEqual([
      true,
      true,
      true,
    ]);
    expect(kv.cacheCounters.staleFallbacks).toBe(3);
  });
});

describe('write-through', () => {
  it('a successful write updates the cache with the returned revision', async () => {
    const kv = cached({ maxAgeMs: 60_000 });
    const result = await kv.store('s').set('k', { a: 1 }, { metadata: { m: true }, scopes: ['x'] });
    requests = [];
    const entry = await kv.store('s').getEntry('k');
    expect(requests).toHaveLength(0);
    expect(entry).toMatchObject({
      value: { a: 1 },
      revision: result.revision,
      id: result.id,
      metadata: { m: true },
      scopes: ['x'],
    });
    const updated = await kv.store('s').update('k', { a: 2 }, result.revision);
    expect((await kv.store('s').getEntry('k'))?.revision).toBe(updated.revision);
    expect(await kv.store('s').get('k')).toEqual({ a: 2 });
    expect(requests).toHaveLength(1);
  });

  it('a failed write leaves the cache unchanged', async () => {
    const kv = cached({ maxAgeMs: 60_000 });
    const result = await kv.store('s').set('k', 'v1');
    await expect(kv.store('s').update('k', 'v2', result.revision + 5)).rejects.toBeInstanceOf(
      RevisionMismatchError,
    );
    await expect(kv.store('s').create('k', 'v3')).rejects.toMatchObject({ code: 'key_exists' });
    const entry = await kv.store('s').getEntry('k');
    expect(entry).toMatchObject({ value: 'v1', revision: result.revision });
  });

  it('delete leaves a tombstone; setExpiry and atomic evict', async () => {
    const kv = cached({ maxAgeMs: 60_000 });
    await kv.store('s').set('k', 'v');
    expect(await kv.store('s').delete('k')).toBe(true);
    requests = [];
    expect(await kv.store('s').get('k')).toBeUndefined();
    expect(requests).toHaveLength(0);

    await kv.store('s').set('e', 'v');
    await kv.store('s').setExpiry('e', Date.now() + 60_000);
    requests = [];
    expect((await kv.store('s').getEntry('e'))?.expiresAt).not.toBeNull();
    expect(requests).toHaveLength(1);

    const commit = await kv.store('s').atomic().set('e', 'w').commit();
    expect(commit.ok).toBe(true);
    expect(await kv.store('s').get('e')).toBe('w');
  });

  it('increment and atomic sum evict the key: the next read asks the server and sees the new value', async () => {
    const kv = cached({ maxAgeMs: 60_000 });
    const s = kv.store('s');
    await s.set('c', 1);
    expect(await s.get('c')).toBe(1);
    expect(await s.increment('c', 4)).toMatchObject({ value: 5 });
    requests = [];
    expect(await s.get('c')).toBe(5);
    expect(entryRequests()).toHaveLength(1);
    expect((await s.atomic().sum('c', 2).max('c', 3).commit()).ok).toBe(true);
    requests = [];
    expect(await s.get('c')).toBe(7);
    expect(entryRequests()).toHaveLength(1);
  });

  it('queue routes pass through the cache uncached: each call reaches the server', async () => {
    const kv = cached({ maxAgeMs: 60_000 });
    const s = kv.store('s');
    const queueRequests = (): Request[] => requests.filter((r) => r.url.includes('/queue'));
    await s.enqueue({ job: 1 });
    expect(await s.queueStats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
    expect(await s.queueStats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
    const controller = new AbortController();
    const seen: unknown[] = [];
    await s.listenQueue(
      (value) => {
        seen.push(value);
        controller.abort();
      },
      { signal: controller.signal },
    );
    expect(seen).toEqual([{ job: 1 }]);
    expect(await s.queueStats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    // enqueue, stats x2, lease, ack, stats: every one sent, none answered from the cache.
    expect(
      queueRequests().map((r) => `${r.method} ${new URL(r.url).pathname.split('/').slice(4).join('/')}`),
    ).toEqual([
      'POST queue',
      'GET queue',
      'GET queue',
      'POST queue/lease',
      expect.stringMatching(/^POST queue\/.+\/ack$/),
      'GET queue',
    ]);
  });

  it('clear() empties the cache', async () => {
    const kv = cached({ maxAgeMs: 60_000 });
    await kv.store('s').set('k', 'v');
    await kv.cache?.clear();
    requests = [];
    expect(await kv.store('s').get('k')).toBe('v');
    expect(requests).toHaveLength(1);
  });

  it('enforces maxEntries with LRU eviction', async () => {
    const kv = cached({ maxAgeMs: 60_000, maxEntries: 2 });
    await kv.store('s').set('a', 1);
    await kv.store('s').set('b', 2);
    await kv.store('s').set('c', 3);
    expect((await kv.cache?.stats())?.entries).toBe(2);
  });
});

describe('offline', () => {
  it('reads fall back to the cache, marked stale, when the network fails', async () => {
    await other().store('s').set('k', 'v');
    const kv = cached({ maxAgeMs: 0 });
    await kv.store('s').get('k');
    down = true;
    const entry = await kv.store('s').getEntry('k');
    expect(entry).toMatchObject({ value: 'v', stale: true });
    expect(await kv.store('s').get('k')).toBe('v');
    expect(kv.cacheCounters.staleFallbacks).toBe(2);
    await expect(kv.store('s').get('never-read')).rejects.toBeInstanceOf(NetworkError);
  });

  it('answers from the cache with no request when the browser says it is offline', async () => {
    await other().store('s').set('k', 'v');
    let online = true;
    const kv = cached({ maxAgeMs: 0, isOnline: () => online });
    await kv.store('s').get('k');
    online = false;
    requests = [];
    expect(await kv.store('s').getEntry('k')).toMatchObject({ value: 'v', stale: true });
    expect(requests).toHaveLength(0);
  });

  it('without offlineWrites a write fails with the network error', async () => {
    const kv = cached();
    down = true;
    await expect(kv.store('s').set('k', 'v')).rejects.toBeInstanceOf(NetworkError);
  });

  it('queues writes offline and replays them in order when back online', async () => {
    const base = await other().store('s').set('k', 'server');
    const kv = cached({ maxAgeMs: 0, offlineWrites: true });
    await kv.store('s').get('k');
    down = true;
    const queued = await kv.store('s').set('k', 'local-1');
    expect(queued).toMatchObject({ queued: true, revision: base.revision });
    await kv.store('s').set('k', 'local-2', { metadata: { step: 2 } });
    await kv.store('s').set('new', { fresh: true });
    expect(await kv.store('s').getEntry('k')).toMatchObject({ value: 'local-2', pending: true });
    expect((await kv.cache?.stats())?.queued).toBe(3);

    down = false;
    requests = [];
    const result = await kv.flush();
    expect(result).toEqual({ applied: 3, conflicts: 0, failed: 0, remaining: 0 });
    const server = await other().store('s').getEntry('k');
    expect(server).toMatchObject({ value: 'local-2', metadata: { step: 2 } });
    expect(await other().store('s').get('new')).toEqual({ fresh: true });
    // Two PUTs on k: the first guarded by the revision read before going offline, the second by the first's.
    const puts = requests.filter((r) => r.method === 'PUT' && r.url.endsWith('/entries/k'));
    expect(puts.map((r) => r.headers.get('if-match'))).toEqual([
      `"${base.revision}"`,
      `"${base.revision + 1}"`,
    ]);
    const local = await kv.store('s').getEntry('k');
    expect(local).toMatchObject({ value: 'local-2', revision: server?.revision });
    expect(local?.pending).toBeUndefined();
  });

  it('a concurrent change surfaces as a conflict, never a lost update', async () => {
    await other().store('s').set('k', 'original');
    const conflicts: WriteConflict[] = [];
    const kv = cached({ maxAgeMs: 0, offlineWrites: true, onConflict: (c) => void conflicts.push(c) });
    await kv.store('s').get('k');
    down = true;
    await kv.store('s').set('k', 'mine');
    await kv.store('s').set('k', 'mine-again');
    await kv.store('s').create('fresh', 'mine');
    down = false;
    const theirs = await other().store('s').set('k', 'theirs');
    await other().store('s').set('fresh', 'theirs too');

    const result = await kv.flush();
    expect(result).toEqual({ applied: 0, conflicts: 3, failed: 0, remaining: 0 });
    expect(await other().store('s').get('k')).toBe('theirs');
    expect(await other().store('s').get('fresh')).toBe('theirs too');
    expect(conflicts).toHaveLength(2);
    expect(conflicts[0]).toMatchObject({
      write: { key: 'k', op: 'set', base: { kind: 'revision' } },
      error: { code: 'revision_mismatch' },
      current: { value: 'theirs', revision: theirs.revision },
    });
    expect(conflicts[0]?.dropped.map((d) => d.key)).toEqual(['k']);
    expect(conflicts[1]).toMatchObject({
      write: { key: 'fresh', base: { kind: 'absent' } },
      error: { code: 'key_exists' },
    });
    // The cache now holds the server's value, not the dropped local one.
    expect(await kv.store('s').get('k')).toBe('theirs');
  });

  it('replays deletes under If-Match and keeps writes queued while the network is still down', async () => {
    await other().store('s').set('k', 'v');
    const kv = cached({ maxAgeMs: 0, offlineWrites: true });
    await kv.store('s').get('k');
    down = true;
    expect(await kv.store('s').delete('k')).toBe(true);
    expect(await kv.store('s').get('k')).toBeUndefined();
    expect(await kv.flush()).toMatchObject({ applied: 0, remaining: 1 });
    down = false;
    expect(await kv.flush()).toMatchObject({ applied: 1, remaining: 0 });
    expect(await other().store('s').get('k')).toBeUndefined();
  });

  it('refuses at once an offline write the server could never apply', async () => {
    const kv = cached({ offlineWrites: true, isOnline: () => false });
    await expect(kv.store('s').set('bad key', 'v')).rejects.toMatchObject({ code: 'validation_error' });
    await expect(
      kv.store('s').set('k', 'v', { scopes: Array.from({ length: 17 }, (_, i) => `s${i}`) }),
    ).rejects.toMatchObject({
      code: 'validation_error',
    });
    expect((await kv.cache?.stats())?.queued).toBe(0);
  });

  it('checks a write once, whether it is sent, written through or queued offline (one prepared write)', async () => {
    let reads = 0;
    const metadata = {
      get owner() {
        reads += 1;
        return 'ana';
      },
    };
    validateMetadata(metadata);
    const perCheck = reads;
    const kv = cached({ maxAgeMs: 60_000, offlineWrites: true });
    reads = 0;
    await kv.store('s').set('k', 'sent', { metadata, ttlMs: 60_000 });
    expect(reads).toBe(perCheck);
    down = true;
    reads = 0;
    expect(await kv.store('s').set('k', 'queued', { metadata })).toMatchObject({ queued: true });
    expect(
      await kv
        .store('s')
        .setMany([{ key: 'm', value: 1, metadata }])
        .catch(() => 'failed'),
    ).toBe('failed');
    expect(reads).toBe(2 * perCheck);
    expect(await kv.store('s').getEntry('k')).toMatchObject({
      value: 'queued',
      metadata: { owner: 'ana' },
      pending: true,
    });
    down = false;
    expect(await kv.flush()).toMatchObject({ applied: 1, remaining: 0 });
    expect(await other().store('s').getEntry('k')).toMatchObject({
      value: 'queued',
      metadata: { owner: 'ana' },
    });
  });

  it('refuses any bad option at once while offline; nothing is queued or sent', async () => {
    const kv = cached({ offlineWrites: true, isOnline: () => false });
    requests = [];
    for (const options of [
      { resume: 'yes' },
      { expiresAt: 'not a date' },
      { ttlMs: 1000, expiresAt: Date.now() + 60_000 },
      { ifNotExists: 'yes' },
      { ifRevision: -1 },
    ]) {
      await expect(kv.store('s').set('k', 'v', options as SetOptions)).rejects.toMatchObject({
        code: 'validation_error',
      });
    }
    expect((await kv.cache?.stats())?.queued).toBe(0);
    expect(requests).toHaveLength(0);
  });

  it('a write made while writes are queued is queued behind them', async () => {
    const kv = cached({ maxAgeMs: 0, offlineWrites: true });
    down = true;
    await kv.store('s').set('k', 'first');
    down = false;
    // The next write flushes the queue first, then goes to the server.
    const result = await kv.store('s').set('k', 'second');
    expect(result.queued).toBeUndefined();
    expect(await other().store('s').get('k')).toBe('second');
    expect((await other().store('s').history('k')).map((h) => h.value)).toEqual(['second']);
  });

  it('queued writes survive a reload (a new client on the same database) and replay on first use', async () => {
    const factory = new IDBFactory();
    const before = cached({ offlineWrites: true }, factory);
    down = true;
    await before.store('s').set('k', 'queued before reload');
    await before.close();
    down = false;
    const after = cached({ offlineWrites: true }, factory);
    expect(await after.store('s').getText('k')).toBe('queued before reload');
    await after.flush();
    expect(await other().store('s').get('k')).toBe('queued before reload');
  });
});

describe('live', () => {
  it('applies watch events to the cache, so reads stay current with no round trip', async () => {
    await other().store('s').set('k', 'v1');
    const kv = cached({ live: true, maxAgeMs: 0 });
    expect(await kv.store('s').get('k')).toBe('v1');
    const v2 = await other()
      .store('s')
      .set('k', 'v2', { metadata: { by: 'other' } });
    await vi.waitFor(async () => expect((await kv.cache?.get('s', 'k'))?.revision).toBe(v2.revision));
    requests = [];
    expect(await kv.store('s').getEntry('k')).toMatchObject({
      value: 'v2',
      revision: v2.revision,
      metadata: { by: 'other' },
    });
    await other()
      .store('s')
      .set('json', { a: [1, 2] });
    await vi.waitFor(async () => expect((await kv.cache?.get('s', 'json'))?.present).toBe(true));
    expect(await kv.store('s').get('json')).toEqual({ a: [1, 2] });
    await other().store('s').delete('k');
    await vi.waitFor(async () => expect((await kv.cache?.get('s', 'k'))?.present).toBe(false));
    expect(await kv.store('s').get('k')).toBeUndefined();
    expect(entryRequests()).toHaveLength(0);
    // Raw reads of a value rebuilt from a watch event fetch the server's exact bytes once.
    expect(await kv.store('s').getText('json')).toBe('{"a":[1,2]}');
    expect(entryRequests()).toHaveLength(1);
  });
});

describe('tabs', () => {
  it('two clients on one database see each other’s writes through the broadcast', async () => {
    const factory = new IDBFactory();
    const name = `tabs-${Math.random()}`;
    const a = cached({ maxAgeMs: 60_000, name, broadcast: true }, factory);
    const b = cached({ maxAgeMs: 60_000, name, broadcast: true }, factory);
    await a.store('s').set('k', 'one');
    expect(await b.store('s').get('k')).toBe('one');
    const changed = new Promise<void>((resolve) => b.cache?.onRemoteChange(() => resolve()));
    await a.store('s').set('k', 'two');
    await changed;
    requests = [];
    expect(await b.store('s').get('k')).toBe('two');
    expect(requests).toHaveLength(0);
  });
});

describe('no cache', () => {
  it('createClient without cache is the plain core client', async () => {
    const kv = createClient({ url: URL_, fetch: networkFetch, retry: false });
    await kv.store('s').set('k', 'v');
    requests = [];
    expect(await kv.store('s').get('k')).toBe('v');
    expect(await kv.store('s').get('k')).toBe('v');
    expect(requests).toHaveLength(2);
    expect(kv.cache).toBeUndefined();
    expect(await kv.flush()).toEqual({ applied: 0, conflicts: 0, failed: 0, remaining: 0 });
  });
});

/**
 * The persistent entry cache of `@kv/browser`: IndexedDB (through `idb`) holds one record per namespace,
 * store and key (value bytes, content type, metadata, revision, ETag, `cachedAt`, `lastAccess`, size), a
 * write queue for offline writes, and running totals for the `maxEntries` / `maxBytes` bounds (LRU
 * eviction by `lastAccess`). A small in-memory LRU in front answers repeated reads without touching
 * IndexedDB; reads that miss it in the same tick share one readonly transaction (a dense batch is one
 * `getAll`), and their access times are written later, once reads pause; a `BroadcastChannel` tells
 * the other tabs of the same origin which keys changed so their memory layer drops them. IndexedDB
 * transactions keep the records, the queue and the totals consistent when several tabs write at once.
 *
 * This module does no network I/O: the client (`client.ts`) decides what to read, revalidate and replay.
 * Semantics: packages/browser/README.md.
 *
 * @module
 */

import type { JsonObject } from '@kv/core';
import { type DBSchema, type IDBPDatabase, type IDBPObjectStore, type IDBPTransaction, wrap } from 'idb';
import { type CacheRecord, isExpired, type NewCacheRecord, refreshFields, tombstone } from './record.js';

/** Where a queued write's compare-and-swap guard comes from. */
export type WriteBase =
  /** The write was made on top of this revision: replayed with `If-Match: "<revision>"`. */
  | { kind: 'revision'; revision: number }
  /** The key had no live entry (or none known to this client): replayed as create-only. */
  | { kind: 'absent' }
  /** The write follows an earlier queued write of the same key: guarded by that write's revision. */
  | { kind: 'previous' };

/** Options of a queued `set`, in a form IndexedDB can store (`expiresAt` as ISO 8601). */
export interface QueuedSetOptions {
  /** Time to live in ms from the replayed write. */
  ttlMs?: number;
  /** Absolute expiry, ISO 8601. */
  expiresAt?: string;
  /** Entry metadata (Cloudflare). */
  metadata?: JsonObject;
  /** Entry scopes (AntiRaid). */
  scopes?: string[];
  /** The entry's `resume` flag (AntiRaid). */
  resume?: boolean;
}

/** A write made while offline, kept in IndexedDB until it is replayed (the `offlineWrites` cache option). */
export interface QueuedWrite {
  /** Queue order (IndexedDB auto-increment key): writes are replayed in ascending `seq`. */
  seq: number;
  /** The cache namespace (the client's server URL unless configured). */
  ns: string;
  /** The store. */
  store: string;
  /** The key. */
  key: string;
  /** `set` writes `bytes`; `delete` soft-deletes the key. */
  op: 'set' | 'delete';
  /** The value bytes of a `set`. */
  bytes?: Uint8Array;
  /** The value's content type, for a `set`. */
  contentType?: string;
  /** The `set` options. */
  options?: QueuedSetOptions;
  /** The revision the write was based on: its compare-and-swap guard when replayed. */
  base: WriteBase;
  /** When the write was queued, epoch ms. */
  queuedAt: number;
}

/** A write to queue: {@link QueuedWrite} without what the cache assigns. `base` omitted = derived. */
export type NewQueuedWrite = Omit<QueuedWrite, 'seq' | 'ns' | 'queuedAt' | 'base'> & { base?: WriteBase };

/** Options of {@link KvCache}. */
export interface KvCacheOptions {
  /**
   * Name of the IndexedDB database. Clients sharing a name share the cache (and its bounds).
   * @default 'kv-cache'
   * @example 'my-app-kv'
   */
  name?: string;
  /**
   * Partition of the database this cache reads and writes; `@kv/browser`'s `createClient` uses the
   * server URL. Use one per user when several users share a browser profile.
   * @default 'default'
   * @example 'https://kv.example.com|user-42'
   */
  namespace?: string;
  /**
   * The IndexedDB implementation. `idb` recognises its objects through the global `IDBRequest`,
   * `IDBDatabase`, ... constructors, so in Node tests load `fake-indexeddb/auto` and pass
   * `new IDBFactory()` for an isolated database.
   * @default globalThis.indexedDB
   */
  indexedDB?: IDBFactory;
  /**
   * Most records kept (tombstones included); beyond it the least recently used are evicted.
   * @default 10_000
   * @example 500
   */
  maxEntries?: number;
  /**
   * Most value bytes kept, summed over records; beyond it the least recently used are evicted.
   * @default 52_428_800 (50 MiB)
   * @example 5 * 1024 * 1024
   */
  maxBytes?: number;
  /**
   * Largest value cached, in bytes; larger values are read through and not stored.
   * @default 1_048_576 (1 MiB)
   */
  maxEntryBytes?: number;
  /**
   * Records held in the in-memory LRU in front of IndexedDB (0 disables it).
   * @default 1000
   */
  memoryEntries?: number;
  /**
   * Spread invalidations to other tabs over a `BroadcastChannel` named `kv-cache:<name>`.
   * @default true (when `BroadcastChannel` exists)
   */
  broadcast?: boolean;
  /** Clock, epoch ms; inject one in tests. @default Date.now */
  now?: () => number;
}

/** Options of {@link KvCache.put} and {@link KvCache.putMany}. */
export interface PutOptions {
  /** Replace whatever is stored, pending offline writes included. @default false */
  force?: boolean;
  /** Update this tab's memory layer at once, before IndexedDB commits. @default false */
  eager?: boolean;
  /**
   * The revision the stored record had when the request that produced these records was sent: when the
   * record is still at that revision, the server's answer replaces it even with a lower revision (a
   * store deleted and created again restarts its revisions). Without it, a lower revision never
   * replaces a higher one.
   */
  replaces?: number;
}

/** Counts reported by {@link KvCache.stats}. */
export interface CacheStats {
  /** Records in the database (all namespaces), tombstones included. */
  entries: number;
  /** Value bytes in the database (all namespaces). */
  bytes: number;
  /** Writes waiting in this namespace's queue. */
  queued: number;
  /** Records in this tab's memory layer. */
  memoryEntries: number;
}

/** What {@link KvCache.settle} did. */
export interface SettleResult {
  /** Later queued writes of the same key that were chained to the settled one and dropped with it. */
  dropped: QueuedWrite[];
}

type StoredRecord = CacheRecord & { ns: string };
type RecordKey = [string, string, string];
interface Totals {
  count: number;
  bytes: number;
}

interface CacheSchema extends DBSchema {
  entries: { key: RecordKey; value: StoredRecord; indexes: { lastAccess: number } };
  meta: { key: string; value: Totals };
  queue: { key: number; value: QueuedWrite; indexes: { ns: string } };
}

type Db = IDBPDatabase<CacheSchema>;

/** A read of one record waiting for the batch of its tick. */
interface PendingRead {
  store: string;
  key: string;
  promise: Promise<CacheRecord | undefined>;
  resolve: (record: CacheRecord | undefined) => void;
  reject: (error: unknown) => void;
}
type WriteTx = IDBPTransaction<CacheSchema, Array<'entries' | 'meta' | 'queue'>, 'readwrite'>;
type ReadStore = IDBPObjectStore<CacheSchema, ['entries'], 'entries', 'readonly'>;

type Message =
  | { from: string; ns: string; kind: 'keys'; keys: Array<[string, string]> }
  | { from: string; ns: string; kind: 'store'; store: string }
  | { from: string; ns: string; kind: 'all' }
  | { from: string; ns: string; kind: 'queue' };

/** A message before the sender adds `from` and `ns`. */
type Outgoing = Message extends infer M ? (M extends Message ? Omit<M, 'from' | 'ns'> : never) : never;

const DB_VERSION = 1;
const TOTALS = 'totals';
/** Sorts after every string: the upper bound of key ranges over one namespace or store. */
const AFTER_STRINGS: [] = [];

/** Defaults of {@link KvCacheOptions}. */
export const CACHE_DEFAULTS: {
  readonly name: 'kv-cache';
  readonly namespace: 'default';
  readonly maxEntries: 10_000;
  readonly maxBytes: 52_428_800;
  readonly maxEntryBytes: 1_048_576;
  readonly memoryEntries: 1000;
} = {
  name: 'kv-cache',
  namespace: 'default',
  maxEntries: 10_000,
  maxBytes: 52_428_800,
  maxEntryBytes: 1_048_576,
  memoryEntries: 1000,
} as const;

/**
 * Access times (LRU) of records read are written to IndexedDB once reads pause for this long, in ms: the
 * write rewrites each record read and holds the entries store while it runs, so it waits for a burst of
 * reads (a page load) to end. In memory they are exact at once, and an eviction writes them first.
 */
const TOUCH_IDLE_MS = 1000;
/** ...but no later than this long after the first pending one, in ms (reads that never pause). */
const TOUCH_MAX_DELAY_MS = 5000;
/**
 * A batch of this many reads or more in one store may read the whole key range between its smallest
 * and largest key with one `getAll` (one IndexedDB round trip instead of one per key)...
 */
const RANGE_READ_MIN = 16;
/** ...when that range holds at most this many records per key asked for. */
const RANGE_READ_SPARSENESS = 2;
/**
 * Cached entries can always be fetched again: their transactions skip the disk flush (IndexedDB
 * `durability: 'relaxed'`). The offline queue holds the user's unsent writes: flushed to disk.
 */
const RELAXED: IDBTransactionOptions = { durability: 'relaxed' };
const STRICT: IDBTransactionOptions = { durability: 'strict' };

function positiveInt(value: number, field: string, allowZero = false): number {
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new RangeError(
      `\`${field}\` must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${value}`,
    );
  }
  return value;
}

/** Whether a stored record wins over `input` (see {@link KvCache.putMany}). */
function keepsExisting(
  existing: CacheRecord,
  input: NewCacheRecord,
  force: boolean,
  replaces: number | undefined,
): boolean {
  if (force) return false;
  if (existing.pending) return true;
  if (existing.revision <= input.revision) return false;
  return replaces === undefined || existing.revision !== replaces;
}

function memKey(store: string, key: string): string {
  return `${store}\u0000${key}`;
}

function openDatabase(factory: IDBFactory, name: string, onClose: () => void): Promise<Db> {
  const request = factory.open(name, DB_VERSION);
  request.addEventListener('upgradeneeded', (event) => {
    const db = request.result;
    if (event.oldVersion < 1) {
      const entries = db.createObjectStore('entries', { keyPath: ['ns', 'store', 'key'] });
      entries.createIndex('lastAccess', 'lastAccess');
      db.createObjectStore('meta');
      const queue = db.createObjectStore('queue', { keyPath: 'seq', autoIncrement: true });
      queue.createIndex('ns', 'ns');
    }
  });
  return (wrap(request) as Promise<unknown>).then((db) => {
    const opened = db as Db;
    // Another tab upgrading or deleting the database must not be blocked by this one: close and let it
    // proceed; the next operation opens the database again.
    opened.addEventListener('versionchange', () => {
      opened.close();
      onClose();
    });
    opened.addEventListener('close', onClose);
    return opened;
  });
}

/**
 * The IndexedDB entry cache and offline write queue of one namespace (see the module doc). Opening is
 * lazy: the constructor touches nothing, the database opens on the first operation.
 *
 * Records never go back in time: {@link KvCache.put} keeps the stored record when it has a higher
 * revision (a slow response must not undo a newer watch event) or holds a pending offline write.
 *
 * @example
 * ```ts
 * const cache = new KvCache({ name: 'my-app', namespace: 'https://kv.example.com' });
 * const record = await cache.get('orders', 'order.1');
 * ```
 */
export class KvCache {
  /** The partition of the database this cache uses. */
  readonly namespace: string;
  /** The IndexedDB database name. */
  readonly name: string;
  /** @see KvCacheOptions.maxEntries */
  readonly maxEntries: number;
  /** @see KvCacheOptions.maxBytes */
  readonly maxBytes: number;
  /** @see KvCacheOptions.maxEntryBytes */
  readonly maxEntryBytes: number;

  readonly #factory: IDBFactory | undefined;
  readonly #memoryEntries: number;
  readonly #broadcast: boolean;
  readonly #now: () => number;
  readonly #id: string = Math.random().toString(36).slice(2);
  readonly #memory = new Map<string, CacheRecord>();
  readonly #touches = new Map<string, number>();
  /** Records confirmed in memory (304s) whose `cachedAt` and fields IndexedDB has not taken yet. */
  readonly #confirms = new Map<string, CacheRecord>();
  /** Writes started with `eager` that may still be running. */
  readonly #inflight = new Set<Promise<unknown>>();
  #touchTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the last access time was recorded (`Date.now()`, the timers' clock). */
  #lastTouchAt = 0;
  /** When the pending access times are written at the latest (`Date.now()`). */
  #touchDeadline = 0;
  /** Reads of IndexedDB requested in the current tick, done together in one transaction. */
  #reads: Map<string, PendingRead> | undefined;
  #db: Promise<Db> | undefined;
  #channel: BroadcastChannel | undefined;
  #closed = false;
  readonly #listeners = new Set<(store: string | undefined, key: string | undefined) => void>();

  /**
   * @param options - see {@link KvCacheOptions}
   * @throws {RangeError} a bound that is not a positive integer
   */
  constructor(options: KvCacheOptions = {}) {
    this.name = options.name ?? CACHE_DEFAULTS.name;
    this.namespace = options.namespace ?? CACHE_DEFAULTS.namespace;
    this.maxEntries = positiveInt(options.maxEntries ?? CACHE_DEFAULTS.maxEntries, 'maxEntries');
    this.maxBytes = positiveInt(options.maxBytes ?? CACHE_DEFAULTS.maxBytes, 'maxBytes');
    this.maxEntryBytes = Math.min(
      positiveInt(options.maxEntryBytes ?? CACHE_DEFAULTS.maxEntryBytes, 'maxEntryBytes'),
      this.maxBytes,
    );
    this.#memoryEntries = positiveInt(
      options.memoryEntries ?? CACHE_DEFAULTS.memoryEntries,
      'memoryEntries',
      true,
    );
    this.#factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    this.#broadcast = options.broadcast ?? typeof BroadcastChannel === 'function';
    this.#now = options.now ?? Date.now;
  }

  #open(): Promise<Db> {
    if (this.#closed) return Promise.reject(new Error('The kv cache is closed'));
    if (this.#db === undefined) {
      const factory = this.#factory;
      if (factory === undefined) {
        this.#db = Promise.reject(
          new Error('IndexedDB is not available here: pass `indexedDB` (e.g. fake-indexeddb) to the cache'),
        );
      } else {
        const opening = openDatabase(factory, this.name, () => {
          if (this.#db === opening) this.#db = undefined;
        });
        this.#db = opening;
      }
      this.#db.catch(() => undefined);
      this.#listen();
    }
    return this.#db;
  }

  #listen(): void {
    if (!this.#broadcast || this.#channel !== undefined) return;
    const channel = new BroadcastChannel(`kv-cache:${this.name}`);
    channel.onmessage = (event: MessageEvent<Message>) => {
      const message = event.data;
      if (message.from === this.#id || message.ns !== this.namespace) return;
      if (message.kind === 'keys') {
        for (const [store, key] of message.keys) {
          this.#memory.delete(memKey(store, key));
          this.#emit(store, key);
        }
      } else if (message.kind === 'store') {
        this.#dropMemoryStore(message.store);
        this.#emit(message.store, undefined);
      } else if (message.kind === 'all') {
        this.#memory.clear();
        this.#emit(undefined, undefined);
      }
    };
    // Node's BroadcastChannel would keep a test process alive; browsers have no `unref`.
    (channel as { unref?: () => void }).unref?.();
    this.#channel = channel;
  }

  #post(message: Outgoing): void {
    try {
      this.#channel?.postMessage({ ...message, from: this.#id, ns: this.namespace });
    } catch {
      // A closed channel: other tabs re-read from IndexedDB on their next miss anyway.
    }
  }

  #emit(store: string | undefined, key: string | undefined): void {
    for (const listener of this.#listeners) listener(store, key);
  }

  /**
   * Calls `listener` when another tab changes a record of this namespace (`store` and `key`), a whole
   * store (`key` undefined) or everything (both undefined). Returns a function that removes it.
   */
  onRemoteChange(listener: (store: string | undefined, key: string | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #remember(record: CacheRecord): void {
    if (this.#memoryEntries === 0) return;
    const k = memKey(record.store, record.key);
    this.#memory.delete(k);
    this.#memory.set(k, record);
    if (this.#memory.size > this.#memoryEntries) {
      const oldest = this.#memory.keys().next();
      if (!oldest.done) this.#memory.delete(oldest.value);
    }
  }

  #dropMemoryStore(store: string): void {
    const prefix = `${store}\u0000`;
    for (const k of [...this.#memory.keys()]) if (k.startsWith(prefix)) this.#memory.delete(k);
  }

  #touch(record: CacheRecord): void {
    const now = this.#now();
    record.lastAccess = now;
    this.#touches.set(memKey(record.store, record.key), now);
    this.#lastTouchAt = Date.now();
    if (this.#touchTimer === undefined && !this.#closed) {
      this.#touchDeadline = this.#lastTouchAt + TOUCH_MAX_DELAY_MS;
      this.#scheduleTouchFlush(TOUCH_IDLE_MS);
    }
  }

  /** Flushes the access times after `delay` ms, or later while reads go on (see `TOUCH_IDLE_MS`). */
  #scheduleTouchFlush(delay: number): void {
    this.#touchTimer = setTimeout(() => {
      const now = Date.now();
      const quietAt = Math.min(this.#lastTouchAt + TOUCH_IDLE_MS, this.#touchDeadline);
      if (now < quietAt && !this.#closed) {
        this.#scheduleTouchFlush(quietAt - now);
        return;
      }
      this.#touchTimer = undefined;
      void this.flushAccessTimes().catch(() => undefined);
    }, delay);
    (this.#touchTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Writes the pending `lastAccess` updates of reads served from memory to IndexedDB (done on its own
   * shortly after reads, and before every eviction).
   */
  async flushAccessTimes(): Promise<void> {
    if (this.#touches.size === 0 && this.#confirms.size === 0) return;
    const db = await this.#open();
    const tx = db.transaction(['entries', 'meta', 'queue'], 'readwrite', RELAXED);
    await this.#applyTouches(tx);
    await tx.done;
  }

  async #applyTouches(tx: WriteTx): Promise<void> {
    if (this.#touches.size === 0 && this.#confirms.size === 0) return;
    const touches = [...this.#touches];
    this.#touches.clear();
    const confirms = [...this.#confirms.values()];
    this.#confirms.clear();
    const entries = tx.objectStore('entries');
    // Every request is issued at once (no round trip per record): the transaction writes, so reads of
    // the entries wait for it to finish.
    const touched = new Map(touches);
    const updates: Array<Promise<unknown>> = confirms.map(async (record) => {
      const stored = await entries.get([this.namespace, record.store, record.key]);
      if (stored === undefined) return;
      if (stored.revision !== record.revision || stored.pending) {
        const at = touched.get(memKey(record.store, record.key));
        if (at !== undefined && stored.lastAccess < at) await entries.put({ ...stored, lastAccess: at });
        return;
      }
      await entries.put({
        ...stored,
        cachedAt: Math.max(stored.cachedAt, record.cachedAt),
        lastAccess: Math.max(stored.lastAccess, record.lastAccess),
        id: record.id,
        metadata: record.metadata,
        scopes: record.scopes,
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
        expiresAt: record.expiresAt,
        resume: record.resume,
      });
    });
    const confirmed = new Set(confirms.map((record) => memKey(record.store, record.key)));
    for (const [k, at] of touches) {
      // One read and one write per record: a confirmed record's access time goes with its confirmation.
      if (confirmed.has(k)) continue;
      const [store, key] = k.split('\u0000') as [string, string];
      updates.push(
        (async () => {
          const stored = await entries.get([this.namespace, store, key]);
          if (stored !== undefined && stored.lastAccess < at) {
            stored.lastAccess = at;
            await entries.put(stored);
          }
        })(),
      );
    }
    await Promise.all(updates);
  }

  /**
   * The cached record of `store`/`key` (a tombstone when the key is known absent), or `undefined` when
   * nothing is cached. Expired entries are removed, never returned. Marks the record used (LRU).
   * The record is the cache's own object: read it, don't change it.
   *
   * Reads that miss the memory layer and are issued in the same tick (before the current task yields,
   * e.g. `Promise.all(keys.map(...))`) share one readonly IndexedDB transaction.
   */
  async get(store: string, key: string): Promise<CacheRecord | undefined> {
    const record = this.#memory.get(memKey(store, key));
    if (record === undefined) return this.#batchRead(store, key);
    this.#remember(record);
    if (record.present && isExpired(record, this.#now())) {
      await this.delete(store, key);
      return undefined;
    }
    this.#touch(record);
    return record;
  }

  /**
   * The cached records of `keys` in `store` (see {@link KvCache.get}), keyed by key; keys with nothing
   * cached are left out. The keys missing from the memory layer are read in one readonly IndexedDB
   * transaction.
   */
  async getMany(store: string, keys: Iterable<string>): Promise<Map<string, CacheRecord>> {
    const unique = [...new Set(keys)];
    const records = await Promise.all(unique.map((key) => this.get(store, key)));
    const out = new Map<string, CacheRecord>();
    unique.forEach((key, i) => {
      const record = records[i];
      if (record !== undefined) out.set(key, record);
    });
    return out;
  }

  /** Queues a read of IndexedDB into the batch of this tick (one transaction per batch). */
  #batchRead(store: string, key: string): Promise<CacheRecord | undefined> {
    let batch = this.#reads;
    if (batch === undefined) {
      const started = new Map<string, PendingRead>();
      batch = started;
      this.#reads = started;
      queueMicrotask(() => {
        if (this.#reads === started) this.#reads = undefined;
        void this.#readBatch(started);
      });
    }
    const k = memKey(store, key);
    let pending = batch.get(k);
    if (pending === undefined) {
      let resolve!: PendingRead['resolve'];
      let reject!: PendingRead['reject'];
      const promise = new Promise<CacheRecord | undefined>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      pending = { store, key, promise, resolve, reject };
      batch.set(k, pending);
    }
    return pending.promise;
  }

  /**
   * Reads the records of `group` (keys of one store) in `entries`: one `getAll` over the key range the
   * group spans when that range is dense enough (see `RANGE_READ_MIN`), else one `get` per key, every
   * request issued at once.
   */
  async #readGroup(
    entries: ReadStore,
    store: string,
    group: PendingRead[],
  ): Promise<Array<[PendingRead, StoredRecord | undefined]>> {
    if (group.length >= RANGE_READ_MIN) {
      let low = (group[0] as PendingRead).key;
      let high = low;
      for (const { key } of group) {
        if (key < low) low = key;
        if (key > high) high = key;
      }
      // Strings compare by UTF-16 code units in JavaScript and in IndexedDB keys alike.
      const range = IDBKeyRange.bound([this.namespace, store, low], [this.namespace, store, high]);
      if ((await entries.count(range)) <= group.length * RANGE_READ_SPARSENESS) {
        const byKey = new Map<string, StoredRecord>();
        for (const record of await entries.getAll(range)) byKey.set(record.key, record);
        return group.map((read) => [read, byKey.get(read.key)]);
      }
    }
    const records = await Promise.all(group.map((read) => entries.get([this.namespace, store, read.key])));
    return group.map((read, i) => [read, records[i]]);
  }

  /** Reads a batch of records in one readonly transaction, every request issued at once. */
  async #readBatch(batch: Map<string, PendingRead>): Promise<void> {
    const reads = [...batch.values()];
    let stored: Array<StoredRecord | undefined>;
    try {
      const db = await this.#open();
      const tx = db.transaction('entries', 'readonly');
      tx.done.catch(() => undefined);
      const byStore = new Map<string, PendingRead[]>();
      for (const read of reads) {
        const group = byStore.get(read.store);
        if (group === undefined) byStore.set(read.store, [read]);
        else group.push(read);
      }
      const found = new Map<PendingRead, StoredRecord | undefined>();
      await Promise.all(
        [...byStore].map(async ([store, group]) => {
          for (const [read, record] of await this.#readGroup(tx.store, store, group)) found.set(read, record);
        }),
      );
      stored = reads.map((read) => found.get(read));
    } catch (error) {
      for (const r of reads) r.reject(error);
      return;
    }
    const now = this.#now();
    const expired = new Map<string, string[]>();
    const removed: PendingRead[] = [];
    reads.forEach((read, i) => {
      const found = stored[i];
      if (found === undefined) {
        read.resolve(undefined);
        return;
      }
      const k = memKey(read.store, read.key);
      const { ns: _ns, ...fromDb } = found;
      let record: CacheRecord = fromDb;
      // Another write may have landed while IndexedDB answered: keep the newest.
      const raced = this.#memory.get(k);
      if (raced === undefined || raced.revision < record.revision) this.#remember(record);
      else record = raced;
      if (record.present && isExpired(record, now)) {
        expired.set(read.store, [...(expired.get(read.store) ?? []), read.key]);
        removed.push(read);
        return;
      }
      this.#touch(record);
      read.resolve(record);
    });
    if (expired.size === 0) return;
    // Expired records are removed before their reads answer (`undefined`), as with one read.
    await Promise.all(
      [...expired].map(([store, keys]) => this.deleteMany(store, keys).catch(() => undefined)),
    );
    for (const read of removed) read.resolve(undefined);
  }

  /**
   * The record in this tab's memory layer only (no IndexedDB read): the synchronous fast path of cache
   * hits. Expired records are not returned.
   */
  peek(store: string, key: string): CacheRecord | undefined {
    const record = this.#memory.get(memKey(store, key));
    if (record === undefined || (record.present && isExpired(record, this.#now()))) return undefined;
    this.#remember(record);
    this.#touch(record);
    return record;
  }

  /**
   * Stores records in one transaction, keeping for each key the stored record when its revision is
   * higher or when it holds a pending offline write (unless `force`). Values over `maxEntryBytes` are
   * not stored (and an older record of that key is dropped, as it is outdated). Evicts least recently
   * used records past `maxEntries` / `maxBytes`.
   *
   * With `eager`, this tab's memory layer takes the records at once (under the same rules, as far as
   * memory knows), so reads that follow are served before IndexedDB commits; callers may then leave
   * the returned promise running. {@link KvCache.close} waits for such writes.
   *
   * @returns the records as stored, one per input (`undefined` where the input was not stored)
   */
  putMany(
    records: readonly NewCacheRecord[],
    options: PutOptions = {},
  ): Promise<Array<CacheRecord | undefined>> {
    if (records.length === 0) return Promise.resolve([]);
    const force = options.force === true;
    const replaces = options.replaces;
    if (options.eager) {
      const now = this.#now();
      for (const input of records) {
        if (input.bytes.byteLength > this.maxEntryBytes) continue;
        const known = this.#memory.get(memKey(input.store, input.key));
        if (known !== undefined && keepsExisting(known, input, force, replaces)) continue;
        this.#remember({ ...input, cachedAt: input.cachedAt ?? now, lastAccess: input.lastAccess ?? now });
      }
    }
    const write = (async () => {
      const db = await this.#open();
      const tx = db.transaction(['entries', 'meta', 'queue'], 'readwrite', RELAXED);
      const result = await this.#putInTx(tx, records, force, replaces);
      await tx.done;
      this.#afterWrite(result, force, replaces);
      return result.map((r) => r.stored);
    })();
    this.#inflight.add(write);
    const untrack = (): void => {
      this.#inflight.delete(write);
    };
    write.then(untrack, untrack);
    if (options.eager) {
      // IndexedDB may have refused what memory took (a newer record from another tab): forget it there.
      write.then(
        (stored) =>
          stored.forEach((s, i) => {
            const input = records[i];
            if (s === undefined && input !== undefined) {
              const k = memKey(input.store, input.key);
              if (this.#memory.get(k)?.revision === input.revision) this.#memory.delete(k);
            }
          }),
        () => {
          for (const input of records) this.#memory.delete(memKey(input.store, input.key));
        },
      );
    }
    return write;
  }

  /** Stores one record; see {@link KvCache.putMany}. @returns the stored record, or `undefined` if kept out */
  async put(record: NewCacheRecord, options: PutOptions = {}): Promise<CacheRecord | undefined> {
    const [stored] = await this.putMany([record], options);
    return stored;
  }

  async #putInTx(
    tx: WriteTx,
    records: readonly NewCacheRecord[],
    force: boolean,
    replaces?: number,
  ): Promise<Array<{ store: string; key: string; stored: CacheRecord | undefined; evicted: boolean }>> {
    const entries = tx.objectStore('entries');
    const meta = tx.objectStore('meta');
    const totals = (await meta.get(TOTALS)) ?? { count: 0, bytes: 0 };
    const now = this.#now();
    const out: Array<{ store: string; key: string; stored: CacheRecord | undefined; evicted: boolean }> = [];
    const protect = new Set<string>();
    for (const input of records) {
      const id: RecordKey = [this.namespace, input.store, input.key];
      const existing = await entries.get(id);
      if (existing !== undefined && keepsExisting(existing, input, force, replaces)) {
        out.push({ store: input.store, key: input.key, stored: undefined, evicted: false });
        continue;
      }
      if (input.bytes.byteLength > this.maxEntryBytes) {
        if (existing !== undefined) {
          await entries.delete(id);
          totals.count -= 1;
          totals.bytes -= existing.bytes.byteLength;
        }
        out.push({ store: input.store, key: input.key, stored: undefined, evicted: existing !== undefined });
        continue;
      }
      const record: StoredRecord = {
        ...input,
        ns: this.namespace,
        cachedAt: input.cachedAt ?? now,
        lastAccess: input.lastAccess ?? now,
      };
      await entries.put(record);
      if (existing === undefined) totals.count += 1;
      else totals.bytes -= existing.bytes.byteLength;
      totals.bytes += record.bytes.byteLength;
      const { ns: _ns, ...stored } = record;
      out.push({ store: input.store, key: input.key, stored, evicted: false });
      protect.add(memKey(input.store, input.key));
    }
    await this.#enforce(tx, totals, protect);
    await meta.put(totals, TOTALS);
    return out;
  }

  /** Evicts least recently used records until the totals are within bounds. */
  async #enforce(tx: WriteTx, totals: Totals, protect: Set<string>): Promise<void> {
    if (totals.count <= this.maxEntries && totals.bytes <= this.maxBytes) return;
    await this.#applyTouches(tx);
    const evicted: Array<[string, string]> = [];
    let cursor = await tx.objectStore('entries').index('lastAccess').openCursor();
    while (cursor !== null && (totals.count > this.maxEntries || totals.bytes > this.maxBytes)) {
      const record = cursor.value;
      const mine = record.ns === this.namespace && protect.has(memKey(record.store, record.key));
      if (!record.pending && !mine) {
        await cursor.delete();
        totals.count -= 1;
        totals.bytes -= record.bytes.byteLength;
        if (record.ns === this.namespace) evicted.push([record.store, record.key]);
      }
      cursor = await cursor.continue();
    }
    for (const [store, key] of evicted) this.#memory.delete(memKey(store, key));
    if (evicted.length > 0) this.#post({ kind: 'keys', keys: evicted });
  }

  #afterWrite(
    results: Array<{ store: string; key: string; stored: CacheRecord | undefined; evicted: boolean }>,
    force: boolean,
    replaces: number | undefined,
  ): void {
    const changed: Array<[string, string]> = [];
    for (const { store, key, stored, evicted } of results) {
      if (stored !== undefined) {
        // A later write may already have put a newer revision into memory (eagerly) while this
        // transaction committed: the same rule as the write itself decides which record memory keeps.
        const current = this.#memory.get(memKey(store, key));
        if (current === undefined || !keepsExisting(current, stored, force, replaces)) this.#remember(stored);
        changed.push([store, key]);
      } else if (evicted) {
        this.#memory.delete(memKey(store, key));
        changed.push([store, key]);
      }
    }
    if (changed.length > 0) this.#post({ kind: 'keys', keys: changed });
  }

  /**
   * Marks the record of `store`/`key` confirmed by the server now (a `304 Not Modified` for `revision`):
   * `cachedAt` becomes now, and when `headers` (the 304's) carry the entry's fields (`Kv-Id`), the
   * record's fields are refreshed from them. Nothing happens when the cached revision differs.
   * @returns the updated record, or `undefined` when none matched
   */
  async confirm(
    store: string,
    key: string,
    revision: number,
    headers?: Headers,
  ): Promise<CacheRecord | undefined> {
    const inMemory = this.#memory.get(memKey(store, key));
    if (inMemory !== undefined && inMemory.revision === revision) {
      // Answer from memory at once; IndexedDB catches up in the background (a lost update of
      // `cachedAt` only costs one more revalidation).
      const now = this.#now();
      inMemory.cachedAt = now;
      inMemory.lastAccess = now;
      if (headers !== undefined) refreshFields(inMemory, headers);
      this.#confirms.set(memKey(store, key), inMemory);
      this.#touch(inMemory);
      return inMemory;
    }
    return this.#confirmStored(store, key, revision, headers);
  }

  async #confirmStored(
    store: string,
    key: string,
    revision: number,
    headers: Headers | undefined,
  ): Promise<CacheRecord | undefined> {
    const db = await this.#open();
    const tx = db.transaction('entries', 'readwrite', RELAXED);
    const stored = await tx.store.get([this.namespace, store, key]);
    let updated: CacheRecord | undefined;
    if (stored !== undefined && stored.revision === revision) {
      const now = this.#now();
      stored.cachedAt = now;
      stored.lastAccess = now;
      if (headers !== undefined) refreshFields(stored, headers);
      await tx.store.put(stored);
      const { ns: _ns, ...rest } = stored;
      updated = rest;
    }
    await tx.done;
    const current = this.#memory.get(memKey(store, key));
    if (updated !== undefined && (current === undefined || current.revision <= updated.revision)) {
      this.#remember(updated);
    }
    return updated;
  }

  /** Removes the record of `store`/`key` (a no-op when none). */
  async delete(store: string, key: string): Promise<void> {
    await this.deleteMany(store, [key]);
  }

  /** Removes the records of `keys` in `store`, in one transaction. */
  async deleteMany(store: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const db = await this.#open();
    const tx = db.transaction(['entries', 'meta'], 'readwrite', RELAXED);
    const entries = tx.objectStore('entries');
    const meta = tx.objectStore('meta');
    const totals = (await meta.get(TOTALS)) ?? { count: 0, bytes: 0 };
    for (const key of keys) {
      const id: RecordKey = [this.namespace, store, key];
      const existing = await entries.get(id);
      if (existing === undefined) continue;
      await entries.delete(id);
      totals.count -= 1;
      totals.bytes -= existing.bytes.byteLength;
    }
    await meta.put(totals, TOTALS);
    await tx.done;
    for (const key of keys) this.#memory.delete(memKey(store, key));
    this.#post({ kind: 'keys', keys: keys.map((key) => [store, key]) });
  }

  /** Removes every record of `store` (e.g. after the store was deleted), keeping pending offline writes. */
  async deleteStore(store: string): Promise<void> {
    await this.#deleteRange(
      IDBKeyRange.bound([this.namespace, store], [this.namespace, store, AFTER_STRINGS]),
      true,
    );
    this.#dropMemoryStore(store);
    this.#post({ kind: 'store', store });
  }

  /**
   * Removes every cached record of this namespace (call it when the user signs out). With
   * `{ queue: true }` it also drops the writes queued offline, which are otherwise kept.
   */
  async clear(options: { queue?: boolean } = {}): Promise<void> {
    await this.#deleteRange(
      IDBKeyRange.bound([this.namespace], [this.namespace, AFTER_STRINGS]),
      !options.queue,
    );
    if (options.queue) {
      const db = await this.#open();
      const tx = db.transaction('queue', 'readwrite', STRICT);
      for (const seq of await tx.store.index('ns').getAllKeys(this.namespace)) await tx.store.delete(seq);
      await tx.done;
    }
    this.#memory.clear();
    this.#touches.clear();
    this.#confirms.clear();
    this.#post({ kind: 'all' });
  }

  async #deleteRange(range: IDBKeyRange, keepPending: boolean): Promise<void> {
    const db = await this.#open();
    const tx = db.transaction(['entries', 'meta'], 'readwrite', RELAXED);
    const meta = tx.objectStore('meta');
    const totals = (await meta.get(TOTALS)) ?? { count: 0, bytes: 0 };
    let cursor = await tx.objectStore('entries').openCursor(range);
    while (cursor !== null) {
      if (!(keepPending && cursor.value.pending)) {
        totals.count -= 1;
        totals.bytes -= cursor.value.bytes.byteLength;
        await cursor.delete();
      }
      cursor = await cursor.continue();
    }
    await meta.put(totals, TOTALS);
    await tx.done;
  }

  /**
   * Every cached record of `store` (tombstones and expired entries left out), in key order, loaded into
   * the memory layer (up to its size) so the reads that follow need no IndexedDB round trip: one
   * IndexedDB request for the whole store, the fast way to warm the cache after a page load.
   */
  async load(store: string): Promise<CacheRecord[]> {
    const db = await this.#open();
    const range = IDBKeyRange.bound([this.namespace, store], [this.namespace, store, AFTER_STRINGS]);
    const stored = await db.getAll('entries', range);
    const now = this.#now();
    const out: CacheRecord[] = [];
    for (const s of stored) {
      const { ns: _ns, ...record } = s;
      const inMemory = this.#memory.get(memKey(store, record.key));
      const newest = inMemory !== undefined && inMemory.revision >= record.revision ? inMemory : record;
      if (!newest.present || isExpired(newest, now)) continue;
      this.#remember(newest);
      out.push(newest);
    }
    return out;
  }

  /**
   * Queues a write made offline and stores its optimistic record (pending) in the same transaction, so
   * reads see the write before it reaches the server. When `base` is omitted it is derived: chained to
   * an earlier queued write of the same key, else the cached record's revision, else `absent`.
   *
   * @returns the queued write, with its `seq` and `base`
   */
  async enqueue(write: NewQueuedWrite): Promise<QueuedWrite> {
    const db = await this.#open();
    const tx = db.transaction(['entries', 'meta', 'queue'], 'readwrite', STRICT);
    const queue = tx.objectStore('queue');
    const entries = tx.objectStore('entries');
    const earlier = (await queue.index('ns').getAll(this.namespace)).some(
      (q) => q.store === write.store && q.key === write.key,
    );
    const cached = await entries.get([this.namespace, write.store, write.key]);
    let base = write.base;
    if (base === undefined) {
      if (earlier) base = { kind: 'previous' };
      else if (cached?.present && !cached.pending) {
        base = { kind: 'revision', revision: cached.revision };
      } else base = { kind: 'absent' };
    }
    const item: Omit<QueuedWrite, 'seq'> = {
      ...write,
      ns: this.namespace,
      base,
      queuedAt: this.#now(),
    };
    const seq = (await queue.add(item as QueuedWrite)) as number;
    const revision = base.kind === 'revision' ? base.revision : (cached?.revision ?? 0);
    const optimistic: NewCacheRecord =
      write.op === 'delete'
        ? tombstone(write.store, write.key, revision, true)
        : {
            store: write.store,
            key: write.key,
            present: true,
            bytes: write.bytes ?? new Uint8Array(0),
            exact: true,
            id: cached?.present ? cached.id : '',
            revision,
            etag: `"${revision}"`,
            contentType: write.contentType ?? 'application/octet-stream',
            metadata: write.options?.metadata ?? null,
            scopes: write.options?.scopes ?? [],
            createdAt: cached?.present ? cached.createdAt : new Date(this.#now()).toISOString(),
            updatedAt: new Date(this.#now()).toISOString(),
            expiresAt: expiryOf(write.options, this.#now()),
            resume: write.options?.resume ?? false,
            size: write.bytes?.byteLength ?? 0,
            pending: true,
          };
    const result = await this.#putInTx(tx, [optimistic], true);
    await tx.done;
    this.#afterWrite(result, true, undefined);
    this.#post({ kind: 'queue' });
    return { ...item, seq };
  }

  /** The writes queued in this namespace, oldest first (replay order). */
  async queued(): Promise<QueuedWrite[]> {
    const db = await this.#open();
    return db.getAllFromIndex('queue', 'ns', this.namespace);
  }

  /**
   * Settles a queued write after its replay, in one transaction:
   * - `{ applied: revision }`: the write is removed; later writes of the same key chained to it
   *   (`base: previous`) now carry `revision` as their guard; when no write of the key is left, the
   *   cached record stops being pending and takes `revision` (`id` too, when given). `applied: null`
   *   settles a delete: chained writes become create-only and the record is removed.
   * - `{ dropped: true }` (a conflict or a permanent error): the write and the later writes chained to
   *   it are removed; when no write of the key is left, its cached record is evicted so the next read
   *   fetches the server's value.
   */
  async settle(
    seq: number,
    outcome: { applied: number | null; id?: string } | { dropped: true },
  ): Promise<SettleResult> {
    const db = await this.#open();
    const tx = db.transaction(['entries', 'meta', 'queue'], 'readwrite', STRICT);
    const queue = tx.objectStore('queue');
    const entries = tx.objectStore('entries');
    const meta = tx.objectStore('meta');
    const item = await queue.get(seq);
    const dropped: QueuedWrite[] = [];
    let changed = false;
    if (item !== undefined) {
      await queue.delete(seq);
      let chained = true;
      let remaining = 0;
      for (const later of await queue.index('ns').getAll(this.namespace)) {
        if (later.store !== item.store || later.key !== item.key || later.seq < seq) continue;
        if (chained && later.base.kind === 'previous') {
          if ('applied' in outcome) {
            later.base =
              outcome.applied === null ? { kind: 'absent' } : { kind: 'revision', revision: outcome.applied };
            await queue.put(later);
            remaining += 1;
            chained = false;
          } else {
            await queue.delete(later.seq);
            dropped.push(later);
          }
        } else {
          chained = false;
          remaining += 1;
        }
      }
      const id: RecordKey = [this.namespace, item.store, item.key];
      const stored = await entries.get(id);
      if (
        remaining > 0 &&
        stored?.pending &&
        stored.present &&
        'applied' in outcome &&
        outcome.id !== undefined
      ) {
        // Later writes of the key are still queued: the record stays pending, but the id is the server's.
        stored.id = outcome.id;
        await entries.put(stored);
        changed = true;
      }
      if (remaining === 0) {
        if (stored?.pending) {
          changed = true;
          if ('applied' in outcome && outcome.applied !== null && stored.present) {
            const now = this.#now();
            stored.pending = false;
            stored.revision = outcome.applied;
            stored.etag = `"${outcome.applied}"`;
            if (outcome.id !== undefined) stored.id = outcome.id;
            stored.cachedAt = now;
            await entries.put(stored);
          } else {
            const totals = (await meta.get(TOTALS)) ?? { count: 0, bytes: 0 };
            totals.count -= 1;
            totals.bytes -= stored.bytes.byteLength;
            await entries.delete(id);
            await meta.put(totals, TOTALS);
          }
        }
      }
    }
    await tx.done;
    if (item !== undefined && changed) {
      this.#memory.delete(memKey(item.store, item.key));
      this.#post({ kind: 'keys', keys: [[item.store, item.key]] });
    }
    this.#post({ kind: 'queue' });
    return { dropped };
  }

  /** Record and byte counts (see {@link CacheStats}). */
  async stats(): Promise<CacheStats> {
    const db = await this.#open();
    const tx = db.transaction(['meta', 'queue'], 'readonly');
    const totals = (await tx.objectStore('meta').get(TOTALS)) ?? { count: 0, bytes: 0 };
    const queued = await tx.objectStore('queue').index('ns').count(this.namespace);
    await tx.done;
    return { entries: totals.count, bytes: totals.bytes, queued, memoryEntries: this.#memory.size };
  }

  /** Resolves when the writes started so far (`eager` ones included) have reached IndexedDB. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inflight]);
  }

  /** Forgets this tab's memory layer (the IndexedDB records stay): the next reads go to IndexedDB. */
  dropMemory(): void {
    this.#memory.clear();
  }

  /** Flushes pending access times, closes the database and the broadcast channel. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#touchTimer !== undefined) clearTimeout(this.#touchTimer);
    this.#touchTimer = undefined;
    await Promise.allSettled([...this.#inflight]);
    await this.flushAccessTimes().catch(() => undefined);
    this.#closed = true;
    this.#channel?.close();
    this.#channel = undefined;
    const db = this.#db;
    this.#db = undefined;
    if (db !== undefined) (await db.catch(() => undefined))?.close();
    this.#memory.clear();
    this.#listeners.clear();
  }
}

function expiryOf(options: QueuedSetOptions | undefined, now: number): string | null {
  if (options?.expiresAt !== undefined) return options.expiresAt;
  if (options?.ttlMs !== undefined) return new Date(now + options.ttlMs).toISOString();
  return null;
}

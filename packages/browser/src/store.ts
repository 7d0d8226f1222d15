/**
 * The browser store handle: `@kv/core`'s store handle with the IndexedDB cache in front.
 *
 * - Reads (`get`, `getText`, `getJson`, `getBytes`, `getStream`, `getEntry`, `exists`, `getMany`) answer
 *   from the cache with no request while the record is fresh (`maxAgeMs`, or kept current by `live`),
 *   else go through the core client, whose `fetch` is the cache's conditional-GET wrapper (`fetch.ts`).
 *   When the network fails they answer from the cache, `getEntry` marking the entry `stale: true`.
 * - Writes go through the core client; on success the cache takes the written value at the returned
 *   revision (write-through); on failure it is left as it was. With `offlineWrites`, a write that cannot
 *   reach the server is queued in IndexedDB and replayed later under `If-Match` (`client.flush()`).
 *
 * @module
 */
import {
  type AtomicOperation,
  type AtomicSetOptions,
  type BulkResult,
  type CreateOptions,
  type DeleteOptions,
  type EntryMeta,
  formatEtag,
  type GetManyOptions,
  isKvError,
  isReadableStream,
  type JsonObject,
  type JsonValue,
  type KvEntry,
  KvError,
  type KvSetValue,
  type KvValue,
  type ListOptions,
  type ListPage,
  type PreparedWrite,
  preparedBytes,
  type SetManyItem,
  type SetOptions,
  type SetResult,
  type StoreHandle,
  storeWriter,
  type UpdateOptions,
  utf8Decode,
  validateKey,
  type WriteFields,
} from '@kv/core/protocol';
import type { KvCache, QueuedSetOptions, WriteBase } from './cache.js';
import type { CacheCounters } from './fetch.js';
import type { LiveSync } from './live.js';
import {
  type CacheRecord,
  entryOf,
  metaOf,
  type NewCacheRecord,
  recordFromDecoded,
  tombstone,
} from './record.js';

/** An entry read through the cache: a {@link KvEntry} that may say where it came from. */
export interface CachedEntry<T = KvValue> extends KvEntry<T> {
  /** Present (true) when the network failed and this is the cached copy, possibly outdated. */
  stale?: true;
  /** Present (true) when the entry holds a write queued offline that the server has not applied yet. */
  pending?: true;
}

/** The result of a write: {@link SetResult}, or a write queued offline (`queued: true`). */
export interface WriteResult extends SetResult {
  /**
   * Present (true) when the server could not be reached and the write was queued (`offlineWrites`):
   * `id` and `revision` are then the cached ones (`''`/`0` when unknown) and `created` is false.
   */
  queued?: true;
}

/**
 * A store handle of the browser client: every operation of `@kv/core`'s `StoreHandle` (docs/protocol.md
 * "Client operations", `watch` included), read through and written through the cache when the client has one, plus
 * `preload`.
 */
export interface BrowserStoreHandle extends StoreHandle {
  /**
   * The whole entry, or `undefined` when missing. From the cache when fresh; `stale: true` when the
   * network failed and the cached copy is returned; `pending: true` while it holds a queued write.
   */
  getEntry<T = KvValue>(key: string): Promise<CachedEntry<T> | undefined>;
  /** `StoreHandle.set`; with `offlineWrites`, queued when offline (`queued: true`). @see StoreHandle.set */
  set(key: string, value: KvSetValue, options?: SetOptions): Promise<WriteResult>;
  /** `StoreHandle.create`; queued offline as a create-only write. @see StoreHandle.create */
  create(key: string, value: KvSetValue, options?: CreateOptions): Promise<WriteResult>;
  /** `StoreHandle.update`; queued offline with its `revision` as the guard. @see StoreHandle.update */
  update(key: string, value: KvSetValue, revision: number, options?: UpdateOptions): Promise<WriteResult>;
  /**
   * Loads every cached entry of this store from IndexedDB into memory in one request and, with `live`,
   * opens the store's watch. Not needed for fast bulk reads after a page load (`getMany`, and reads
   * issued together, already share one IndexedDB transaction); it helps when many single reads follow
   * one after another, each of which would otherwise be one IndexedDB read.
   * @returns the number of cached entries (0 without a cache)
   */
  preload(): Promise<number>;
}

/** What the store handles of one client share. */
export interface CacheContext {
  /** The cache. */
  cache: KvCache;
  /** Age in ms under which a record is served with no request. */
  maxAgeMs: number;
  /** Queue writes that cannot reach the server. */
  offlineWrites: boolean;
  /** Counters of cache outcomes. */
  counters: CacheCounters;
  /** Clock, epoch ms. */
  now: () => number;
  /** False when the browser knows it is offline (`navigator.onLine`). */
  isOnline: () => boolean;
  /** The live watches, when `live` is on. */
  live: LiveSync | undefined;
  /**
   * Replays queued writes first, so a direct write never overtakes them. Resolves true when nothing is
   * left queued (the write may go to the server), false when writes remain (it must be queued too).
   */
  beforeWrite: () => Promise<boolean>;
  /** Called after a write was queued. */
  queued: () => void;
  /** Called on the first operation of any store handle. */
  used: () => void;
}

/** True for failures where no response arrived: the cache may answer instead. */
function isNetworkFailure(error: unknown): boolean {
  return isKvError(error) && (error.code === 'network_error' || error.code === 'timeout');
}

/** True when the write certainly did not reach the server... as far as a client can tell (no response). */
function isOffline(error: unknown): boolean {
  return isKvError(error) && error.code === 'network_error';
}

/** When a written entry expires: its `expiresAt`, or `ttlMs` from `now` (epoch ms); ISO 8601 or `null`. */
function expiryOf(fields: WriteFields, now: number): string | null {
  if (fields.expiresAt !== undefined) return fields.expiresAt;
  if (fields.ttlMs !== undefined) return new Date(now + fields.ttlMs).toISOString();
  return null;
}

/**
 * The cache record of a write the server applied at `result`, or `undefined` when its value is a `Blob`
 * or stream (not read again here: the key is evicted instead). `createdAt` is the caller's.
 */
function writtenRecord(
  store: string,
  write: PreparedWrite,
  result: { id: string; revision: number },
  now: number,
  createdAt: string,
): NewCacheRecord | undefined {
  const { body, fields } = write;
  if (!(body instanceof Uint8Array)) return undefined;
  return {
    store,
    key: write.key,
    present: true,
    // A copy: bytes the caller passed are the caller's memory (a view of it, for any ArrayBufferView).
    bytes: body.slice(),
    exact: true,
    id: result.id,
    revision: result.revision,
    etag: formatEtag(result.revision),
    contentType: write.contentType,
    metadata: (fields.metadata as JsonObject | undefined) ?? null,
    scopes: fields.scopes ? [...fields.scopes] : [],
    createdAt,
    updatedAt: new Date(now).toISOString(),
    expiresAt: expiryOf(fields, now),
    resume: fields.resume ?? false,
    size: body.byteLength,
    pending: false,
  };
}

/** The base of a write's own precondition, if any: what a queued copy is replayed under. */
function baseOf(write: PreparedWrite): WriteBase | undefined {
  if (write.ifRevision !== undefined) return { kind: 'revision', revision: write.ifRevision };
  if (write.ifNotExists === true || write.create === true) return { kind: 'absent' };
  return undefined;
}

function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

/**
 * Builds the browser handle on `inner` (the core handle). Without `ctx` (no cache) every operation is
 * the core one.
 */
export function createBrowserStore(
  inner: StoreHandle,
  context: CacheContext | undefined,
): BrowserStoreHandle {
  if (context === undefined) {
    return { ...inner, preload: async () => 0 };
  }
  const ctx: CacheContext = context;
  const { cache, counters } = ctx;
  const store = inner.name;
  const writer = storeWriter(inner);
  let started = false;

  const use = (): void => {
    if (!started) {
      started = true;
      ctx.used();
      ctx.live?.start(store);
    }
  };

  /** The cached record: the memory layer first, then IndexedDB. Cache failures count as misses. */
  const lookup = async (key: string): Promise<CacheRecord | undefined> =>
    cache.peek(store, key) ?? (await cache.get(store, key).catch(() => undefined));

  /** Whether a record may answer with no request. `raw` reads need the server's exact bytes. */
  const usable = (record: CacheRecord, raw: boolean): boolean => {
    if (record.pending) return true;
    if (raw && !record.exact) return false;
    if (ctx.now() - record.cachedAt < ctx.maxAgeMs) return true;
    return ctx.live?.covers(store, record.cachedAt) ?? false;
  };

  /**
   * The read-through path shared by the single-key reads: a usable record answers at once; otherwise the
   * network (through the conditional-GET fetch); when that fails for lack of a response, the record.
   */
  async function read<R>(
    key: string,
    raw: boolean,
    fromRecord: (record: CacheRecord, stale: boolean) => R,
    fromNetwork: () => Promise<R>,
  ): Promise<R> {
    use();
    const record = await lookup(key);
    if (record !== undefined && usable(record, raw)) {
      counters.hits += 1;
      return fromRecord(record, false);
    }
    if (record !== undefined && !ctx.isOnline()) {
      counters.staleFallbacks += 1;
      return fromRecord(record, true);
    }
    try {
      return await fromNetwork();
    } catch (error) {
      if (isNetworkFailure(error)) {
        const latest = await lookup(key);
        if (latest !== undefined) {
          counters.staleFallbacks += 1;
          return fromRecord(latest, true);
        }
      }
      throw error;
    }
  }

  const present = <R>(map: (record: CacheRecord) => R) => {
    return (record: CacheRecord): R | undefined => (record.present ? map(record) : undefined);
  };

  /** Stores a successful write's value at its revision (write-through). Never fails the write. */
  async function writeThrough(write: PreparedWrite, result: SetResult): Promise<void> {
    const { key } = write;
    try {
      if (write.ifNotExists === true && !result.created) return;
      const now = ctx.now();
      const previous = write.body instanceof Uint8Array ? await lookup(key) : undefined;
      const createdAt =
        !result.created && previous?.present && previous.id === result.id
          ? previous.createdAt
          : new Date(now).toISOString();
      const record = writtenRecord(store, write, result, now, createdAt);
      if (record === undefined) {
        await cache.delete(store, key);
        return;
      }
      void cache.put(record, { eager: true }).catch(() => cache.delete(store, key).catch(() => undefined));
    } catch {
      // The write succeeded; a cache that cannot take it just misses next time.
      await cache.delete(store, key).catch(() => undefined);
    }
  }

  /**
   * Queues a write made while offline; returns the result the caller sees. The write was checked when
   * it was prepared, so one that can never be applied has already failed instead of waiting for replay.
   */
  async function enqueueSet(write: PreparedWrite, cause: unknown): Promise<WriteResult> {
    if (isReadableStream(write.body)) {
      // A stream can be read once: it cannot wait in a queue. Report the original failure.
      throw (
        cause ??
        new KvError('Cannot queue a stream upload while offline', { code: 'network_error', status: 0 })
      );
    }
    const bytes = await preparedBytes(write);
    const queuedWrite: Parameters<KvCache['enqueue']>[0] = {
      store,
      key: write.key,
      op: 'set',
      // The queue keeps the bytes past this call: a copy of the caller's (a Blob's were just read).
      bytes: write.body instanceof Uint8Array ? bytes.slice() : bytes,
      contentType: write.contentType,
      options: { ...write.fields } as QueuedSetOptions,
    };
    const base = baseOf(write);
    if (base !== undefined) queuedWrite.base = base;
    const queued = await cache.enqueue(queuedWrite);
    ctx.queued();
    const cached = await lookup(write.key);
    return {
      id: cached?.id ?? '',
      revision: queued.base.kind === 'revision' ? queued.base.revision : 0,
      created: false,
      queued: true,
    };
  }

  /** `set`, `create` and `update`: prepared once, sent (or queued offline), then written through. */
  async function writeWith(prepare: () => PreparedWrite): Promise<WriteResult> {
    use();
    const write = prepare();
    if (ctx.offlineWrites) {
      const clear = await ctx.beforeWrite();
      if (!clear || !ctx.isOnline()) return enqueueSet(write, undefined);
    }
    let result: SetResult;
    try {
      result = await writer.put(write);
    } catch (error) {
      if (ctx.offlineWrites && isOffline(error) && !isReadableStream(write.body)) {
        return enqueueSet(write, error);
      }
      throw error;
    }
    await writeThrough(write, result);
    return result;
  }

  async function tombstoneAfterDelete(key: string): Promise<void> {
    const previous = await lookup(key);
    // The delete's revision is not returned; any later write has a higher one than the last we knew.
    const revision = (previous?.revision ?? -1) + 1;
    void cache.put(tombstone(store, key, revision), { eager: true }).catch(() => undefined);
  }

  async function getMany(
    keys: readonly string[],
    options?: GetManyOptions,
  ): Promise<Map<string, KvEntry<KvValue> | EntryMeta | undefined>> {
    use();
    const values = options?.values !== false;
    const found = new Map<string, KvEntry<KvValue> | EntryMeta | undefined>();
    const records = new Map<string, CacheRecord>();
    const missing: string[] = [];
    const unique = [...new Set(keys)];
    // The keys missing from the memory layer are read in one IndexedDB transaction.
    const cached = await cache.getMany(store, unique).catch(() => new Map<string, CacheRecord>());
    for (const key of unique) {
      const record = cached.get(key);
      if (record !== undefined) records.set(key, record);
      if (record !== undefined && usable(record, false)) {
        found.set(key, record.present ? (values ? entryOf<KvValue>(record) : metaOf(record)) : undefined);
      } else {
        missing.push(key);
      }
    }
    counters.hits += unique.length - missing.length;
    if (missing.length > 0) {
      let fetched: Map<string, KvEntry<KvValue> | EntryMeta | undefined> | undefined;
      try {
        if (!ctx.isOnline() && missing.every((key) => records.has(key)))
          throw new KvError('offline', { code: 'network_error', status: 0 });
        fetched = await inner.getMany(missing, values ? { values: true } : { values: false });
      } catch (error) {
        if (!isNetworkFailure(error) || !missing.every((key) => records.has(key))) throw error;
        for (const key of missing) {
          const record = records.get(key) as CacheRecord;
          counters.staleFallbacks += 1;
          found.set(key, record.present ? (values ? staleEntry(record) : metaOf(record)) : undefined);
        }
      }
      if (fetched !== undefined) {
        const fresh: NewCacheRecord[] = [];
        for (const key of missing) {
          const entry = fetched.get(key);
          found.set(key, entry);
          if (entry === undefined) {
            const known = records.get(key);
            if (!known?.pending) fresh.push(tombstone(store, key, known?.revision ?? 0));
          } else if (values) {
            const record = recordFromDecoded(store, entry, (entry as KvEntry<KvValue>).value);
            if (record !== undefined) fresh.push(record);
          }
        }
        void cache.putMany(fresh, { eager: true }).catch(() => undefined);
      }
    }
    const ordered = new Map<string, KvEntry<KvValue> | EntryMeta | undefined>();
    for (const key of unique) ordered.set(key, found.get(key));
    return ordered;
  }

  const handle: BrowserStoreHandle = {
    ...inner,
    name: store,

    get: (key) =>
      read(
        key,
        false,
        (record) => (record.present ? entryOf<KvValue>(record).value : undefined),
        () => inner.get(key),
      ),

    getText: (key) =>
      read(
        key,
        true,
        present((r) => utf8Decode(r.bytes)),
        () => inner.getText(key),
      ),

    getJson: <T = JsonValue>(key: string) =>
      read<T | undefined>(
        key,
        false,
        present((record) => {
          try {
            return JSON.parse(utf8Decode(record.bytes)) as T;
          } catch (cause) {
            throw new KvError(`The value of ${JSON.stringify(key)} is not JSON`, {
              code: 'invalid_json',
              status: 0,
              cause,
            });
          }
        }),
        () => inner.getJson<T>(key),
      ),

    getBytes: (key) =>
      read(
        key,
        true,
        present((r) => r.bytes.slice()),
        () => inner.getBytes(key),
      ),

    getStream: (key) =>
      read(
        key,
        true,
        present((r) => bytesStream(r.bytes.slice())),
        () => inner.getStream(key),
      ),

    getEntry: <T = KvValue>(key: string) =>
      read<CachedEntry<T> | undefined>(
        key,
        false,
        (record, stale) => {
          if (!record.present) return undefined;
          const entry: CachedEntry<T> = entryOf<T>(record);
          if (stale) entry.stale = true;
          if (record.pending) entry.pending = true;
          return entry;
        },
        () => inner.getEntry<T>(key),
      ),

    exists: (key) =>
      read(
        key,
        false,
        (record) => record.present,
        () => inner.exists(key),
      ),

    set: (key, value, options?: SetOptions) => writeWith(() => writer.prepare(key, value, options)),

    create: (key, value, options?: CreateOptions) =>
      writeWith(() => writer.prepare(key, value, options, 'create')),

    update: (key, value, revision, options?: UpdateOptions) =>
      writeWith(() => writer.prepare(key, value, options, { revision })),

    delete: async (key, options?: DeleteOptions) => {
      use();
      if (ctx.offlineWrites) {
        const clear = await ctx.beforeWrite();
        if (!clear || !ctx.isOnline()) return queueDelete(key, options);
      }
      let deleted: boolean;
      try {
        deleted = await inner.delete(key, options);
      } catch (error) {
        if (ctx.offlineWrites && isOffline(error)) return queueDelete(key, options);
        throw error;
      }
      await tombstoneAfterDelete(key);
      return deleted;
    },

    purge: async (key) => {
      const purged = await inner.purge(key);
      await tombstoneAfterDelete(key);
      return purged;
    },

    increment: async (key, delta, options) => {
      // Applied on the server only (never queued offline: a counter's value is the server's); the cached
      // copy is dropped, so the next read asks the server.
      const result = await inner.increment(key, delta, options);
      await cache.delete(store, key).catch(() => undefined);
      return result;
    },

    setExpiry: async (key, expiresAt) => {
      const existed = await inner.setExpiry(key, expiresAt);
      await cache.delete(store, key).catch(() => undefined);
      return existed;
    },

    list: async <T = KvValue>(options?: ListOptions): Promise<ListPage<T>> => {
      const page = await inner.list<T>(options);
      if (options?.values === true) {
        const records: NewCacheRecord[] = [];
        for (const item of page.items) {
          if (!('value' in item)) continue;
          const record = recordFromDecoded(store, item, item.value);
          if (record !== undefined) records.push(record);
        }
        void cache.putMany(records, { eager: true }).catch(() => undefined);
      }
      return page;
    },

    getMany: getMany as StoreHandle['getMany'],

    setMany: async (items: readonly SetManyItem[]): Promise<BulkResult> => {
      const writes = writer.prepareMany(items);
      const result = await writer.putMany(writes);
      const records: NewCacheRecord[] = [];
      const evict: string[] = [];
      const now = ctx.now();
      const iso = new Date(now).toISOString();
      result.results.forEach((r, i) => {
        const write = writes[i];
        if (write === undefined || write.key !== r.key) return;
        if (!r.ok || r.revision === undefined || r.id === undefined) return;
        if (write.ifNotExists === true && r.created === false) return;
        const record = writtenRecord(store, write, { id: r.id, revision: r.revision }, now, iso);
        if (record === undefined) evict.push(write.key);
        else records.push(record);
      });
      void cache.putMany(records, { eager: true }).catch(() => undefined);
      await cache.deleteMany(store, evict).catch(() => undefined);
      return result;
    },

    deleteMany: async (keys) => {
      const result = await inner.deleteMany(keys);
      await cache
        .deleteMany(
          store,
          result.results.filter((r) => r.ok).map((r) => r.key),
        )
        .catch(() => undefined);
      return result;
    },

    atomic: () => wrapAtomic(inner.atomic(), (keys) => cache.deleteMany(store, keys).catch(() => undefined)),

    preload: async () => {
      use();
      return (await cache.load(store).catch(() => [])).length;
    },
  };

  async function queueDelete(key: string, options: DeleteOptions | undefined): Promise<boolean> {
    validateKey(key);
    const write: Parameters<KvCache['enqueue']>[0] = { store, key, op: 'delete' };
    if (options?.ifRevision !== undefined) write.base = { kind: 'revision', revision: options.ifRevision };
    await cache.enqueue(write);
    ctx.queued();
    return true;
  }

  return handle;
}

function staleEntry(record: CacheRecord): CachedEntry<KvValue> {
  const entry: CachedEntry<KvValue> = entryOf<KvValue>(record);
  entry.stale = true;
  return entry;
}

/** Wraps an atomic operation so a successful commit evicts the keys it wrote. */
function wrapAtomic(op: AtomicOperation, evict: (keys: string[]) => Promise<unknown>): AtomicOperation {
  const keys = new Set<string>();
  const wrapped: AtomicOperation = {
    check(key, revision) {
      op.check(key, revision);
      return wrapped;
    },
    set(key, value, options?: AtomicSetOptions) {
      keys.add(key);
      op.set(key, value, options);
      return wrapped;
    },
    delete(key) {
      keys.add(key);
      op.delete(key);
      return wrapped;
    },
    sum(key, n) {
      keys.add(key);
      op.sum(key, n);
      return wrapped;
    },
    min(key, n) {
      keys.add(key);
      op.min(key, n);
      return wrapped;
    },
    max(key, n) {
      keys.add(key);
      op.max(key, n);
      return wrapped;
    },
    async commit() {
      const result = await op.commit();
      if (result.ok) await evict([...keys]);
      return result;
    },
  };
  return wrapped;
}

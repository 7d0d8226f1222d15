/**
 * `createClient` for browser bundles: `@kv/core`'s shared HTTP client with, optionally, the
 * IndexedDB cache in front (read-through with conditional GETs, write-through, live invalidation over
 * watch, offline reads and a replayed offline write queue). It imports no Node built-in.
 *
 * @module
 */
import {
  createHttpClient,
  type FetchLike,
  type HttpClientOptions,
  isKvError,
  KeyExistsError,
  type KvClient,
  type KvEntry,
  KvError,
  type KvValue,
  type SetResult,
  ValidationError,
  type WatchCallbacks,
  type WatchSubscription,
  type WatchSubscriptionOptions,
} from '@kv/core';
import { KvCache, type KvCacheOptions, type QueuedWrite } from './cache.js';
import { type CacheCounters, createCachingFetch, type FetchFn } from './fetch.js';
import { LiveSync } from './live.js';
import { type BrowserStoreHandle, type CacheContext, createBrowserStore } from './store.js';

/** A queued write that could not be applied because the key changed on the server meanwhile. */
export interface WriteConflict {
  /** The queued write (its `base` is the revision it expected; `absent` = expected no entry). */
  write: QueuedWrite;
  /** The server's answer: `RevisionMismatchError` or `KeyExistsError` (412). */
  error: KvError;
  /** The entry on the server now (read after the conflict), or `undefined` when absent or unreadable. */
  current: KvEntry<KvValue> | undefined;
  /** Later queued writes of the same key, made on top of this one, dropped with it. */
  dropped: QueuedWrite[];
}

/** A queued write the server refused for a reason other than a conflict (e.g. 400, 403, 404 store). */
export interface ReplayFailure {
  /** The queued write, dropped from the queue. */
  write: QueuedWrite;
  /** The error. */
  error: KvError;
  /** Later queued writes of the same key, dropped with it. */
  dropped: QueuedWrite[];
}

/** What {@link BrowserClient.flush} did. */
export interface FlushResult {
  /** Queued writes applied by the server. */
  applied: number;
  /** Queued writes dropped because of a conflict (chained writes of the same key included). */
  conflicts: number;
  /** Queued writes dropped because the server refused them for another reason. */
  failed: number;
  /** Writes still queued (the network failed during the replay, or no cache). */
  remaining: number;
}

/**
 * Options of the browser cache (`createClient({ cache })`): the IndexedDB settings of
 * {@link KvCacheOptions} plus how reads and writes use it.
 */
export interface BrowserCacheOptions extends KvCacheOptions {
  /**
   * Age in ms under which a cached entry is returned with no request. Older entries are revalidated
   * with a conditional GET (`If-None-Match`; a `304` keeps the cached bytes). `0` revalidates every read
   * (strong consistency at the cost of one small round trip).
   * @default 0
   * @example 30_000
   */
  maxAgeMs?: number;
  /**
   * Watch each store in use and apply its changes to the cache, so entries stay current with no round
   * trip while the watch is connected (reads then skip revalidation whatever `maxAgeMs` says). A store's
   * watch opens on its first read or `preload()`.
   * @default false
   */
  live?: boolean;
  /**
   * Queue writes (`set`, `create`, `update`, `delete`) that cannot reach the server (offline, or
   * `NetworkError`) in IndexedDB, and replay them in order when back online (the `online` event, a retry
   * timer, the next write, or {@link BrowserClient.flush}). Each replay is guarded by `If-Match` on the
   * revision the write was based on (create-only when the key was absent), so a concurrent change is
   * reported to `onConflict`, never overwritten.
   * @default false
   */
  offlineWrites?: boolean;
  /**
   * Called for each queued write that conflicted on replay; the write is dropped from the queue. May be
   * async: the replay waits for it (e.g. to merge and write again).
   * @example ({ write, current }) => showMergeDialog(write.key, current)
   */
  onConflict?: ((conflict: WriteConflict) => void | Promise<void>) | undefined;
  /** Called for each queued write the server refused for another reason; the write is dropped. */
  onReplayError?: ((failure: ReplayFailure) => void | Promise<void>) | undefined;
  /** Called with the errors of live watches (`willRetry` when the watch reconnects by itself). */
  onLiveError?: ((error: KvError, info: { store: string; willRetry: boolean }) => void) | undefined;
  /**
   * Whether the browser is online; when it says false, reads answer from the cache at once and writes
   * are queued without trying the network.
   * @default () => navigator.onLine
   */
  isOnline?: (() => boolean) | undefined;
  /**
   * First delay before retrying the replay of queued writes after the network failed, in ms; doubles
   * up to 60 s. The `online` event retries at once.
   * @default 2000
   */
  replayRetryMs?: number;
}

/** Options of {@link createClient}: `@kv/core`'s client options plus the cache. */
export interface BrowserClientOptions extends HttpClientOptions {
  /**
   * The IndexedDB cache: `true` for the defaults, an options object, or `false`/omitted for none (every
   * read then goes to the server, as with `@kv/node`).
   * @default undefined (no cache)
   * @example { maxAgeMs: 10_000, live: true, offlineWrites: true, onConflict: console.warn }
   */
  cache?: BrowserCacheOptions | boolean | undefined;
}

/** The browser client: the core client's API with {@link BrowserStoreHandle}s, the cache and its queue. */
export interface BrowserClient extends KvClient {
  /**
   * A handle on one store; no request is made.
   * @throws {ValidationError} bad store name
   */
  store(name: string): BrowserStoreHandle;
  /** The cache, or `undefined` when the client has none. `client.cache.clear()` empties it. */
  readonly cache: KvCache | undefined;
  /** Counts of reads served from the cache, revalidated, not modified, missed and stale. */
  readonly cacheCounters: Readonly<CacheCounters>;
  /**
   * Replays the writes queued offline, oldest first, each guarded by `If-Match` on its base revision.
   * Stops at the first network failure (the rest stay queued). One replay at a time per client, and
   * per origin when the Web Locks API exists (several tabs never replay the same write twice).
   */
  flush(): Promise<FlushResult>;
  /** Stops live watches, timers and the `online` listener, and closes the cache. */
  close(): Promise<void>;
}

function defaultIsOnline(): boolean {
  const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
  return nav?.onLine !== false;
}

function isNoResponse(error: unknown): boolean {
  return isKvError(error) && (error.code === 'network_error' || error.code === 'timeout');
}

function isConflict(error: unknown): error is KvError {
  return isKvError(error) && (error.code === 'revision_mismatch' || error.code === 'key_exists');
}

function asKvError(error: unknown): KvError {
  return isKvError(error) ? error : new KvError(String(error), { cause: error, status: 0 });
}

/**
 * Creates a kv client for the browser. Makes no request and opens no database until used.
 *
 * @param options - `@kv/core` client options (`url`, `token`, `timeoutMs`, `retry`, `fetch`,
 *   `onError`, `headers`) and `cache` ({@link BrowserCacheOptions})
 * @returns the client: `client.stores.*`, `client.store(name)`, `client.flush()`, `client.cache`
 * @throws {ConfigurationError} missing or invalid `url` (before any request)
 * @throws {ValidationError} invalid `timeoutMs`/`retry`, no `fetch`, or an invalid cache bound
 * @example
 * ```ts
 * import { createClient } from '@kv/browser';
 * const kv = createClient({ url: 'https://kv.example.com', token, cache: { live: true, offlineWrites: true } });
 * const todos = kv.store('todos');
 * await todos.set('todo.1', { title: 'Write docs', done: false });
 * const todo = await todos.getEntry('todo.1'); // later reads: from IndexedDB, kept current by watch
 * ```
 */
export function createClient(options: BrowserClientOptions): BrowserClient {
  const { cache: cacheOption, ...httpOptions } = options;
  const userFetch = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch?.bind(globalThis);
  if (typeof userFetch !== 'function') {
    throw new ValidationError('`fetch` is not defined here. Pass one: createClient({ url, fetch })', {
      details: { field: 'fetch', reason: 'missing' },
    });
  }
  const counters: CacheCounters = { hits: 0, revalidations: 0, notModified: 0, misses: 0, staleFallbacks: 0 };
  const settings: BrowserCacheOptions | undefined =
    cacheOption === true ? {} : cacheOption === false || cacheOption === undefined ? undefined : cacheOption;

  let cachingFetch: FetchFn = userFetch;
  const core = createHttpClient({ ...httpOptions, fetch: (input, init) => cachingFetch(input, init) });

  const watchStore = <T>(
    store: string,
    watchOptions: WatchSubscriptionOptions,
    callbacks: WatchCallbacks<T>,
  ): WatchSubscription<T> => core.store(store).watch<T>(watchOptions, callbacks);

  if (settings === undefined) {
    const handles = new Map<string, BrowserStoreHandle>();
    return {
      url: core.url,
      stores: core.stores,
      tokens: core.tokens,
      cache: undefined,
      cacheCounters: counters,
      store(name) {
        let handle = handles.get(name);
        if (handle === undefined) {
          handle = createBrowserStore(core.store(name), undefined);
          handles.set(name, handle);
        }
        return handle;
      },
      flush: async () => ({ applied: 0, conflicts: 0, failed: 0, remaining: 0 }),
      close: async () => undefined,
    };
  }

  const maxAgeMs = settings.maxAgeMs ?? 0;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) {
    throw new ValidationError('`cache.maxAgeMs` must be a non-negative number of milliseconds', {
      details: { field: 'cache.maxAgeMs', reason: 'out_of_range' },
    });
  }
  let cache: KvCache;
  try {
    cache = new KvCache({ ...settings, namespace: settings.namespace ?? core.url });
  } catch (cause) {
    throw new ValidationError(`Invalid cache option: ${(cause as Error).message}`, {
      cause,
      details: { field: 'cache', reason: 'out_of_range' },
    });
  }
  cachingFetch = createCachingFetch({ cache, baseUrl: core.url, fetch: userFetch, counters });
  const now = settings.now ?? Date.now;
  const isOnline = settings.isOnline ?? defaultIsOnline;
  const offlineWrites = settings.offlineWrites === true;
  const live = settings.live
    ? new LiveSync({
        cache,
        now,
        onError: settings.onLiveError,
        watch: (store, o, c) => watchStore(store, o, c),
      })
    : undefined;

  let closed = false;
  let flushing: Promise<FlushResult> | undefined;
  /** False once a replay emptied the queue; true after a write was queued (or before the first look). */
  let mayHaveQueued = offlineWrites;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryDelay = settings.replayRetryMs ?? 2000;
  let startedReplay = false;

  const scheduleRetry = (): void => {
    if (closed || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void flush().catch(() => undefined);
    }, retryDelay);
    (retryTimer as { unref?: () => void }).unref?.();
    retryDelay = Math.min(60_000, retryDelay * 2);
  };

  async function replay(write: QueuedWrite): Promise<'applied' | 'conflict' | 'failed' | 'offline'> {
    const handle = core.store(write.store);
    try {
      if (write.base.kind === 'previous') {
        throw new KvError('The write it was based on is no longer queued', { code: 'revision_mismatch' });
      }
      if (write.op === 'set') {
        const value = write.bytes ?? new Uint8Array(0);
        const setOptions = { ...write.options, contentType: write.contentType ?? 'application/octet-stream' };
        const result: SetResult =
          write.base.kind === 'revision'
            ? await handle.set(write.key, value, { ...setOptions, ifRevision: write.base.revision })
            : await handle.create(write.key, value, setOptions);
        await cache.settle(write.seq, { applied: result.revision, id: result.id });
      } else if (write.base.kind === 'revision') {
        await handle.delete(write.key, { ifRevision: write.base.revision });
        await cache.settle(write.seq, { applied: null });
      } else {
        // Deleting a key believed absent: if someone created it meanwhile, that is a conflict.
        if (await handle.exists(write.key)) {
          throw new KeyExistsError(`${write.key} was created on the server while this delete was queued`);
        }
        await cache.settle(write.seq, { applied: null });
      }
      return 'applied';
    } catch (error) {
      if (isNoResponse(error)) return 'offline';
      const { dropped } = await cache.settle(write.seq, { dropped: true });
      if (isConflict(error)) {
        const current = await handle.getEntry<KvValue>(write.key).catch(() => undefined);
        try {
          await settings?.onConflict?.({ write, error, current, dropped });
        } catch {
          // The application's handler failed; the conflict was still reported.
        }
        return 'conflict';
      }
      try {
        await settings?.onReplayError?.({ write, error: asKvError(error), dropped });
      } catch {
        // As above.
      }
      return 'failed';
    }
  }

  async function replayAll(): Promise<FlushResult> {
    const result: FlushResult = { applied: 0, conflicts: 0, failed: 0, remaining: 0 };
    for (;;) {
      if (closed) break;
      const queue = await cache.queued();
      const next = queue[0];
      if (next === undefined) break;
      if (!isOnline()) {
        result.remaining = queue.length;
        break;
      }
      const before = queue.length;
      const outcome = await replay(next);
      if (outcome === 'offline') {
        result.remaining = queue.length;
        break;
      }
      if (outcome === 'applied') result.applied += 1;
      else {
        const after = (await cache.queued()).length;
        const removed = Math.max(1, before - after);
        if (outcome === 'conflict') result.conflicts += removed;
        else result.failed += removed;
      }
    }
    return result;
  }

  async function flush(): Promise<FlushResult> {
    if (closed) return { applied: 0, conflicts: 0, failed: 0, remaining: 0 };
    if (flushing !== undefined) return flushing;
    const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
    const run = async (): Promise<FlushResult> => {
      const result =
        locks === undefined
          ? await replayAll()
          : ((await locks.request(`kv-cache-replay:${cache.name}:${cache.namespace}`, () =>
              replayAll(),
            )) as FlushResult);
      mayHaveQueued = result.remaining > 0;
      if (result.remaining > 0) scheduleRetry();
      else retryDelay = settings?.replayRetryMs ?? 2000;
      return result;
    };
    flushing = run().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  const onOnline = (): void => {
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    retryTimer = undefined;
    void flush().catch(() => undefined);
  };
  const target = globalThis as {
    addEventListener?: typeof addEventListener;
    removeEventListener?: typeof removeEventListener;
  };
  if (offlineWrites && typeof target.addEventListener === 'function')
    target.addEventListener('online', onOnline);

  const ctx: CacheContext = {
    cache,
    maxAgeMs,
    offlineWrites,
    counters,
    now,
    isOnline,
    live,
    beforeWrite: async () => {
      if (!mayHaveQueued || !isOnline()) return !mayHaveQueued;
      const result = await flush();
      return result.remaining === 0;
    },
    queued: () => {
      mayHaveQueued = true;
      if (isOnline()) scheduleRetry();
    },
    used: () => {
      if (startedReplay || !offlineWrites) return;
      startedReplay = true;
      // Writes queued before a page reload go out on the first use of the client.
      if (isOnline()) void flush().catch(() => undefined);
    },
  };

  const handles = new Map<string, BrowserStoreHandle>();
  return {
    url: core.url,
    stores: {
      ...core.stores,
      delete: async (name) => {
        const deleted = await core.stores.delete(name);
        await cache.deleteStore(name).catch(() => undefined);
        return deleted;
      },
    },
    tokens: core.tokens,
    cache,
    cacheCounters: counters,
    store(name) {
      let handle = handles.get(name);
      if (handle === undefined) {
        handle = createBrowserStore(core.store(name), ctx);
        handles.set(name, handle);
      }
      return handle;
    },
    flush,
    async close() {
      if (closed) return;
      await flushing?.catch(() => undefined);
      closed = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      if (typeof target.removeEventListener === 'function') target.removeEventListener('online', onOnline);
      live?.stop();
      await cache.close();
    },
  };
}

/**
 * Live invalidation (`cache.live: true`): one watch per store in use (`GET .../watch`, Server-Sent
 * Events) feeding every change into the cache, so cached reads stay current with no round trip.
 * A `put` event stores the new value and fields; `delete`, `purge` and `expire` store a tombstone. While
 * the watch is connected, a record confirmed after it connected is fresh whatever its age (every later
 * write reaches the cache through the watch). When the watch fails, records fall back to `maxAgeMs` and
 * revalidation until it delivers again.
 *
 * @module
 */
import type {
  KvError,
  WatchCallbacks,
  WatchEvent,
  WatchSubscription,
  WatchSubscriptionOptions,
} from '@kv/core';
import type { KvCache } from './cache.js';
import { recordFromDecoded, tombstone } from './record.js';

/** Starts a watch of one store (the client's `store(name).watch`). */
export type StartWatch = (
  store: string,
  options: WatchSubscriptionOptions,
  callbacks: WatchCallbacks<unknown>,
) => WatchSubscription<unknown>;

/** Options of {@link LiveSync}. */
export interface LiveSyncOptions {
  /** The cache to keep current. */
  cache: KvCache;
  /** Opens a watch. */
  watch: StartWatch;
  /** Clock, epoch ms. */
  now: () => number;
  /** Called with watch errors (`willRetry` when the watch reconnects by itself). */
  onError?: ((error: KvError, info: { store: string; willRetry: boolean }) => void) | undefined;
  /** First delay before reopening a watch that ended with an error, in ms; doubles up to 60 s. @default 1000 */
  restartDelayMs?: number;
}

interface StoreWatch {
  subscription: WatchSubscription<unknown> | undefined;
  /** When the watch last became current (ready or delivering), epoch ms; undefined while it is down. */
  liveSince: number | undefined;
  /** Events applied in order, one after the other. */
  chain: Promise<void>;
  timer: ReturnType<typeof setTimeout> | undefined;
  failures: number;
}

const READY_POLL_MS = 10;

/** Keeps cached records of watched stores current (see the module doc). */
export class LiveSync {
  readonly #options: LiveSyncOptions;
  readonly #stores = new Map<string, StoreWatch>();
  #stopped = false;

  /** @param options - see {@link LiveSyncOptions} */
  constructor(options: LiveSyncOptions) {
    this.#options = options;
  }

  /** Starts watching `store` (once; later calls do nothing). */
  start(store: string): void {
    if (this.#stopped || this.#stores.has(store)) return;
    const state: StoreWatch = {
      subscription: undefined,
      liveSince: undefined,
      chain: Promise.resolve(),
      timer: undefined,
      failures: 0,
    };
    this.#stores.set(store, state);
    this.#open(store, state);
  }

  /** True when the watch of `store` is current and covers a record confirmed at `cachedAt` (epoch ms). */
  covers(store: string, cachedAt: number): boolean {
    const since = this.#stores.get(store)?.liveSince;
    return since !== undefined && cachedAt >= since;
  }

  /** Resolves when every event received so far for `store` has been applied to the cache. */
  async settled(store: string): Promise<void> {
    await this.#stores.get(store)?.chain;
  }

  /** True once the watch of `store` is connected and current. */
  isLive(store: string): boolean {
    return this.#stores.get(store)?.liveSince !== undefined;
  }

  #open(store: string, state: StoreWatch): void {
    const { cache, now } = this.#options;
    const apply = async (event: WatchEvent<unknown>): Promise<void> => {
      if (event.type === 'resume') return;
      const at = now();
      if (event.type === 'put') {
        const record = recordFromDecoded(store, event, event.value);
        if (record === undefined) await cache.delete(store, event.key);
        else await cache.put({ ...record, cachedAt: at }, { eager: true });
      } else {
        await cache.put({ ...tombstone(store, event.key, event.revision), cachedAt: at }, { eager: true });
      }
    };
    const subscription = this.#options.watch(
      store,
      { updatesOnly: true },
      {
        onUpdate: (event) => {
          state.failures = 0;
          if (state.liveSince === undefined) state.liveSince = now();
          state.chain = state.chain.then(() => apply(event)).catch(() => undefined);
        },
        onError: (error, info) => {
          state.liveSince = undefined;
          this.#options.onError?.(error, { store, willRetry: info.willRetry });
        },
        onClose: () => {
          state.liveSince = undefined;
          state.subscription = undefined;
          if (this.#stopped) return;
          state.failures += 1;
          const delay = Math.min(60_000, (this.#options.restartDelayMs ?? 1000) * 2 ** (state.failures - 1));
          state.timer = setTimeout(() => {
            state.timer = undefined;
            if (!this.#stopped) this.#open(store, state);
          }, delay);
        },
      },
    );
    state.subscription = subscription;
    // The watcher learns the server's revision from the `ready` event (its `lastRevision`): from then
    // on every write reaches this cache, so records confirmed afterwards are current.
    const poll = (): void => {
      if (this.#stopped || state.subscription !== subscription) return;
      if (subscription.lastRevision !== undefined) {
        if (state.liveSince === undefined) state.liveSince = now();
        return;
      }
      setTimeout(poll, READY_POLL_MS);
    };
    poll();
  }

  /** Stops every watch. */
  stop(): void {
    this.#stopped = true;
    for (const state of this.#stores.values()) {
      if (state.timer !== undefined) clearTimeout(state.timer);
      state.subscription?.stop();
      state.liveSince = undefined;
    }
  }
}

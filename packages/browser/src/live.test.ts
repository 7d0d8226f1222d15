import 'fake-indexeddb/auto';
import { NetworkError, type WatchCallbacks, type WatchEvent, type WatchSubscription } from '@kv/core';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { KvCache } from './cache.js';
import { LiveSync } from './live.js';
import { entryOf } from './record.js';

interface FakeWatch {
  store: string;
  callbacks: WatchCallbacks<unknown>;
  subscription: WatchSubscription<unknown> & { lastRevision: number | undefined };
  stopped: boolean;
}

function fakeWatches(): { watches: FakeWatch[]; start: ConstructorParameters<typeof LiveSync>[0]['watch'] } {
  const watches: FakeWatch[] = [];
  return {
    watches,
    start: (store, _options, callbacks) => {
      const fake: FakeWatch = {
        store,
        callbacks,
        stopped: false,
        subscription: {
          lastRevision: undefined,
          closed: Promise.resolve(),
          stop: () => {
            fake.stopped = true;
          },
          async *[Symbol.asyncIterator]() {},
        },
      };
      watches.push(fake);
      return fake.subscription;
    },
  };
}

function event(
  type: WatchEvent['type'],
  key: string,
  revision: number,
  value?: unknown,
): WatchEvent<unknown> {
  return {
    type,
    store: 's',
    key,
    id: `id-${key}`,
    revision,
    contentType: 'application/json',
    metadata: null,
    scopes: [],
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    expiresAt: null,
    resume: false,
    size: value === undefined ? 0 : JSON.stringify(value).length,
    value,
  };
}

const caches: KvCache[] = [];
const syncs: LiveSync[] = [];
afterEach(async () => {
  for (const s of syncs.splice(0)) s.stop();
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

function setup(now: () => number = Date.now): { cache: KvCache; live: LiveSync; watches: FakeWatch[] } {
  const cache = new KvCache({ indexedDB: new IDBFactory(), broadcast: false, now });
  const { watches, start } = fakeWatches();
  const live = new LiveSync({ cache, watch: start, now, restartDelayMs: 5 });
  caches.push(cache);
  syncs.push(live);
  return { cache, live, watches };
}

describe('LiveSync', () => {
  it('opens one watch per store, applies puts and deletes to the cache in order', async () => {
    const { cache, live, watches } = setup();
    live.start('s');
    live.start('s');
    expect(watches).toHaveLength(1);
    const { onUpdate } = watches[0]!.callbacks;
    onUpdate?.(event('put', 'a', 1, { v: 1 }));
    onUpdate?.(event('put', 'a', 2, { v: 2 }));
    onUpdate?.(event('put', 'b', 3, 'x'));
    onUpdate?.(event('delete', 'b', 4));
    onUpdate?.(event('resume', 'c', 5, 1));
    await live.settled('s');
    const a = await cache.get('s', 'a');
    expect(a?.revision).toBe(2);
    expect(entryOf(a!).value).toEqual({ v: 2 });
    expect(await cache.get('s', 'b')).toMatchObject({ present: false, revision: 4 });
    expect(await cache.get('s', 'c')).toBeUndefined();
  });

  it('covers records confirmed after the watch is ready, until it fails', async () => {
    let now = 1000;
    const { live, watches } = setup(() => now);
    live.start('s');
    expect(live.covers('s', 2000)).toBe(false);
    watches[0]!.subscription.lastRevision = 7; // the `ready` event arrived
    await new Promise((r) => setTimeout(r, 30));
    now = 1500;
    expect(live.isLive('s')).toBe(true);
    expect(live.covers('s', 999)).toBe(false);
    expect(live.covers('s', 1000)).toBe(true);
    watches[0]!.callbacks.onError?.(new NetworkError('dropped'), { willRetry: true });
    expect(live.covers('s', 1000)).toBe(false);
    watches[0]!.callbacks.onUpdate?.(event('put', 'a', 8, 1));
    expect(live.covers('s', 1500)).toBe(true);
  });

  it('reopens a watch that ended, and stop() ends everything', async () => {
    const { live, watches } = setup();
    live.start('s');
    watches[0]!.callbacks.onClose?.();
    await new Promise((r) => setTimeout(r, 30));
    expect(watches).toHaveLength(2);
    live.stop();
    expect(watches[1]!.stopped).toBe(true);
  });
});

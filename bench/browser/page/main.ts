// Benchmarks of @kv/browser, run inside Chromium by bench/browser/run.mjs. Each function returns plain
// numbers; timings use performance.now() (5 µs resolution: the page is cross-origin isolated).
import { type BrowserClient, createClient } from '@kv/browser';

let requests = 0;
const countingFetch = (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
  requests += 1;
  return fetch(input, init);
};

function stats(samples: number[]): { medianMs: number; p95Ms: number; meanMs: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return { medianMs: round(at(0.5)), p95Ms: round(at(0.95)), meanMs: round(mean), n: samples.length };
}

/** The server's admin token, set by the bench driver (`window.kvToken`). */
const token = (): string | undefined => (window as unknown as { kvToken?: string }).kvToken;

function client(url: string, cache: Parameters<typeof createClient>[0]['cache']): BrowserClient {
  return createClient({ url, token: token(), fetch: countingFetch, retry: false, cache });
}

const bench = {
  async seed(url: string, store: string, count: number, valueBytes: number): Promise<void> {
    const kv = createClient({ url, token: token(), retry: false });
    await kv.stores.create(store).catch(() => undefined);
    const filler = 'x'.repeat(Math.max(0, valueBytes - 40));
    const items = Array.from({ length: count }, (_, i) => ({
      key: `item.${String(i).padStart(5, '0')}`,
      value: { i, name: `entry ${i}`, filler },
    }));
    await kv.store(store).setMany(items);
  },

  /** Cache hits: sequential getEntry of one fresh key. `memoryEntries: 0` measures IndexedDB hits. */
  async cacheHit(url: string, store: string, iterations: number, memoryEntries: number) {
    const kv = client(url, { name: `bench-hit-${memoryEntries}`, maxAgeMs: 3_600_000, memoryEntries });
    const handle = kv.store(store);
    await handle.getEntry('item.00000');
    for (let i = 0; i < 50; i++) await handle.getEntry('item.00000');
    requests = 0;
    const samples: number[] = [];
    const started = performance.now();
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await handle.getEntry('item.00000');
      samples.push(performance.now() - t0);
    }
    const totalMs = performance.now() - started;
    const result = {
      ...stats(samples),
      batchMeanMs: Math.round((totalMs / iterations) * 1000) / 1000,
      requests,
    };
    await kv.close();
    return result;
  },

  /** Revalidation: every read is a conditional GET answered 304; and, for comparison, uncached 200 reads. */
  async revalidate(url: string, store: string, iterations: number) {
    const kv = client(url, { name: 'bench-304', maxAgeMs: 0 });
    const handle = kv.store(store);
    await handle.getEntry('item.00001');
    for (let i = 0; i < 20; i++) await handle.getEntry('item.00001');
    requests = 0;
    const before = kv.cacheCounters.notModified;
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await handle.getEntry('item.00001');
      samples.push(performance.now() - t0);
    }
    const notModified = kv.cacheCounters.notModified - before;
    const revalidateRequests = requests;
    await kv.close();

    const plain = createClient({ url, token: token(), fetch: countingFetch, retry: false });
    for (let i = 0; i < 20; i++) await plain.store(store).getEntry('item.00001');
    const full: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await plain.store(store).getEntry('item.00001');
      full.push(performance.now() - t0);
    }
    // The browser's own cost of the same conditional request: bare fetch, no client.
    const entry = await plain.store(store).getEntry('item.00001');
    const entryUrl = `${url}/v1/stores/${store}/entries/item.00001`;
    const bare: number[] = [];
    let bareStatus = 0;
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      const response = await fetch(entryUrl, { headers: { 'if-none-match': `"${entry?.revision}"` } });
      await response.arrayBuffer();
      bareStatus = response.status;
      bare.push(performance.now() - t0);
    }
    return {
      conditional: { ...stats(samples), requests: revalidateRequests, notModified },
      uncached: stats(full),
      bareFetch304: { ...stats(bare), status: bareStatus },
    };
  },

  /** Fills the cache with every entry of the store (one listing with values). */
  async warmForReload(url: string, store: string): Promise<number> {
    const kv = client(url, { name: 'bench-reload', maxAgeMs: 3_600_000, maxEntries: 10_000 });
    let cursor: string | undefined;
    let count = 0;
    for (;;) {
      const page = await kv.store(store).list({ values: true, limit: 1000, ...(cursor ? { cursor } : {}) });
      count += page.items.length;
      if (page.complete || page.cursor === undefined) break;
      cursor = page.cursor;
    }
    await kv.close();
    return count;
  },

  /**
   * After a reload: a new client reads every cached entry, with no request. `preload`: `preload()` (one
   * IndexedDB `getAll`) then `getMany`; `getMany`: `getMany` alone (one IndexedDB transaction for its
   * keys); `sequential`: one `getEntry` after another (one transaction each); `concurrent`: every
   * `getEntry` at once (batched into one transaction).
   */
  async loadAfterReload(
    url: string,
    store: string,
    count: number,
    mode: 'preload' | 'getMany' | 'sequential' | 'concurrent',
  ) {
    requests = 0;
    const keys = Array.from({ length: count }, (_, i) => `item.${String(i).padStart(5, '0')}`);
    const t0 = performance.now();
    const kv = client(url, { name: 'bench-reload', maxAgeMs: 3_600_000, maxEntries: 10_000 });
    const handle = kv.store(store);
    let loaded = 0;
    let entries: Array<unknown>;
    /** Each read's time (sequential mode; the first one opens the database). */
    const perRead: number[] = [];
    if (mode === 'preload' || mode === 'getMany') {
      if (mode === 'preload') loaded = await handle.preload();
      entries = [...(await handle.getMany(keys)).values()];
    } else if (mode === 'sequential') {
      entries = [];
      for (const key of keys) {
        const r0 = performance.now();
        entries.push(await handle.getEntry(key));
        perRead.push(performance.now() - r0);
      }
    } else {
      entries = await Promise.all(keys.map((key) => handle.getEntry(key)));
    }
    const ms = performance.now() - t0;
    const found = entries.filter((entry) => entry !== undefined).length;
    const hits = kv.cacheCounters.hits;
    await kv.close();
    const perReadStats = perRead.length > 0 ? stats(perRead) : undefined;
    return {
      ms: Math.round(ms * 100) / 100,
      loaded,
      found,
      hits,
      requests,
      ...(perReadStats ? { perReadMedianMs: perReadStats.medianMs, perReadP95Ms: perReadStats.p95Ms } : {}),
    };
  },
};

/** Wraps one IndexedDB request. */
function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * The browser's own cost of the same reads, with no client: the cache's database read with the bare
 * IndexedDB API after a reload. `get`: one transaction per key, in turn; `batch`: one transaction, every
 * `get` issued at once; `getAll`: one `getAll` over the store's range.
 */
const bare = {
  async read(namespace: string, store: string, count: number, mode: 'get' | 'batch' | 'getAll') {
    const keys = Array.from({ length: count }, (_, i) => `item.${String(i).padStart(5, '0')}`);
    const t0 = performance.now();
    const open = indexedDB.open('bench-reload');
    const db = await request(open);
    let found = 0;
    if (mode === 'get') {
      for (const key of keys) {
        const tx = db.transaction('entries', 'readonly');
        if (await request(tx.objectStore('entries').get([namespace, store, key]))) found += 1;
      }
    } else if (mode === 'batch') {
      const entries = db.transaction('entries', 'readonly').objectStore('entries');
      const got = await Promise.all(keys.map((key) => request(entries.get([namespace, store, key]))));
      found = got.filter(Boolean).length;
    } else {
      const entries = db.transaction('entries', 'readonly').objectStore('entries');
      const range = IDBKeyRange.bound([namespace, store], [namespace, store, []]);
      found = (await request(entries.getAll(range))).length;
    }
    const ms = performance.now() - t0;
    db.close();
    return { ms: Math.round(ms * 100) / 100, found };
  },
};

Object.assign(window, { bench, bare, isolated: crossOriginIsolated });
document.getElementById('status')!.textContent = 'ready';

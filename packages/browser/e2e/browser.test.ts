/**
 * @kv/browser in real Chromium (Debian's package through playwright-core) against the real server
 * process (SQLite): cache hits with no request, 304 revalidation, live invalidation from a Node
 * client's write, offline reads and a queued write replayed with a conflict, reloads and tabs, and two
 * tabs replaying one shared offline queue at once (the Web Locks guard: each write reaches the server once).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHttpClient, type KvClient } from '@kv/core';
import type { Browser, BrowserContext, Page, Request as PwRequest } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildPage, type KvServerProcess, launchChromium, serveStatic, startKvServer } from './harness.mjs';
import './page/globals.js';

const pageRoot = join(dirname(fileURLToPath(import.meta.url)), 'page');

let server: KvServerProcess;
let site: { url: string; close(): Promise<void> };
let bundle: { dir: string; remove(): Promise<void> };
let browser: Browser;
let context: BrowserContext;
let page: Page;
let node: KvClient;
let storeName: string;
let counter = 0;

beforeAll(async () => {
  [server, bundle, browser] = await Promise.all([startKvServer(), buildPage(pageRoot), launchChromium()]);
  site = await serveStatic(bundle.dir);
  node = createHttpClient({ url: server.url, token: server.token, retry: false });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  await bundle?.remove();
});

beforeEach(async () => {
  counter += 1;
  storeName = `e2e-${Date.now().toString(36)}-${counter}`;
  await node.stores.create(storeName);
  context = await browser.newContext();
  page = await context.newPage();
  await page.goto(site.url);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
});

afterEach(async () => {
  await page
    ?.evaluate(async () => {
      for (const client of Object.values(window.clients)) await client.close();
    })
    .catch(() => undefined);
  await context?.close();
});

/** Network requests from the page to the kv server, as Chromium saw them (preflights included). */
function watchNetwork(target: Page): { requests: PwRequest[]; stop(): void } {
  const requests: PwRequest[] = [];
  const listener = (request: PwRequest): void => {
    if (request.url().startsWith(server.url)) requests.push(request);
  };
  target.on('request', listener);
  return { requests, stop: () => target.off('request', listener) };
}

/** Creates `window.clients[name]` in the page with the counting fetch and the given cache options. */
async function createPageClient(
  target: Page,
  name: string,
  cache: { maxAgeMs?: number; live?: boolean; offlineWrites?: boolean; dbName?: string },
): Promise<void> {
  await target.evaluate(
    ({ url, token, name, cache }) => {
      window.clients[name] = window.kv.createClient({
        url,
        token,
        fetch: window.countingFetch,
        retry: false,
        cache: {
          name: cache.dbName ?? 'kv-e2e',
          maxAgeMs: cache.maxAgeMs ?? 0,
          live: cache.live ?? false,
          offlineWrites: cache.offlineWrites ?? false,
          onConflict: (conflict) => {
            window.conflicts.push({
              store: conflict.write.store,
              key: conflict.write.key,
              code: conflict.error.code,
              current: conflict.current?.value,
              base: conflict.write.base,
            });
          },
        },
      });
    },
    { url: server.url, token: server.token, name, cache },
  );
}

async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('@kv/browser in Chromium against the server', { timeout: 30_000 }, () => {
  it('answers a cached read with no network request', async () => {
    const written = await node.store(storeName).set('greeting', { hello: 'world' });
    await createPageClient(page, 'a', { maxAgeMs: 60_000 });
    const first = await page.evaluate(
      async (store) => (await window.clients.a!.store(store).getEntry('greeting'))?.value,
      storeName,
    );
    expect(first).toEqual({ hello: 'world' });

    const network = watchNetwork(page);
    const again = await page.evaluate(async (store) => {
      window.net.requests = [];
      const entry = await window.clients.a!.store(store).getEntry('greeting');
      const text = await window.clients.a!.store(store).getText('greeting');
      return { value: entry?.value, revision: entry?.revision, text, logged: window.net.requests.length };
    }, storeName);
    network.stop();
    expect(again).toEqual({
      value: { hello: 'world' },
      revision: written.revision,
      text: '{"hello":"world"}',
      logged: 0,
    });
    expect(network.requests).toEqual([]);
  });

  it('revalidates with If-None-Match and keeps the cached bytes on 304', async () => {
    const written = await node.store(storeName).set('doc', 'cached text');
    await createPageClient(page, 'a', { maxAgeMs: 0 });
    await page.evaluate(async (store) => window.clients.a!.store(store).getText('doc'), storeName);

    const statuses: Array<{ method: string; status: number; ifNoneMatch: string | undefined }> = [];
    const listener = async (response: import('playwright-core').Response): Promise<void> => {
      if (!response.url().startsWith(server.url)) return;
      const request = response.request();
      statuses.push({
        method: request.method(),
        status: response.status(),
        ifNoneMatch: (await request.allHeaders())['if-none-match'],
      });
    };
    page.on('response', listener);
    const result = await page.evaluate(async (store) => {
      const client = window.clients.a!;
      const entry = await client.store(store).getEntry('doc');
      return {
        value: entry?.value,
        revision: entry?.revision,
        notModified: client.cacheCounters.notModified,
      };
    }, storeName);
    await new Promise((r) => setTimeout(r, 100));
    page.off('response', listener);
    expect(result).toEqual({ value: 'cached text', revision: written.revision, notModified: 1 });
    expect(statuses.filter((s) => s.method === 'GET')).toEqual([
      { method: 'GET', status: 304, ifNoneMatch: `"${written.revision}"` },
    ]);
  });

  it('stays current through live invalidation from a Node client’s write', async () => {
    await node.store(storeName).set('flag', 'off');
    await createPageClient(page, 'a', { live: true, maxAgeMs: 0 });
    expect(await page.evaluate(async (store) => window.clients.a!.store(store).get('flag'), storeName)).toBe(
      'off',
    );
    const changed = await node.store(storeName).set('flag', 'on');
    // The watch delivers the write; the cache holds it without the page asking.
    await until(
      () =>
        page.evaluate(
          async (store) => (await window.clients.a!.cache!.get(store, 'flag'))?.revision ?? null,
          storeName,
        ),
      (revision) => revision === changed.revision,
      'the watch event to reach the cache',
    );
    const network = watchNetwork(page);
    const read = await page.evaluate(async (store) => {
      window.net.requests = [];
      const entry = await window.clients.a!.store(store).getEntry('flag');
      return { value: entry?.value, revision: entry?.revision, logged: window.net.requests.length };
    }, storeName);
    network.stop();
    expect(read).toEqual({ value: 'on', revision: changed.revision, logged: 0 });
    expect(network.requests.filter((r) => r.url().includes('/entries/'))).toEqual([]);

    await node.store(storeName).delete('flag');
    await until(
      () =>
        page.evaluate(
          async (store) => (await window.clients.a!.cache!.get(store, 'flag'))?.present,
          storeName,
        ),
      (present) => present === false,
      'the delete event to reach the cache',
    );
    expect(await page.evaluate(async (store) => window.clients.a!.store(store).get('flag'), storeName)).toBe(
      undefined,
    );
  });

  it('reads from the cache offline and replays queued writes with a conflict when back online', async () => {
    const a = await node.store(storeName).set('a', 'server a');
    await node.store(storeName).set('b', 'server b');
    await createPageClient(page, 'a', { maxAgeMs: 0, offlineWrites: true });
    await page.evaluate(async (store) => {
      await window.clients.a!.store(store).get('a');
      await window.clients.a!.store(store).get('b');
    }, storeName);

    await context.setOffline(true);
    const offline = await page.evaluate(async (store) => {
      const kv = window.clients.a!.store(store);
      const stale = await kv.getEntry('a');
      const queuedA = await kv.set('a', 'offline a');
      const queuedB = await kv.set('b', 'offline b');
      const local = await kv.getEntry('a');
      return {
        online: navigator.onLine,
        stale: { value: stale?.value, stale: stale?.stale },
        queuedA: queuedA.queued,
        queuedB: queuedB.queued,
        local: { value: local?.value, pending: local?.pending },
        queued: (await window.clients.a!.cache!.stats()).queued,
      };
    }, storeName);
    expect(offline).toEqual({
      online: false,
      stale: { value: 'server a', stale: true },
      queuedA: true,
      queuedB: true,
      local: { value: 'offline a', pending: true },
      queued: 2,
    });

    // Meanwhile another device changes b.
    const theirs = await node.store(storeName).set('b', 'node b');
    await context.setOffline(false); // fires `online`: the client replays its queue
    await until(
      () =>
        page.evaluate(async () => ({
          queued: (await window.clients.a!.cache!.stats()).queued,
          conflicts: window.conflicts.length,
        })),
      (s) => s.queued === 0 && s.conflicts === 1,
      'the replay',
    );
    expect(await node.store(storeName).getEntry('a')).toMatchObject({
      value: 'offline a',
      revision: theirs.revision + 1,
    });
    expect(await node.store(storeName).get('b')).toBe('node b');
    const conflicts = await page.evaluate(() => window.conflicts);
    expect(conflicts).toEqual([
      {
        store: storeName,
        key: 'b',
        code: 'revision_mismatch',
        current: 'node b',
        base: { kind: 'revision', revision: a.revision + 1 },
      },
    ]);
    const puts = await page.evaluate(() => window.net.requests.filter((r) => r.method === 'PUT'));
    expect(puts.map((r) => r.ifMatch)).toEqual([`"${a.revision}"`, `"${a.revision + 1}"`]);
  });

  it('keeps cached entries across a page reload', async () => {
    await node.store(storeName).setMany([
      { key: 'x', value: 1 },
      { key: 'y', value: 2 },
      { key: 'z', value: 3 },
    ]);
    await createPageClient(page, 'a', { maxAgeMs: 60_000 });
    await page.evaluate(async (store) => window.clients.a!.store(store).list({ values: true }), storeName);
    await page.evaluate(async () => window.clients.a!.close());
    await page.reload();
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
    await createPageClient(page, 'b', { maxAgeMs: 60_000 });
    const network = watchNetwork(page);
    const after = await page.evaluate(async (store) => {
      const kv = window.clients.b!.store(store);
      const loaded = await kv.preload();
      const many = await kv.getMany(['x', 'y', 'z']);
      return { loaded, values: [...many.values()].map((e) => e?.value), logged: window.net.requests.length };
    }, storeName);
    network.stop();
    expect(after).toEqual({ loaded: 3, values: [1, 2, 3], logged: 0 });
    expect(network.requests).toEqual([]);
  });

  it('two tabs coming back online at once replay each queued write exactly once (Web Locks)', async () => {
    const keys = { a: ['a0', 'a1', 'a2', 'a3', 'a4'], b: ['b0', 'b1', 'b2', 'b3', 'b4'] };
    await node
      .store(storeName)
      .setMany([...keys.a, ...keys.b].map((key) => ({ key, value: `server ${key}` })));
    const before = (await node.stores.get(storeName))?.revision ?? Number.NaN;
    const second = await context.newPage();
    await second.goto(site.url);
    await second.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
    const tabs = [
      { page, name: 'a', keys: keys.a },
      { page: second, name: 'b', keys: keys.b },
    ];
    // Same origin, same database name: both clients share one IndexedDB cache and its write queue.
    for (const tab of tabs) {
      await createPageClient(tab.page, tab.name, { maxAgeMs: 0, offlineWrites: true });
      await tab.page.evaluate(
        async ({ name, store, keys }) => {
          for (const key of keys) await window.clients[name]!.store(store).get(key);
        },
        { name: tab.name, store: storeName, keys: tab.keys },
      );
    }

    await context.setOffline(true);
    for (const tab of tabs) {
      const queued = await tab.page.evaluate(
        async ({ name, store, keys }) => {
          const kv = window.clients[name]!.store(store);
          const results = [];
          for (const key of keys) results.push((await kv.set(key, `offline ${key}`)).queued);
          return results;
        },
        { name: tab.name, store: storeName, keys: tab.keys },
      );
      expect(queued).toEqual(tab.keys.map(() => true));
    }
    // Each tab sees the other's queued writes too.
    for (const tab of tabs) {
      const seen = await tab.page.evaluate(
        async (name) => (await window.clients[name]!.cache!.queued()).map((w) => w.key).sort(),
        tab.name,
      );
      expect(seen).toEqual([...keys.a, ...keys.b].sort());
    }
    for (const tab of tabs) {
      await tab.page.evaluate(() => {
        window.net.requests = [];
      });
    }

    await context.setOffline(false); // `online` fires in both tabs: both clients start a replay at once
    for (const tab of tabs) {
      await until(
        () =>
          tab.page.evaluate(async (name) => (await window.clients[name]!.cache!.stats()).queued, tab.name),
        (queued) => queued === 0,
        `tab ${tab.name}'s queue to empty`,
      );
    }
    // Both flushes are over (a replay that lost the lock may still be waiting for it otherwise).
    const flushed = await Promise.all(
      tabs.map((tab) => tab.page.evaluate((name) => window.clients[name]!.flush(), tab.name)),
    );
    expect(flushed.map((f) => f.remaining)).toEqual([0, 0]);

    const puts: string[] = [];
    for (const tab of tabs) {
      const logged = await tab.page.evaluate(() =>
        window.net.requests.filter((r) => r.method === 'PUT').map((r) => r.url),
      );
      puts.push(...logged.map((url) => decodeURIComponent(url.slice(url.lastIndexOf('/') + 1))));
    }
    expect(puts.sort()).toEqual([...keys.a, ...keys.b].sort());
    for (const tab of tabs) expect(await tab.page.evaluate(() => window.conflicts)).toEqual([]);
    const onServer = await node.store(storeName).getMany([...keys.a, ...keys.b]);
    expect([...onServer].map(([key, entry]) => [key, entry?.value])).toEqual(
      [...keys.a, ...keys.b].map((key) => [key, `offline ${key}`]),
    );
    // One new revision per queued write, nothing else written.
    expect((await node.stores.get(storeName))?.revision ?? Number.NaN).toBe(before + 10);
    await second.evaluate(async () => window.clients.b!.close());
  });

  it('two tabs share one cache: a write in one is read from the cache in the other', async () => {
    await createPageClient(page, 'a', { maxAgeMs: 60_000 });
    const second = await context.newPage();
    await second.goto(site.url);
    await second.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
    await createPageClient(second, 'b', { maxAgeMs: 60_000 });
    await page.evaluate(async (store) => window.clients.a!.store(store).set('shared', 'v1'), storeName);
    expect(
      await second.evaluate(async (store) => window.clients.b!.store(store).get('shared'), storeName),
    ).toBe('v1');
    const v2 = await page.evaluate(
      async (store) => window.clients.a!.store(store).set('shared', 'v2'),
      storeName,
    );
    const read = await until(
      () =>
        second.evaluate(async (store) => {
          window.net.requests = [];
          const entry = await window.clients.b!.store(store).getEntry('shared');
          return { value: entry?.value, revision: entry?.revision, logged: window.net.requests.length };
        }, storeName),
      (r) => r.value === 'v2',
      'the other tab to see the write',
    );
    expect(read).toEqual({ value: 'v2', revision: v2.revision, logged: 0 });
    await second.evaluate(async () => window.clients.b!.close());
  });
});

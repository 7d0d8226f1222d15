/**
 * The browser client's own `store.watch()` in Chromium against the real server process: an async
 * iterator (on a client with the cache) and the callback form (on a client without it) watch a store
 * while Node writers load it and the server is stopped (SIGTERM) and restarted on the same port and
 * SQLite file. Each page watch must deliver every acknowledged write exactly once, in revision order,
 * with no gap across the reconnect; `stop()` and an aborted `signal` end them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AckedPut, startRetryingWriters } from '@kv/conformance';
import { createHttpClient } from '@kv/core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage, type KvServerProcess, launchChromium, serveStatic, startKvServer } from './harness.mjs';
import type { WatchLog } from './page/globals.js';
import './page/globals.js';

const pageRoot = join(dirname(fileURLToPath(import.meta.url)), 'page');

let dataDir: string;
const servers: KvServerProcess[] = [];
let site: { url: string; close(): Promise<void> };
let bundle: { dir: string; remove(): Promise<void> };
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [dataDir, bundle, browser] = await Promise.all([
    mkdtemp(join(tmpdir(), 'kv-browser-watch-')),
    buildPage(pageRoot),
    launchChromium(),
  ]);
  site = await serveStatic(bundle.dir);
  page = await browser.newPage();
  await page.goto(site.url);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  for (const server of servers) await server.stop();
  await bundle?.remove();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

/** The page's log of watch `name`. */
function watchLog(name: string): Promise<WatchLog> {
  return page.evaluate((name) => {
    const { stop: _stop, ...log } = window.watches[name]!;
    return log;
  }, name);
}

/**
 * Every acknowledged write appears once, in revision order, contiguous from 1 (the writers are the only
 * writers, so every revision of the store was acknowledged to one of them).
 */
function expectEveryAckOnceInOrder(events: WatchLog['events'], acks: AckedPut[]): void {
  const revisions = events.map((e) => e.revision);
  expect(revisions).toEqual(revisions.map((_, i) => i + 1));
  expect(events.length).toBe(acks.length);
  const byRevision = new Map(events.map((e) => [e.revision, e]));
  for (const ack of acks) {
    const e = byRevision.get(ack.revision);
    expect({ key: e?.key, type: e?.type, value: e?.value }, `revision ${ack.revision}`).toEqual({
      key: ack.key,
      type: 'put',
      value: ack.value,
    });
  }
}

describe('store.watch() in Chromium against the server', { timeout: 120_000 }, () => {
  it('delivers every acknowledged write once, in order, across a server restart; stop() and abort end it', async () => {
    const data = join(dataDir, 'kv.sqlite');
    const first = await startKvServer({ data });
    servers.push(first);
    const { url, token } = first;
    const port = Number(new URL(url).port);
    const auth = { authorization: `Bearer ${token}` };
    await createHttpClient({ url, token, retry: false }).stores.create('watched');

    // Two watches in the page: the async iterator on a cached client, the callback form on a plain one.
    await page.evaluate(
      ({ url, token }) => {
        const options = { fromRevision: 0, reconnectBaseMs: 100, reconnectMaxMs: 400 };
        const cached = window.kv.createClient({ url, token, retry: false, cache: { name: 'kv-watch-e2e' } });
        const plain = window.kv.createClient({ url, token, retry: false });
        window.clients.cached = cached;
        window.clients.plain = plain;

        const iter: WatchLog = { events: [], retries: 0, errors: [], ended: false };
        const subscription = cached.store('watched').watch<string>(options, {
          onError: (error, { willRetry }) => {
            if (willRetry) iter.retries += 1;
            else iter.errors.push(error.code);
          },
        });
        iter.stop = () => subscription.stop();
        window.watches.iterator = iter;
        void (async () => {
          try {
            for await (const e of subscription) {
              iter.events.push({ revision: e.revision, key: e.key, type: e.type, value: e.value });
            }
          } catch (error) {
            iter.errors.push(String(error));
          }
          iter.ended = true;
        })();

        const cb: WatchLog = { events: [], retries: 0, errors: [], ended: false };
        const controller = new AbortController();
        plain.store('watched').watch<string>(
          { ...options, signal: controller.signal },
          {
            onUpdate: (e) => {
              cb.events.push({ revision: e.revision, key: e.key, type: e.type, value: e.value });
            },
            onError: (error, { willRetry }) => {
              if (willRetry) cb.retries += 1;
              else cb.errors.push(error.code);
            },
            onClose: () => {
              cb.ended = true;
            },
          },
        );
        cb.stop = () => controller.abort();
        window.watches.callback = cb;
      },
      { url, token },
    );

    // Writers retry each write until it is acknowledged, with an Idempotency-Key, so a write whose answer
    // was lost in the restart is answered from the idempotency record instead of written twice.
    const writers = startRetryingWriters({ url, store: 'watched', headers: auth, writers: 3 });
    const { acks } = writers;

    await expect.poll(() => acks.length, { timeout: 30_000, interval: 10 }).toBeGreaterThan(150);
    await expect
      .poll(async () => (await watchLog('callback')).events.length, { timeout: 30_000 })
      .toBeGreaterThan(50);
    // Graceful stop mid-load: in-flight writes finish, watch streams end, the process exits 0.
    expect(await first.stop()).toEqual({ code: 0, signal: null });
    const atStop = acks.length;
    const second = await startKvServer({ data, port });
    servers.push(second);
    expect(second.url).toBe(url);
    await expect.poll(() => acks.length, { timeout: 30_000, interval: 10 }).toBeGreaterThan(atStop + 150);
    await writers.stop();
    expect(writers.failedAttempts()).toBeGreaterThan(0);

    const last = Math.max(...acks.map((a) => a.revision));
    expect(acks.length).toBe(last);
    for (const name of ['iterator', 'callback']) {
      await expect
        .poll(async () => (await watchLog(name)).events.at(-1)?.revision, { timeout: 30_000 })
        .toBe(last);
      const log = await watchLog(name);
      expect(log.retries, `${name} reconnected`).toBeGreaterThan(0);
      expect(log.errors).toEqual([]);
      expect(log.ended).toBe(false);
      expectEveryAckOnceInOrder(log.events, acks);
    }

    // stop() ends the iterator; aborting the signal ends the callback watch (onClose).
    await page.evaluate(() => {
      window.watches.iterator!.stop!();
      window.watches.callback!.stop!();
    });
    await expect.poll(async () => (await watchLog('iterator')).ended).toBe(true);
    await expect.poll(async () => (await watchLog('callback')).ended).toBe(true);

    // A later write reaches a fresh watch in the page but neither of the ended ones.
    await page.evaluate(
      ({ last }) => {
        const fresh: WatchLog = { events: [], retries: 0, errors: [], ended: false };
        const controller = new AbortController();
        window.clients.plain!.store('watched').watch<string>(
          { fromRevision: last, signal: controller.signal },
          {
            onUpdate: (e) =>
              void fresh.events.push({ revision: e.revision, key: e.key, type: e.type, value: e.value }),
          },
        );
        fresh.stop = () => controller.abort();
        window.watches.fresh = fresh;
      },
      { last },
    );
    const after = await fetch(`${url}/v1/stores/watched/entries/after-stop`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'late',
    });
    expect(after.status).toBe(201);
    await expect.poll(async () => (await watchLog('fresh')).events.map((e) => e.key)).toEqual(['after-stop']);
    for (const name of ['iterator', 'callback']) {
      expect((await watchLog(name)).events.at(-1)?.revision).toBe(last);
    }
    await page.evaluate(async () => {
      window.watches.fresh!.stop!();
      await window.clients.cached!.close();
      await window.clients.plain!.close();
    });
  });
});

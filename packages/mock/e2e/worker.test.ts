/**
 * @kv/mock with msw's `setupWorker` (msw/browser) in real Chromium: a page bundled with Vite starts the
 * mock's handlers in msw's service worker and drives @kv/browser's client (with and without its
 * IndexedDB cache) against `http://kv.test`, a host that does not resolve. Every request Chromium sees
 * for that host must have been answered by the service worker; none may reach the network.
 */
import type { Browser, BrowserContext, Page, Request as PwRequest } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage, launchChromium, serveStatic } from './harness.js';
import type { ScenarioReport } from './page/report.js';

const BASE_URL = 'http://kv.test';

/** Requests to BASE_URL as Chromium saw them, and the ones a route caught on their way to the network. */
interface NetworkLog {
  requests: PwRequest[];
  failed: string[];
  /** Requests that reached Playwright's network routing: the service worker did not answer them. */
  reachedNetwork: string[];
}

async function monitor(context: BrowserContext): Promise<NetworkLog> {
  const log: NetworkLog = { requests: [], failed: [], reachedNetwork: [] };
  const ours = (request: PwRequest): boolean => request.url().startsWith(BASE_URL);
  context.on('request', (request) => {
    if (ours(request)) log.requests.push(request);
  });
  context.on('requestfailed', (request) => {
    if (ours(request))
      log.failed.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  // Routing never sees a request a service worker answered (Playwright docs), so anything caught here
  // would have gone to the network: record it and fail it.
  await context.route(`${BASE_URL}/**`, async (route) => {
    log.reachedNetwork.push(`${route.request().method()} ${route.request().url()}`);
    await route.abort('addressunreachable');
  });
  return log;
}

let bundle: { dir: string; remove(): Promise<void> };
let site: { url: string; close(): Promise<void> };
let browser: Browser;
let context: BrowserContext;
let page: Page;
let network: NetworkLog;
const consoleErrors: string[] = [];

beforeAll(async () => {
  [bundle, browser] = await Promise.all([buildPage(), launchChromium()]);
  site = await serveStatic(bundle.dir);
  context = await browser.newContext();
  network = await monitor(context);
  page = await context.newPage();
  page.on('console', (message) => {
    // Chromium logs every 4xx answer ("Failed to load resource"): the scenario's conflicts and misses.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      consoleErrors.push(message.text());
    }
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  await page.goto(site.url);
  await page.waitForFunction(() => document.getElementById('status')?.textContent !== 'loading');
  expect(await page.textContent('#status')).toBe('ready');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await bundle?.remove();
});

/** What every run of the scenario must report, with or without the cache. */
function expectScenario(report: ScenarioReport, storeName: string): void {
  expect(report.createdStore).toBe(storeName);
  expect(report.seeded).toBe('hello from seed');
  expect(report.json).toEqual({ title: 'hello', tags: ['a', 'b'], n: 1 });
  expect(report.jsonContentType).toBe('application/json');
  expect(report.text).toBe('plain text é');
  expect(report.textContentType).toMatch(/^text\/plain/);
  expect(report.bytes).toEqual([0, 1, 2, 254, 255]);
  expect(report.bytesContentType).toBe('application/octet-stream');
  expect(report.casOk.created).toBe(false);
  expect(report.casConflict).toEqual({
    className: 'RevisionMismatchError',
    isRevisionMismatch: true,
    isKvError: true,
    code: 'revision_mismatch',
    status: 412,
  });
  expect(report.afterConflict).toBe(2);
  expect(report.listed).toEqual(['user.1', 'user.2']);
  expect(report.bulkSet).toEqual({ successfulKeyCount: 3, unsuccessfulKeys: [] });
  expect(report.bulkGet).toEqual([
    ['bulk.a', 1],
    ['bulk.b', 'two'],
    ['bulk.none', undefined],
  ]);
  expect(report.bulkDelete).toEqual({ successfulKeyCount: 2 });
  expect(report.atomicOk).toEqual({ ok: true });
  expect(report.atomicValues).toEqual([{ made: true }, 10]);
  expect(report.atomicConflict).toEqual({ ok: false, failedKeys: ['counter'] });
  expect(report.atomicConflictValue).toBe(10);
  expect(report.missing).toBeNull();
  expect(report.mockedRequests).toBeGreaterThanOrEqual(15);
}

describe('@kv/mock with setupWorker (msw/browser) in Chromium', () => {
  it('registers msw’s worker from the page’s origin and it controls the page', async () => {
    const scriptURL = await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL);
    expect(scriptURL).toBe(`${site.url}/mockServiceWorker.js`);
  });

  it('serves @kv/browser without a cache: JSON, text, bytes, CAS conflict, list, bulk, atomic', async () => {
    const report = await page.evaluate((options) => window.kvMock.run(options), { store: 'plain' });
    expectScenario(report, 'plain');
    expect(report.cacheCounters).toBeUndefined();
  });

  it('serves @kv/browser with its IndexedDB cache, a fresh cached read making no request', async () => {
    const report = await page.evaluate((options) => window.kvMock.run(options), {
      store: 'cached',
      cacheName: 'kv-mock-e2e',
    });
    expectScenario(report, 'cached');
    expect(report.cachedReadRequests).toBe(0);
    expect(report.cacheCounters?.hits).toBeGreaterThanOrEqual(1);
    // Live invalidation over the watch route, streamed through the worker: the other client's write
    // reaches the cache and reads make no request.
    expect(report.liveUpdate).toMatchObject({ value: { title: 'changed elsewhere' }, requests: 0 });
  });

  it('streams a watch (Server-Sent Events) through the service worker: a put arrives', async () => {
    const report = await page.evaluate((options) => window.kvMock.watchOnce(options), {
      store: 'watched',
      timeoutMs: 5_000,
    });
    expect(report.error).toBeNull();
    expect(report.connected).toBe(true);
    expect(report.events).toHaveLength(1);
    expect(report.events[0]).toMatchObject({ type: 'put', key: 'live', value: { n: 1 } });
  });

  it('sent nothing to the network: every request to the base URL was answered by the worker', async () => {
    const mocked = await page.evaluate(() => window.kvMock.mocked());
    const unhandled = await page.evaluate(() => window.kvMock.unhandled());
    expect(unhandled).toEqual([]);
    expect(network.reachedNetwork).toEqual([]);
    // The requests that ended early are the watch streams, each cancelled by the page: the explicit
    // watch by `watch.stop()`, the cached client's live watches (one per store it read) by `close()`.
    const aborted = network.failed.map(
      (line) =>
        /^GET http:\/\/kv\.test\/v1\/stores\/([^/]+)\/watch\?.*: net::ERR_ABORTED$/.exec(line)?.[1] ?? line,
    );
    expect(aborted.sort()).toEqual(['cached', 'seeded', 'watched']);
    // Chromium saw exactly the requests msw answered, each from the service worker, none sent by it.
    expect(network.requests.length).toBe(mocked.length);
    expect(mocked.length).toBeGreaterThan(40);
    const answers = await Promise.all(
      network.requests.map(async (request) => ({
        url: request.url(),
        bySw: request.serviceWorker() !== null,
        fromSw: (await request.response())?.fromServiceWorker() ?? false,
      })),
    );
    expect(answers.filter((answer) => answer.bySw || !answer.fromSw)).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('(control) the same checks catch a request made without the worker', async () => {
    const bare = await browser.newContext();
    try {
      const log = await monitor(bare);
      const tab = await bare.newPage();
      await tab.goto(`${site.url}/nothing-here`);
      const outcome = await tab.evaluate(
        (url) =>
          fetch(`${url}/healthz`).then(
            (response) => `status ${response.status}`,
            (error: unknown) => `failed: ${String(error)}`,
          ),
        BASE_URL,
      );
      expect(outcome).toMatch(/^failed/);
      expect(log.reachedNetwork).toEqual([`GET ${BASE_URL}/healthz`]);
      expect(log.requests).toHaveLength(1);
    } finally {
      await bare.close();
    }
  });
  it('(limitation) where a ReadableStream cannot be transferred, msw buffers bodies and a watch never connects', async () => {
    // msw passes a mocked body to its worker as a transferred stream only when the browser can transfer
    // a ReadableStream (it tries once); otherwise it reads the whole body first, which never ends for a
    // watch. Simulate such a browser by refusing to transfer streams.
    const other = await browser.newContext();
    try {
      await other.addInitScript(() => {
        const postMessage = MessagePort.prototype.postMessage;
        MessagePort.prototype.postMessage = function (
          this: MessagePort,
          message: unknown,
          transfer?: unknown,
        ) {
          if (Array.isArray(transfer) && transfer.some((item) => item instanceof ReadableStream)) {
            throw new DOMException('ReadableStream transfer disabled by the test', 'DataCloneError');
          }
          return Reflect.apply(postMessage, this, [message, transfer]);
        } as typeof MessagePort.prototype.postMessage;
      });
      const tab = await other.newPage();
      await tab.goto(site.url);
      await tab.waitForFunction(() => document.getElementById('status')?.textContent !== 'loading');
      expect(await tab.textContent('#status')).toBe('ready');
      const plain = await tab.evaluate((options) => window.kvMock.run(options), { store: 'buffered' });
      expectScenario(plain, 'buffered');
      const watch = await tab.evaluate((options) => window.kvMock.watchOnce(options), {
        store: 'buffered-watch',
        timeoutMs: 1_500,
      });
      // No error either: the watch's request simply never gets its answer.
      expect(watch).toMatchObject({ connected: false, events: [], error: null });
    } finally {
      await other.close();
    }
  });
});

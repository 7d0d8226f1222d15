/**
 * The Workers KV binding of `@kv/browser` in real Chromium against the real server process: the
 * Workers-style module of `@kv/conformance` runs unchanged in the page with
 * `env.MY_KV = toKVNamespace(createClient(...).store(name))`, and a Node kv client checks what it wrote.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHttpClient, type KvClient } from '@kv/core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage, type KvServerProcess, launchChromium, serveStatic, startKvServer } from './harness.mjs';
import type { KvNamespacePage, PageResponse } from './kv-namespace-page/main.js';

const pageRoot = join(dirname(fileURLToPath(import.meta.url)), 'kv-namespace-page');

let server: KvServerProcess;
let site: { url: string; close(): Promise<void> };
let bundle: { dir: string; remove(): Promise<void> };
let browser: Browser;
let page: Page;
let node: KvClient;

beforeAll(async () => {
  [server, bundle, browser] = await Promise.all([startKvServer(), buildPage(pageRoot), launchChromium()]);
  site = await serveStatic(bundle.dir);
  node = createHttpClient({ url: server.url, token: server.token, retry: false });
  await node.stores.create('workers-page');
  page = await browser.newPage();
  await page.goto(site.url);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  await bundle?.remove();
});

function callWorker(
  method: string,
  path: string,
  body?: string,
  headers?: Record<string, string>,
): Promise<PageResponse> {
  const target = { url: server.url, token: server.token, store: 'workers-page' };
  return page.evaluate(
    ({ target, request }) =>
      (window as unknown as { kvNamespacePage: KvNamespacePage }).kvNamespacePage.callWorker(target, request),
    {
      target,
      request: {
        method,
        path,
        ...(body === undefined ? {} : { body }),
        ...(headers === undefined ? {} : { headers }),
      },
    },
  );
}

describe('toKVNamespace in Chromium', () => {
  it('runs the Workers-style module unchanged against the server', async () => {
    expect((await callWorker('PUT', '/notes/one', 'first', { 'x-author': 'ada' })).status).toBe(201);
    expect((await callWorker('PUT', '/notes/two?ttl=600', 'second')).status).toBe(201);
    const one = await callWorker('GET', '/notes/one');
    expect(one).toMatchObject({ status: 200, text: 'first' });
    expect(one.headers['x-author']).toBe('ada');
    const listed = JSON.parse((await callWorker('GET', '/notes')).text) as Array<{
      name: string;
      author: string;
    }>;
    expect(listed.map((n) => [n.name, n.author])).toEqual([
      ['one', 'ada'],
      ['two', 'anonymous'],
    ]);
    expect((await callWorker('GET', '/counter')).text).toBe('1');
    expect((await callWorker('GET', '/counter')).text).toBe('2');
    expect((await callWorker('DELETE', '/notes/one')).status).toBe(204);
    expect((await callWorker('GET', '/notes/one')).status).toBe(404);

    // What the page wrote is kv data every client reads.
    const store = node.store('workers-page');
    expect(await store.getText('note:two')).toBe('second');
    expect((await store.getEntry('note:two'))?.metadata).toEqual({ author: 'anonymous' });
    expect((await store.getEntry('note:two'))?.expiresAt).not.toBeNull();
    expect(await store.getJson('counter')).toBe(2);
    expect(await store.exists('note:one')).toBe(false);
  });

  it('reads bytes, streams and bulk maps in the page', async () => {
    await node.store('workers-page').set('bin', new Uint8Array([0, 7, 255]));
    await node.store('workers-page').set('obj', { n: 1 });
    const target = { url: server.url, token: server.token, store: 'workers-page' };
    const forms = await page.evaluate(
      ({ target }) =>
        (window as unknown as { kvNamespacePage: KvNamespacePage }).kvNamespacePage.readForms(target, 'bin', [
          'obj',
          'missing',
        ]),
      { target },
    );
    expect(forms.bytes).toEqual([0, 7, 255]);
    expect(forms.streamed).toBe(new TextDecoder().decode(new Uint8Array([0, 7, 255])));
    expect(forms.bulk).toEqual([
      ['obj', '{"n":1}'],
      ['missing', null],
    ]);
  });
});

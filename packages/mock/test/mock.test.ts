import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeConformance } from '@kv/conformance';
import {
  createClient,
  NetworkError,
  PayloadTooLargeError,
  RateLimitedError,
  ServerError,
  StoreNotFoundError,
  TimeoutError,
} from '@kv/node';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKvMock } from '../src/index.js';

const BASE = 'http://kv.mock.test';
const mock = createKvMock({
  baseUrl: BASE,
  seed: { app: { greeting: 'hello', config: { darkMode: true } } },
});
// The conformance target runs with access control on (`token`), so the access-control cases run too.
const CONFORMANCE_BASE = 'http://kv.conformance.test';
const CONFORMANCE_TOKEN = 'conformance-admin-token';
const conformance = createKvMock({ baseUrl: CONFORMANCE_BASE, token: CONFORMANCE_TOKEN });
const server = setupServer(...mock.handlers, ...conformance.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

// The shared behaviour suite, with msw intercepting the Node client's real fetch calls (and the suite's
// plain `fetch` of signed URLs and raw bulk bodies).
describeConformance(
  'mock (msw + @kv/node, token)',
  () => ({
    createClient: () => createClient({ url: CONFORMANCE_BASE, token: CONFORMANCE_TOKEN, env: {} }),
    auth: {
      adminToken: CONFORMANCE_TOKEN,
      clientWithToken: (token) => createClient({ url: CONFORMANCE_BASE, token, env: {} }),
    },
    // The mock's `lostResponseRate` fault: the engine handles the request, then the connection drops.
    losingResponses(store, lossRate) {
      conformance.setFaults([{ path: `/v1/stores/${store}/`, lostResponseRate: lossRate }]);
      let requests = 0;
      const counting: typeof fetch = (input, init) => {
        requests += 1;
        return globalThis.fetch(input, init);
      };
      return {
        createClient: () =>
          createClient({
            url: CONFORMANCE_BASE,
            token: CONFORMANCE_TOKEN,
            env: {},
            fetch: counting,
            retry: { limit: 10, backoffMs: 1, maxBackoffMs: 10 },
          }),
        requests: () => requests,
        stop: () => conformance.setFaults([]),
      };
    },
  }),
  {
    auth: true,
  },
);

describe('@kv/mock', () => {
  afterEach(() => mock.setFaults([]));

  it('serves seeded data to the Node client with no server running', async () => {
    const kv = createClient({ url: BASE, env: {} });
    expect(await kv.store('app').get('greeting')).toBe('hello');
    expect(await kv.store('app').getJson<{ darkMode: boolean }>('config')).toEqual({ darkMode: true });
  });

  it("yields to the event loop once per request, so a user's timer stops a write loop", async () => {
    const store = createClient({ url: BASE, env: {} }).store('app');
    let stop = false;
    const timer = setTimeout(() => {
      stop = true;
    }, 20);
    // The loop a user writes: it ends only when the timer fires. Bounded by count so that, were the mock
    // to answer in microtasks only (timers starved), this test fails instead of hanging the run.
    let writes = 0;
    while (!stop && writes < 3000) {
      await store.set('loop', writes);
      writes++;
    }
    clearTimeout(timer);
    expect(stop).toBe(true);
    expect(writes).toBeLessThan(3000);
    expect(await store.get('loop')).toBe(writes - 1);
  });

  it('runs the real engine: the same errors and revisions as the server', async () => {
    const kv = createClient({ url: BASE, env: {} });
    await expect(kv.store('nope').get('x')).rejects.toBeInstanceOf(StoreNotFoundError);
    const a = await kv.store('app').set('counter', 1);
    const b = await kv.store('app').update('counter', 2, a.revision);
    expect(b.revision).toBe(a.revision + 1);
    expect(mock.engine).toBeDefined();
    expect((await mock.storage.get('app', 'counter', Date.now()))?.revision).toBe(b.revision);
  });

  it('injects failures with a chosen status, per route; idempotent reads are retried through them', async () => {
    const kv = createClient({ url: BASE, env: {}, retry: { limit: 0 } });
    mock.setFaults([
      { method: 'GET', path: '/v1/stores/app/entries/greeting', failureRate: 1, failureStatus: 503 },
    ]);
    await expect(kv.store('app').get('greeting')).rejects.toBeInstanceOf(ServerError);
    // Another route is untouched.
    expect(await kv.store('app').get('config')).toEqual({ darkMode: true });
    mock.setFaults([{ path: '/v1/stores/app', failureRate: 1, failureStatus: 429 }]);
    await expect(kv.store('app').get('greeting')).rejects.toBeInstanceOf(RateLimitedError);
  });

  it('a failure rate below 1 is deterministic for a given seed, and retries get through', {
    timeout: 30_000,
  }, async () => {
    const outcomes = async (): Promise<boolean[]> => {
      const m = createKvMock({ baseUrl: 'http://kv.det.test', randomSeed: 42, seed: { s: { k: 1 } } });
      const srv = setupServer(...m.handlers);
      server.close();
      srv.listen({ onUnhandledRequest: 'error' });
      try {
        m.setFaults([{ failureRate: 0.5, failureStatus: 500 }]);
        const kv = createClient({ url: 'http://kv.det.test', env: {}, retry: { limit: 0 } });
        const results: boolean[] = [];
        for (let i = 0; i < 20; i++)
          results.push(
            await kv
              .store('s')
              .get('k')
              .then(
                () => true,
                () => false,
              ),
          );
        return results;
      } finally {
        srv.close();
        server.listen({ onUnhandledRequest: 'error' });
      }
    };
    const first = await outcomes();
    expect(first).toEqual(await outcomes());
    expect(first).toContain(true);
    expect(first).toContain(false);
    mock.setFaults([{ failureRate: 0.5, failureStatus: 503 }]);
    const retrying = createClient({
      url: BASE,
      env: {},
      retry: { limit: 10, backoffMs: 1, maxBackoffMs: 2 },
    });
    for (let i = 0; i < 10; i++) expect(await retrying.store('app').get('greeting')).toBe('hello');
  });

  it('drops connections (NetworkError) and adds latency (TimeoutError)', async () => {
    const kv = createClient({ url: BASE, env: {}, retry: { limit: 0 }, timeoutMs: 50 });
    mock.setFaults([{ dropRate: 1 }]);
    await expect(kv.store('app').get('greeting')).rejects.toBeInstanceOf(NetworkError);
    mock.setFaults([{ latencyMs: 500 }]);
    await expect(kv.store('app').get('greeting')).rejects.toBeInstanceOf(TimeoutError);
  });

  /** Milliseconds one call takes. */
  const timed = async (call: () => Promise<unknown>): Promise<{ ms: number; error?: unknown }> => {
    const start = performance.now();
    try {
      await call();
      return { ms: performance.now() - start };
    } catch (error) {
      return { ms: performance.now() - start, error };
    }
  };

  it('every matching rule applies: a global latency combines with a per-route drop; latencies add up', {
    timeout: 30_000,
  }, async () => {
    const kv = createClient({ url: BASE, env: {}, retry: { limit: 0 } });
    mock.setFaults([
      { latencyMs: 80 },
      { method: 'GET', path: '/v1/stores/app/entries/greeting', dropRate: 1 },
      { path: '/v1/stores/app/entries/config', latencyMs: 80 },
    ]);
    // The dropped route still waits for the global latency first.
    const dropped = await timed(() => kv.store('app').get('greeting'));
    expect(dropped.error).toBeInstanceOf(NetworkError);
    expect(dropped.ms).toBeGreaterThanOrEqual(75);
    // Another route is not dropped, and gets both latencies.
    const slow = await timed(() => kv.store('app').get('config'));
    expect(slow.error).toBeUndefined();
    expect(slow.ms).toBeGreaterThanOrEqual(155);
    // A write to the dropped key is not dropped (the drop rule is GET only), but is slowed down.
    const write = await timed(() => kv.store('app').set('other', 1));
    expect(write.error).toBeUndefined();
    expect(write.ms).toBeGreaterThanOrEqual(75);
  });

  it('the first matching rule whose drop or failure triggers decides the outcome', async () => {
    const kv = createClient({ url: BASE, env: {}, retry: { limit: 0 } });
    mock.setFaults([
      { path: '/v1/stores/app/entries/greeting', failureRate: 1, failureStatus: 429 },
      { path: '/v1/stores/app/entries/config', dropRate: 1 },
      { failureRate: 1, failureStatus: 503 },
    ]);
    await expect(kv.store('app').get('greeting')).rejects.toBeInstanceOf(RateLimitedError);
    await expect(kv.store('app').get('config')).rejects.toBeInstanceOf(NetworkError);
    await expect(kv.store('app').get('missing')).rejects.toMatchObject({ status: 503 });
    // A rule that does not trigger (rate 0) lets the next one decide.
    mock.setFaults([
      { failureRate: 0, failureStatus: 429 },
      { failureRate: 1, failureStatus: 500 },
    ]);
    await expect(kv.store('app').get('greeting')).rejects.toMatchObject({ status: 500 });
  });

  it('a latency range draws each request a delay between min and max, repeatably for a seed', {
    timeout: 60_000,
  }, async () => {
    // The delays the mock draws are read where it schedules them (its `setTimeout`), so the seed check does
    // not depend on how busy the machine is; the elapsed time of each request is only bounded from below.
    const delays = async (): Promise<{ elapsed: number[]; drawn: number[] }> => {
      const m = createKvMock({
        baseUrl: 'http://kv.latency.test',
        randomSeed: 7,
        faults: [{ latencyMs: [40, 240] }],
        seed: { s: { k: 1 } },
      });
      const srv = setupServer(...m.handlers);
      server.close();
      srv.listen({ onUnhandledRequest: 'error' });
      const timers = vi.spyOn(globalThis, 'setTimeout');
      try {
        const kv = createClient({ url: 'http://kv.latency.test', env: {}, retry: { limit: 0 } });
        const elapsed: number[] = [];
        for (let i = 0; i < 8; i++) elapsed.push((await timed(() => kv.store('s').get('k'))).ms);
        const drawn = timers.mock.calls
          .map((call) => call[1])
          .filter((ms): ms is number => typeof ms === 'number' && ms >= 40 && ms <= 240);
        return { elapsed, drawn };
      } finally {
        timers.mockRestore();
        srv.close();
        server.listen({ onUnhandledRequest: 'error' });
      }
    };
    const first = await delays();
    // One delay drawn per request, and each request took at least its delay.
    expect(first.drawn).toHaveLength(8);
    first.elapsed.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual((first.drawn[i] ?? 0) - 2);
    });
    // Eight draws over a 200 ms range are not all the same delay.
    expect(Math.max(...first.drawn) - Math.min(...first.drawn)).toBeGreaterThan(40);
    // The same seed draws the same delays, in the same order.
    const second = await delays();
    expect(second.drawn).toEqual(first.drawn);
  });

  it('buffers request bodies for the engine (no streamed body with duplex: "half"), so a value over the store limit is still 413', async () => {
    const kv = createClient({ url: BASE, env: {} });
    await kv.stores.create('small', { maxValueBytes: 16 });
    const small = kv.store('small');
    await small.set('ok', new Uint8Array(16));
    await expect(small.set('big', new Uint8Array(17))).rejects.toBeInstanceOf(PayloadTooLargeError);
    // A raw request without Content-Length: the engine counts the bytes it reads.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(10));
        controller.enqueue(new Uint8Array(10));
        controller.close();
      },
    });
    const res = await fetch(`${BASE}/v1/stores/small/entries/streamed`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await small.exists('streamed')).toBe(false);
    expect(await small.exists('big')).toBe(false);
    expect(await small.getBytes('ok')).toEqual(new Uint8Array(16));
  });

  it("the README's vitest setup is test/readme.test.ts, line for line (so the snippet is what runs)", () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const readme = readFileSync(join(here, '..', 'README.md'), 'utf8');
    const snippet = /## A vitest setup in ten lines\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    const test = readFileSync(join(here, 'readme.test.ts'), 'utf8');
    expect(snippet).toBe(test);
    expect(test.split('\n').filter((line) => line.trim() !== '')).toHaveLength(10);
  });

  it('url is the base URL without a trailing slash', () => {
    expect(createKvMock({ baseUrl: 'http://kv.url.test/' }).url).toBe('http://kv.url.test');
    expect(createKvMock({ baseUrl: 'http://kv.url.test/prefix/' }).url).toBe('http://kv.url.test/prefix');
  });

  it('reset() drops all data; seed() writes through the engine', async () => {
    const m = createKvMock({ baseUrl: 'http://kv.reset.test' });
    await m.seed({ s: { entries: { a: { value: 'x', scopes: ['one'], metadata: { m: 1 } } } } });
    const e = await m.storage.get('s', 'a', Date.now());
    expect(e).toMatchObject({ scopes: ['one'], metadata: { m: 1 }, revision: 1 });
    await m.reset();
    expect(await m.storage.getStore('s')).toBeUndefined();
  });

  it('seed() checks an entry as set does (the client write path) and writes none after a bad one', async () => {
    const m = createKvMock({ baseUrl: 'http://kv.seedcheck.test' });
    await expect(
      m.seed({ s: { entries: { a: { value: 'x', ttlMs: 5_000 }, b: { value: 'y', ttlMs: -1 } } } }),
    ).rejects.toMatchObject({ code: 'validation_error', details: { field: 'ttlMs' } });
    expect(await m.storage.get('s', 'a', Date.now())).toMatchObject({ key: 'a' });
    expect(await m.storage.get('s', 'b', Date.now())).toBeUndefined();
    // A Blob value is read into bytes; its type is the content type.
    await m.seed({ s: { entries: { c: { value: new Blob(['hi'], { type: 'text/x-hi' }) } } } });
    expect(await m.storage.get('s', 'c', Date.now())).toMatchObject({ contentType: 'text/x-hi', size: 2 });
  });
});

import { describeConformance } from '@kv/conformance';
import {
  createClient,
  NetworkError,
  RateLimitedError,
  ServerError,
  StoreNotFoundError,
  TimeoutError,
} from '@kv/node';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKvMock } from '../src/index.js';

const BASE = 'http://kv.mock.test';
const mock = createKvMock({
  baseUrl: BASE,
  seed: { app: { greeting: 'hello', config: { darkMode: true } } },
});
const server = setupServer(...mock.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

// The shared behaviour suite, with msw intercepting the Node client's real fetch calls.
describeConformance('mock (msw + @kv/node)', () => ({
  createClient: () => createClient({ url: BASE, env: {} }),
}));

describe('@kv/mock', () => {
  afterEach(() => mock.setFaults([]));

  it('serves seeded data to the Node client with no server running', async () => {
    const kv = createClient({ url: BASE, env: {} });
    expect(await kv.store('app').get('greeting')).toBe('hello');
    expect(await kv.store('app').getJson<{ darkMode: boolean }>('config')).toEqual({ darkMode: true });
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

  it('a failure rate below 1 is deterministic for a given seed, and retries get through', async () => {
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

  it('reset() drops all data; seed() writes through the engine', async () => {
    const m = createKvMock({ baseUrl: 'http://kv.reset.test' });
    await m.seed({ s: { entries: { a: { value: 'x', scopes: ['one'], metadata: { m: 1 } } } } });
    const e = await m.storage.get('s', 'a', Date.now());
    expect(e).toMatchObject({ scopes: ['one'], metadata: { m: 1 }, revision: 1 });
    await m.reset();
    expect(await m.storage.getStore('s')).toBeUndefined();
  });
});

/**
 * Retries, timeouts and every error class, with faults injected between the client and the engine
 * in-process: a retried write must never report a false conflict or apply twice (issue 2).
 */

import { Readable } from 'node:stream';
import { MemoryStorage } from '@kv/engine';
import { describe, expect, it } from 'vitest';
import {
  createClient,
  type KvError,
  NetworkError,
  type NodeKvClient,
  RateLimitedError,
  ServerError,
  TimeoutError,
  UnauthenticatedError,
  UnauthorizedError,
} from '../src/index.js';
import { type Fault, faultyFetch, inProcessEngine } from './helpers.js';
import { expectKvError, uniqueName } from './suite.js';

const fast = { backoffMs: 0, maxBackoffMs: 0 };

/** A client whose first requests meet `faults`, and the store it works on (created before the faults). */
async function setup(faults: Fault[] = [], options: Parameters<typeof createClient>[0] = {}) {
  const { fetch: engineFetch, url, engine } = inProcessEngine();
  const injected: Fault[] = [];
  const { fetch, seen } = faultyFetch(engineFetch, injected);
  const errors: KvError[] = [];
  const kv = createClient({ url, fetch, env: {}, retry: fast, onError: (e) => errors.push(e), ...options });
  const name = uniqueName('faults');
  await kv.stores.create(name);
  /** Arms `more` faults for the next requests, forgetting the requests seen so far. */
  const arm = (more: Fault[]): void => {
    seen.length = 0;
    injected.push(...more);
  };
  arm(faults);
  return { kv, store: kv.store(name), seen, errors, engine, name, arm };
}

async function storeRevision(kv: NodeKvClient, name: string): Promise<number> {
  return (await kv.stores.get(name))?.revision ?? -1;
}

describe('retries of idempotent requests', () => {
  it('retries a read after a refused connection and a 503 with Retry-After', async () => {
    const t = await setup(['pass', 'refuse', { status: 503, code: 'unavailable', retryAfter: '0' }]);
    await t.store.set('k', 'v');
    expect(await t.store.get('k')).toBe('v');
    expect(t.seen.map((s) => s.method)).toEqual(['PUT', 'GET', 'GET', 'GET']);
    expect(t.errors).toEqual([]);
  });

  it('retries exists (HEAD), list, getMany (a read over POST) and stores.list', async () => {
    const { kv, store, seen } = await setup([
      'refuse',
      'pass',
      'refuse',
      'pass',
      'refuse',
      'pass',
      'refuse',
      'pass',
    ]);
    expect(await store.exists('k')).toBe(false);
    expect((await store.list()).items).toEqual([]);
    expect((await store.getMany(['k'])).get('k')).toBeUndefined();
    expect((await kv.stores.list()).length).toBeGreaterThan(0);
    expect(seen).toHaveLength(8);
  });

  it('gives up after retry.limit and throws NetworkError with the cause; onError sees it once', async () => {
    const { store, seen, errors } = await setup(['refuse', 'refuse', 'refuse'], {
      retry: { ...fast, limit: 2 },
    });
    const error = await expectKvError(store.get('k'), NetworkError, 'network_error');
    expect(error.status).toBe(0);
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(seen).toHaveLength(3);
    expect(errors).toEqual([error]);
  });

  it('retry: false sends once', async () => {
    const { store, seen } = await setup(['refuse'], { retry: false });
    await expectKvError(store.get('k'), NetworkError);
    expect(seen).toHaveLength(1);
  });
});

describe('retries of unconditional writes (Idempotency-Key): a lost response is replayed, not repeated', () => {
  it('retries an unconditional set whose response was lost; the value is written once', async () => {
    const { kv, store, seen, name, errors } = await setup(['drop-response']);
    const result = await store.set('k', { a: 1 });
    expect(seen.map((s) => s.method)).toEqual(['PUT', 'PUT']);
    expect(seen[0]?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]?.idempotencyKey).toBe(seen[0]?.idempotencyKey);
    // The retry gets the first response again: revision 1 of a fresh store, created.
    expect(result).toMatchObject({ revision: 1, created: true });
    expect(await storeRevision(kv, name)).toBe(1);
    expect(await store.get('k')).toEqual({ a: 1 });
    expect(errors).toEqual([]);
  });

  it('delete whose response was lost reports true and deletes once', async () => {
    const t = await setup();
    await t.store.set('k', 1);
    t.arm(['drop-response']);
    const { kv, seen } = t;
    expect(await kv.store(t.name).delete('k')).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[1]?.idempotencyKey).toBe(seen[0]?.idempotencyKey);
    expect(await storeRevision(kv, t.name)).toBe(2);
    expect(await kv.store(t.name).exists('k')).toBe(false);
  });

  it('purge whose response was lost reports true', async () => {
    const t = await setup();
    await t.store.set('k', 1);
    t.arm(['drop-response']);
    const { kv, seen } = t;
    expect(await kv.store(t.name).purge('k')).toBe(true);
    expect(seen.map((s) => s.method)).toEqual(['DELETE', 'DELETE']);
    expect(seen[1]?.idempotencyKey).toBe(seen[0]?.idempotencyKey);
    expect(await kv.store(t.name).history('k')).toEqual([]);
  });

  it('setExpiry whose response was lost reports true and bumps the revision once', async () => {
    const t = await setup();
    await t.store.set('k', 1);
    t.arm(['drop-response']);
    const { kv, seen } = t;
    const expiresAt = new Date(Date.now() + 3_600_000);
    expect(await kv.store(t.name).setExpiry('k', expiresAt)).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[1]?.idempotencyKey).toBe(seen[0]?.idempotencyKey);
    expect(await storeRevision(kv, t.name)).toBe(2);
    expect((await kv.store(t.name).getEntry('k'))?.expiresAt).toBe(expiresAt.toISOString());
  });

  it('stores.delete whose response was lost reports true', async () => {
    const { kv, name, seen } = await setup(['drop-response']);
    expect(await kv.stores.delete(name)).toBe(true);
    expect(seen.map((s) => s.method)).toEqual(['DELETE', 'DELETE']);
    expect(seen[1]?.idempotencyKey).toBe(seen[0]?.idempotencyKey);
    expect(await kv.stores.get(name)).toBeUndefined();
  });

  it('stores.update whose response was lost reports the updated store', async () => {
    const { kv, name, seen } = await setup(['drop-response']);
    expect(await kv.stores.update(name, { history: 3 })).toMatchObject({ name, history: 3 });
    expect(seen).toHaveLength(2);
    expect(seen[1]?.idempotencyKey).toBe(seen[0]?.idempotencyKey);
  });

  it('rotateSigningSecret is sent once (no idempotency record on the server)', async () => {
    const { store, seen } = await setup(['refuse']);
    await expectKvError(store.rotateSigningSecret(), NetworkError);
    expect(seen).toHaveLength(1);
  });
});

describe('retries of conditional writes, bulk calls and atomic commits (Idempotency-Key)', () => {
  it('create whose response was lost reports success, not a false KeyExistsError', async () => {
    const { store, seen, errors } = await setup(['drop-response']);
    const result = await store.create('config:flags', { darkMode: true });
    expect(result.created).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[0]?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]?.idempotencyKey).toBe(seen[0]?.idempotencyKey);
    expect(errors).toEqual([]);
  });

  it('update whose response was lost reports success, not a false RevisionMismatchError, and applies once', async () => {
    const t = await setup();
    const { revision } = await t.store.set('counter', 1);
    const { fetch, seen } = faultyFetch(
      (input, init) => t.engine.fetch(new Request(input, init)),
      ['drop-response', { status: 502, code: 'internal' }],
    );
    const kv = createClient({ url: 'http://kv.test', fetch, env: {}, retry: fast });
    const store = kv.store(t.name);
    const result = await store.update('counter', 2, revision);
    expect(result.revision).toBe(revision + 1);
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.idempotencyKey)).size).toBe(1);
    expect(await storeRevision(kv, t.name)).toBe(revision + 1);
    expect(await store.get('counter')).toBe(2);
  });

  it('set with ifNotExists whose response was lost still reports created: true', async () => {
    const { store } = await setup(['drop-response']);
    expect((await store.set('lock', 'me', { ifNotExists: true })).created).toBe(true);
  });

  it('delete with ifRevision whose response was lost still reports true', async () => {
    const t = await setup();
    const { revision } = await t.store.set('k', 1);
    t.seen.length = 0;
    const { fetch } = faultyFetch(
      (input, init) => t.engine.fetch(new Request(input, init)),
      ['drop-response'],
    );
    const store = createClient({ url: 'http://kv.test', fetch, env: {}, retry: fast }).store(t.name);
    expect(await store.delete('k', { ifRevision: revision })).toBe(true);
  });

  it('setMany whose response was lost is applied once and reports the first results', async () => {
    const { kv, store, seen, name } = await setup(['drop-response']);
    const before = 0; // a fresh store
    const result = await store.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    expect(result.results.map((r) => r.created)).toEqual([true, true]);
    expect(seen).toHaveLength(2);
    expect(seen[1]?.idempotencyKey).toBe(seen[0]?.idempotencyKey);
    expect(await storeRevision(kv, name)).toBe(before + 2);
  });

  it('an atomic commit whose response was lost is applied once and reports ok', async () => {
    const { kv, store, name } = await setup(['drop-response']);
    const before = 0; // a fresh store
    const result = await store.atomic().check('slot', null).set('slot', 'taken').commit();
    expect(result).toEqual({ ok: true, revision: before + 1 });
    expect(await storeRevision(kv, name)).toBe(before + 1);
  });

  it('a streamed upload is never retried', async () => {
    const { store, seen } = await setup(['refuse']);
    await expectKvError(store.set('k', Readable.from([Buffer.from('data')])), NetworkError);
    expect(seen).toHaveLength(1);
    expect(await store.exists('k')).toBe(false);
  });
});

describe('timeouts, rate limits, server and auth errors', () => {
  it('a request with no response within timeoutMs is TimeoutError, retried like a network error', async () => {
    const { store, seen, errors } = await setup(['hang', 'hang'], {
      timeoutMs: 30,
      retry: { ...fast, limit: 1 },
    });
    const error = await expectKvError(store.get('k'), TimeoutError, 'timeout');
    expect(error.status).toBe(0);
    expect(seen).toHaveLength(2);
    expect(errors).toEqual([error]);
    const ok = await setup(['hang'], { timeoutMs: 30 });
    await ok.store.set('k', 'v');
    expect(ok.seen.map((s) => s.fault)).toEqual(['hang', undefined]);
  });

  it('429 retried, then RateLimitedError with retryAfterMs', async () => {
    const limited: Fault = { status: 429, code: 'rate_limited', retryAfter: '0' };
    const { store, seen } = await setup([limited, limited, limited]);
    const error = await expectKvError(store.get('k'), RateLimitedError, 'rate_limited');
    expect(error.retryAfterMs).toBe(0);
    expect(error.requestId).toBe('fault');
    expect(seen).toHaveLength(3);
  });

  it('a failing storage is a ServerError 500 with the request id', async () => {
    const storage = new MemoryStorage();
    const broken = new Proxy(storage, {
      get(target, prop, receiver) {
        if (prop === 'get') return () => Promise.reject(new Error('disk on fire'));
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { fetch, url } = inProcessEngine({ storage: broken });
    const kv = createClient({ url, fetch, env: {}, retry: { ...fast, limit: 1 } });
    const name = uniqueName('broken');
    await kv.stores.create(name);
    const error = await expectKvError(kv.store(name).get('k'), ServerError, 'internal');
    expect(error.status).toBe(500);
    expect(error.message).not.toMatch(/disk on fire/);
    expect(typeof error.requestId).toBe('string');
  });

  it('no token is UnauthenticatedError 401; a token without the capability is UnauthorizedError 403', async () => {
    const { fetch, url } = inProcessEngine({
      authorize: ({ token, action }) => {
        if (token === undefined) throw new UnauthenticatedError('A bearer token is required');
        if (token === 'admin') return true;
        return token === 'reader' && (action === 'get' || action === 'exists' || action === 'list');
      },
    });
    const admin = createClient({ url, fetch, env: { KV_TOKEN: 'admin' } });
    const name = uniqueName('auth');
    await admin.stores.create(name);
    await admin.store(name).set('k', 'v');
    const anonymous = createClient({ url, fetch, env: {} });
    const e401 = await expectKvError(anonymous.store(name).get('k'), UnauthenticatedError, 'unauthenticated');
    expect(e401.status).toBe(401);
    const reader = createClient({ url, fetch, token: 'reader', env: { KV_TOKEN: 'admin' } });
    expect(await reader.store(name).get('k')).toBe('v');
    const e403 = await expectKvError(reader.store(name).set('k', 'w'), UnauthorizedError, 'forbidden');
    expect(e403.status).toBe(403);
  });
});

describe('bulk chunking', () => {
  it('setMany, getMany and deleteMany send one request per 10,000 items', async () => {
    const { store, seen } = await setup();
    const items = Array.from({ length: 10_001 }, (_, i) => ({ key: `k${i}`, value: i }));
    const set = await store.setMany(items);
    expect(set.successfulKeyCount).toBe(10_001);
    expect(set.results).toHaveLength(10_001);
    expect(seen.map((s) => new URL(s.url).pathname.split('/').at(-1))).toEqual(['set', 'set']);
    seen.length = 0;
    const got = await store.getMany(items.map((i) => i.key));
    expect(got.size).toBe(10_001);
    expect(got.get('k10000')?.value).toBe(10_000);
    seen.length = 0;
    const deleted = await store.deleteMany(items.map((i) => i.key));
    expect(deleted.successfulKeyCount).toBe(10_001);
    expect(seen).toHaveLength(2);
  });

  it('setMany of 10,000 entries is one request', async () => {
    const { store, seen } = await setup();
    await store.setMany(Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, value: 'x' })));
    expect(seen).toHaveLength(1);
  });
});

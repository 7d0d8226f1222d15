import { LIMITS } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { setup, T0 } from '../test/harness.js';

interface StoreInfo {
  name: string;
  history: number;
  defaultTtlMs: number | null;
  maxValueBytes: number;
  revision: number;
  keyCount: number;
  totalBytes: number;
  createdAt: string;
  updatedAt: string;
}

describe('service routes', () => {
  it('GET /healthz answers {ok:true}', async () => {
    const h = setup();
    expect(await h.json('GET', '/healthz', 200)).toEqual({ ok: true });
  });

  it('HEAD /healthz answers 200 with no body', async () => {
    const h = setup();
    const res = await h.call('HEAD', '/healthz');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });
});

describe('stores', () => {
  it('creates a store with defaults (201) and reads it back', async () => {
    const h = setup();
    const created = await h.json<StoreInfo>('POST', '/v1/stores', 201, { json: { name: 'orders' } });
    expect(created).toEqual({
      name: 'orders',
      history: 1,
      defaultTtlMs: null,
      maxValueBytes: LIMITS.defaultMaxValueBytes,
      revision: 0,
      keyCount: 0,
      totalBytes: 0,
      createdAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
    });
    expect(await h.json('GET', '/v1/stores/orders', 200)).toEqual(created);
  });

  it('creates with settings and reports stats after writes', async () => {
    const h = setup();
    await h.createStore('s', { history: 5, defaultTtlMs: 60_000, maxValueBytes: 1000 });
    await h.put('s', 'a', 'hello');
    await h.put('s', 'b', 'hi');
    const info = await h.json<StoreInfo>('GET', '/v1/stores/s', 200);
    expect(info).toMatchObject({
      history: 5,
      defaultTtlMs: 60_000,
      maxValueBytes: 1000,
      keyCount: 2,
      totalBytes: 7,
    });
    expect(info.revision).toBe(2);
  });

  it('lists stores ordered by name', async () => {
    const h = setup();
    await h.createStore('b');
    await h.createStore('a');
    const list = await h.json<{ items: StoreInfo[] }>('GET', '/v1/stores', 200);
    expect(list.items.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('updates settings with PATCH and keeps the others', async () => {
    const h = setup();
    await h.createStore('s', { history: 3 });
    h.advance(1000);
    const updated = await h.json<StoreInfo>('PATCH', '/v1/stores/s', 200, { json: { defaultTtlMs: 5000 } });
    expect(updated).toMatchObject({ history: 3, defaultTtlMs: 5000 });
    expect(updated.updatedAt).toBe(new Date(T0 + 1000).toISOString());
    const cleared = await h.json<StoreInfo>('PATCH', '/v1/stores/s', 200, { json: { defaultTtlMs: null } });
    expect(cleared.defaultTtlMs).toBeNull();
  });

  it('deletes a store and its data; deleting again reports deleted:false', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v');
    expect(await h.json('DELETE', '/v1/stores/s', 200)).toEqual({ deleted: true });
    await h.error('GET', '/v1/stores/s', 404, 'store_not_found');
    expect(await h.json('DELETE', '/v1/stores/s', 200)).toEqual({ deleted: false });
    await h.createStore('s');
    await h.error('GET', '/v1/stores/s/entries/k', 404, 'key_not_found');
  });

  it('rejects a taken name with 412 store_exists', async () => {
    const h = setup();
    await h.createStore('s');
    await h.error('POST', '/v1/stores', 412, 'store_exists', { json: { name: 's' } });
  });

  it.each([
    ['empty name', { name: '' }],
    ['bad character', { name: 'a.b' }],
    ['65 characters', { name: 'a'.repeat(65) }],
    ['history 0', { name: 'ok', history: 0 }],
    ['history 65', { name: 'ok', history: 65 }],
    ['negative ttl', { name: 'ok', defaultTtlMs: -1 }],
    ['unknown field', { name: 'ok', colour: 'red' }],
    ['no name', {}],
  ])('rejects %s with 400', async (_, body) => {
    const h = setup();
    await h.error('POST', '/v1/stores', 400, 'validation_error', { json: body });
    expect(await h.json('GET', '/v1/stores', 200)).toEqual({ items: [] });
  });

  it('caps a store maxValueBytes at the server-wide cap', async () => {
    const h = setup({ maxValueBytes: 1000 });
    await h.error('POST', '/v1/stores', 400, 'validation_error', {
      json: { name: 's', maxValueBytes: 1001 },
    });
    const info = await h.json<StoreInfo>('POST', '/v1/stores', 201, { json: { name: 's' } });
    expect(info.maxValueBytes).toBe(1000);
    await h.error('PATCH', '/v1/stores/s', 400, 'validation_error', { json: { maxValueBytes: 2000 } });
  });

  it('answers 404 store_not_found on every route of a missing store', async () => {
    const h = setup();
    const json = { 'content-type': 'application/json' };
    const cases: Array<
      [string, string, { json?: unknown; body?: string; headers?: Record<string, string> }]
    > = [
      ['GET', '/v1/stores/nope', {}],
      ['PATCH', '/v1/stores/nope', { json: { history: 2 } }],
      ['GET', '/v1/stores/nope/entries', {}],
      ['GET', '/v1/stores/nope/entries/k', {}],
      ['HEAD', '/v1/stores/nope/entries/k', {}],
      ['PUT', '/v1/stores/nope/entries/k', { body: 'v' }],
      ['DELETE', '/v1/stores/nope/entries/k', {}],
      ['DELETE', '/v1/stores/nope/entries/k?purge=true', {}],
      ['GET', '/v1/stores/nope/entries/k/history', {}],
      ['PUT', '/v1/stores/nope/entries/k/expiry', { json: { expiresAt: null } }],
      ['GET', '/v1/stores/nope/ids/x', {}],
      ['GET', '/v1/stores/nope/scopes', {}],
      ['POST', '/v1/stores/nope/bulk/get', { json: { keys: ['k'] } }],
      ['POST', '/v1/stores/nope/bulk/set', { json: { items: [] } }],
      ['POST', '/v1/stores/nope/bulk/delete', { json: { keys: [] } }],
      ['POST', '/v1/stores/nope/atomic', { json: { mutations: [] }, headers: json }],
    ];
    for (const [method, path, init] of cases) {
      const res = await h.call(method, path, init);
      expect(res.status, `${method} ${path}`).toBe(404);
      if (method !== 'HEAD') {
        expect(((await res.json()) as { error: { code: string } }).error.code, `${method} ${path}`).toBe(
          'store_not_found',
        );
      }
    }
  });
});

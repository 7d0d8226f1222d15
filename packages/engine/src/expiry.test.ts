import { afterEach, describe, expect, it, vi } from 'vitest';
import { b64, entryPath, setup, T0 } from '../test/harness.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('expiry', () => {
  it('an expired entry is invisible to every read before the sweeper runs', async () => {
    const h = setup();
    await h.createStore('s', { history: 5 });
    const { id } = await h.put('s', 'k', 'v', { 'kv-ttl-ms': '1000', 'kv-scopes': 'temp' });
    h.advance(999);
    expect((await h.call('GET', entryPath('s', 'k'))).status).toBe(200);
    h.advance(1);
    await h.error('GET', entryPath('s', 'k'), 404, 'key_not_found');
    expect((await h.call('HEAD', entryPath('s', 'k'))).status).toBe(404);
    await h.error('GET', `/v1/stores/s/ids/${id}`, 404, 'key_not_found');
    expect(await h.json('GET', '/v1/stores/s/entries', 200)).toEqual({ items: [], complete: true });
    expect(await h.json('GET', '/v1/stores/s/scopes', 200)).toEqual({ items: [] });
    const bulk = await h.json<{ items: Array<{ found: boolean }> }>('POST', '/v1/stores/s/bulk/get', 200, {
      json: { keys: ['k'] },
    });
    expect(bulk.items[0]?.found).toBe(false);
    // It counts as absent for preconditions: a create succeeds with a new id.
    const again = await h.call('PUT', entryPath('s', 'k'), { body: 'v2', headers: { 'if-none-match': '*' } });
    expect(again.status).toBe(201);
    expect(((await again.json()) as { id: string }).id).not.toBe(id);
  });

  it('the sweeper records an expire write (revision bump, tombstone in history)', async () => {
    const h = setup();
    await h.createStore('s', { history: 5 });
    await h.put('s', 'k', 'v', { 'kv-ttl-ms': '1000' });
    await h.put('s', 'keep', 'v');
    h.advance(1000);
    expect(await h.engine.sweepExpired()).toBe(1);
    const history = await h.json<{
      items: Array<{ operation: string; revision: number; updatedAt: string }>;
    }>('GET', `${entryPath('s', 'k')}/history`, 200);
    expect(history.items.map((i) => [i.operation, i.revision])).toEqual([
      ['expire', 3],
      ['put', 1],
    ]);
    expect(history.items[0]?.updatedAt).toBe(new Date(T0 + 1000).toISOString());
    const info = await h.json<{ revision: number; keyCount: number }>('GET', '/v1/stores/s', 200);
    expect(info).toMatchObject({ revision: 3, keyCount: 1 });
    expect(await h.engine.sweepExpired()).toBe(0);
  });

  it('sweeps in batches until done', async () => {
    const h = setup({ sweepBatchSize: 7 });
    await h.createStore('s');
    const items = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: b64('v'), ttlMs: 10 }));
    await h.json('POST', '/v1/stores/s/bulk/set', 200, { json: { items } });
    expect(await h.engine.sweepExpired(T0 + 10)).toBe(30);
    expect((await h.json<{ keyCount: number }>('GET', '/v1/stores/s', 200)).keyCount).toBe(0);
  });

  it('startSweeper runs the sweep on an interval; close stops it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v', { 'kv-ttl-ms': '50' });
    h.advance(50);
    h.engine.startSweeper(100);
    await vi.advanceTimersByTimeAsync(100);
    await vi.waitFor(async () => {
      const history = await h.json<{ items: Array<{ operation: string }> }>(
        'GET',
        `${entryPath('s', 'k')}/history`,
        200,
      );
      expect(history.items[0]?.operation).toBe('expire');
    });
    await h.engine.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('setExpiry to a near time makes the key expire', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v');
    await h.json('PUT', `${entryPath('s', 'k')}/expiry`, 200, {
      json: { expiresAt: new Date(T0 + 10).toISOString() },
    });
    h.advance(10);
    await h.error('GET', entryPath('s', 'k'), 404, 'key_not_found');
    expect(await h.json('PUT', `${entryPath('s', 'k')}/expiry`, 200, { json: { expiresAt: null } })).toEqual({
      existed: false,
    });
  });
});

import { LIMITS } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { b64, entryPath, type Harness, setup } from '../test/harness.js';
import type { MaybePromise, StorageTx } from './storage.js';

async function revisionOf(h: Harness): Promise<number> {
  return (await h.json<{ revision: number }>('GET', '/v1/stores/s', 200)).revision;
}

describe('idempotent retries', () => {
  it('replays the first response of a PUT and writes nothing', async () => {
    const h = setup();
    await h.createStore('s');
    const init = { body: 'v', headers: { 'idempotency-key': 'retry-1', 'content-type': 'text/plain' } };
    const first = await h.call('PUT', entryPath('s', 'k'), init);
    expect(first.status).toBe(201);
    const firstBody = await first.text();
    expect(first.headers.get('kv-idempotent-replayed')).toBeNull();
    const again = await h.call('PUT', entryPath('s', 'k'), init);
    expect(again.status).toBe(201);
    expect(await again.text()).toBe(firstBody);
    expect(again.headers.get('kv-idempotent-replayed')).toBe('true');
    expect(again.headers.get('etag')).toBe('"1"');
    expect(again.headers.get('kv-request-id')).not.toBe(first.headers.get('kv-request-id'));
    expect(await revisionOf(h)).toBe(1);
  });

  it('a retried compare-and-swap reports its success, not a false conflict', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v1');
    const init = { body: 'v2', headers: { 'if-match': '"1"', 'idempotency-key': 'cas-1' } };
    expect((await h.call('PUT', entryPath('s', 'k'), init)).status).toBe(200);
    const retry = await h.call('PUT', entryPath('s', 'k'), init);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ revision: 2 });
    expect(await revisionOf(h)).toBe(2);
  });

  it('replays a failed precondition too (412), so the outcome is stable', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v1');
    const init = { body: 'x', headers: { 'if-none-match': '*', 'idempotency-key': 'create-1' } };
    await h.error('PUT', entryPath('s', 'k'), 412, 'key_exists', init);
    await h.call('DELETE', entryPath('s', 'k'));
    const retry = await h.call('PUT', entryPath('s', 'k'), init);
    expect(retry.status).toBe(412);
    expect(retry.headers.get('kv-idempotent-replayed')).toBe('true');
  });

  it('a reused key with another body, header or path is 400 idempotency_key_reused', async () => {
    const h = setup();
    await h.createStore('s');
    const headers = { 'idempotency-key': 'k-1' };
    await h.call('PUT', entryPath('s', 'k'), { body: 'one', headers });
    await h.error('PUT', entryPath('s', 'k'), 400, 'idempotency_key_reused', { body: 'two', headers });
    await h.error('PUT', entryPath('s', 'k'), 400, 'idempotency_key_reused', {
      body: 'one',
      headers: { ...headers, 'kv-ttl-ms': '1000' },
    });
    await h.error('PUT', entryPath('s', 'other'), 400, 'idempotency_key_reused', { body: 'one', headers });
    await h.error('DELETE', entryPath('s', 'k'), 400, 'idempotency_key_reused', { headers });
    expect(await revisionOf(h)).toBe(1);
  });

  it('keys are scoped by token and store', async () => {
    const h = setup();
    await h.createStore('s');
    await h.createStore('t');
    const put = (store: string, token?: string) =>
      h.call('PUT', entryPath(store, 'k'), {
        body: 'v',
        headers: { 'idempotency-key': 'same', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
    expect((await put('s', 'alice')).headers.get('kv-idempotent-replayed')).toBeNull();
    expect((await put('s', 'bob')).headers.get('kv-idempotent-replayed')).toBeNull();
    expect((await put('t', 'alice')).headers.get('kv-idempotent-replayed')).toBeNull();
    expect((await put('s')).headers.get('kv-idempotent-replayed')).toBeNull();
    expect((await put('s', 'alice')).headers.get('kv-idempotent-replayed')).toBe('true');
    expect(await revisionOf(h)).toBe(3);
  });

  it('is remembered for 10 minutes', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v1');
    const init = { body: 'v2', headers: { 'if-match': '"1"', 'idempotency-key': 'ten-minutes' } };
    await h.call('PUT', entryPath('s', 'k'), init);
    h.advance(LIMITS.idempotencyTtlMs - 1);
    expect((await h.call('PUT', entryPath('s', 'k'), init)).status).toBe(200);
    h.advance(1);
    await h.error('PUT', entryPath('s', 'k'), 412, 'revision_mismatch', init);
  });

  it('concurrent duplicates run once; the others replay', async () => {
    const h = setup();
    await h.createStore('s');
    const json = { items: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: b64('v') })) };
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        h.call('POST', '/v1/stores/s/bulk/set', { json, headers: { 'idempotency-key': 'bulk-1' } }),
      ),
    );
    const bodies = await Promise.all(results.map((r) => r.text()));
    expect(new Set(bodies).size).toBe(1);
    expect(results.filter((r) => r.headers.get('kv-idempotent-replayed') === 'true')).toHaveLength(7);
    expect(await revisionOf(h)).toBe(50);
  });

  it('covers atomic commits, bulk deletes, expiry and store creation', async () => {
    const h = setup();
    const headers = { 'idempotency-key': 'op' };
    const created = await h.call('POST', '/v1/stores', { json: { name: 's' }, headers });
    expect(created.status).toBe(201);
    const again = await h.call('POST', '/v1/stores', { json: { name: 's' }, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get('kv-idempotent-replayed')).toBe('true');
    await h.put('s', 'a', 'v');
    const atomic = { json: { mutations: [{ type: 'set', key: 'b', value: b64('x') }] }, headers };
    expect((await h.call('POST', '/v1/stores/s/atomic', atomic)).status).toBe(200);
    expect((await h.call('POST', '/v1/stores/s/atomic', atomic)).headers.get('kv-idempotent-replayed')).toBe(
      'true',
    );
    const del = { json: { keys: ['a'] }, headers: { 'idempotency-key': 'del' } };
    const d1 = await (await h.call('POST', '/v1/stores/s/bulk/delete', del)).json();
    const d2 = await (await h.call('POST', '/v1/stores/s/bulk/delete', del)).json();
    expect(d2).toEqual(d1);
    const exp = { json: { expiresAt: null }, headers: { 'idempotency-key': 'exp' } };
    expect(await (await h.call('PUT', `${entryPath('s', 'b')}/expiry`, exp)).json()).toEqual(
      await (await h.call('PUT', `${entryPath('s', 'b')}/expiry`, exp)).json(),
    );
    expect(await revisionOf(h)).toBe(4);
  });

  it('replays entry deletes, purges, store updates and store deletion with their first answers', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'a', 'v');
    await h.put('s', 'b', 'v');
    const replayed = async (method: string, path: string, init: Parameters<Harness['call']>[2]) => {
      const first = await h.call(method, path, init);
      const firstBody = await first.text();
      const again = await h.call(method, path, init);
      expect(again.status).toBe(first.status);
      expect(await again.text()).toBe(firstBody);
      expect(again.headers.get('kv-idempotent-replayed')).toBe('true');
      return { status: first.status, body: firstBody };
    };
    // A retried delete reports that it deleted (not "missing"), and writes one tombstone.
    const del = await replayed('DELETE', entryPath('s', 'a'), { headers: { 'idempotency-key': 'd' } });
    expect(del.status).toBe(200);
    expect(JSON.parse(del.body)).toMatchObject({ deleted: true });
    const purge = await replayed('DELETE', `${entryPath('s', 'b')}?purge=true`, {
      headers: { 'idempotency-key': 'p' },
    });
    expect(purge.status).toBe(200);
    expect(await revisionOf(h)).toBe(4);
    const patch = await replayed('PATCH', '/v1/stores/s', {
      json: { history: 5 },
      headers: { 'idempotency-key': 'u' },
    });
    expect(patch.status).toBe(200);
    expect(JSON.parse(patch.body)).toMatchObject({ history: 5 });
    // Deleting the store: the retry gets the first answer, not a 404 for the store that is gone.
    const drop = await replayed('DELETE', '/v1/stores/s', { headers: { 'idempotency-key': 'x' } });
    expect(drop.status).toBe(200);
    await h.error('GET', '/v1/stores/s', 404, 'store_not_found');
  });

  it('rejects a malformed Idempotency-Key with 400', async () => {
    const h = setup();
    await h.createStore('s');
    await h.error('PUT', entryPath('s', 'k'), 400, 'validation_error', {
      body: 'v',
      headers: { 'idempotency-key': 'x'.repeat(256) },
    });
    await h.error('PUT', entryPath('s', 'k'), 400, 'validation_error', {
      body: 'v',
      headers: { 'idempotency-key': 'has space' },
    });
    expect(await revisionOf(h)).toBe(0);
  });

  it('does not store 5xx responses: a retry runs again', async () => {
    const h = setup();
    await h.createStore('s');
    const original = h.storage.transaction.bind(h.storage);
    let fail = true;
    h.storage.transaction = async <T>(store: string, fn: (tx: StorageTx) => MaybePromise<T>): Promise<T> => {
      if (fail) {
        fail = false;
        throw new Error('disk on fire');
      }
      return original(store, fn);
    };
    const init = { body: 'v', headers: { 'idempotency-key': 'flaky' } };
    await h.error('PUT', entryPath('s', 'k'), 500, 'internal', init);
    const retry = await h.call('PUT', entryPath('s', 'k'), init);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('kv-idempotent-replayed')).toBeNull();
  });
});

/**
 * TTL and expiry limits (docs/security.md "Limits against hostile clients", "TTL and expiry"): every
 * path that accepts a TTL or an absolute expiry refuses one that would put `now + ttl` past
 * `LIMITS.maxExpiresAtMs` with 400 `validation_error` and writes nothing, and every reader shows an
 * out-of-range expiry already in storage clamped instead of failing with 500.
 */
import { LIMITS, type WireError } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { b64, entryPath, type Harness, setup, T0 } from '../test/harness.js';
import { commit } from './commit.js';

/** The reproduction: past what a JavaScript `Date` holds once added to now. */
const HUGE_TTL = 9_000_000_000_000_000;
const MAX_ISO = '9999-12-31T23:59:59.999Z';

async function storeRevision(h: Harness, store: string): Promise<number> {
  return (await h.json<{ revision: number }>('GET', `/v1/stores/${store}`, 200)).revision;
}

function fieldOf(body: WireError): unknown {
  return (body.error.details as { field?: unknown } | undefined)?.field;
}

describe('TTL limits on writes', () => {
  it('PUT with Kv-Ttl-Ms: 9000000000000000 answers 400 and writes nothing', async () => {
    const h = setup();
    await h.createStore('s');
    const body = await h.error('PUT', entryPath('s', 'k'), 400, 'validation_error', {
      body: 'v',
      headers: { 'kv-ttl-ms': String(HUGE_TTL) },
    });
    expect(fieldOf(body)).toBe('ttlMs');
    await h.error('GET', entryPath('s', 'k'), 404, 'key_not_found');
    expect(await storeRevision(h, 's')).toBe(0);
  });

  it('Kv-Ttl-Ms: the maximum is accepted, one more is refused', async () => {
    const h = setup();
    await h.createStore('s');
    await h.error('PUT', entryPath('s', 'k'), 400, 'validation_error', {
      body: 'v',
      headers: { 'kv-ttl-ms': String(LIMITS.maxTtlMs + 1) },
    });
    await h.put('s', 'k', 'v', { 'kv-ttl-ms': String(LIMITS.maxTtlMs) });
    const res = await h.call('GET', entryPath('s', 'k'));
    expect(res.headers.get('kv-expires-at')).toBe(new Date(T0 + LIMITS.maxTtlMs).toISOString());
  });

  it('Kv-Expires-At after 9999-12-31T23:59:59.999Z answers 400 (an offset cannot reach past it)', async () => {
    const h = setup();
    await h.createStore('s');
    for (const late of ['9999-12-31T23:59:59.999-00:01', '9999-12-31T23:59:59.999-23:59']) {
      const body = await h.error('PUT', entryPath('s', 'k'), 400, 'validation_error', {
        body: 'v',
        headers: { 'kv-expires-at': late },
      });
      expect(fieldOf(body)).toBe('expiresAt');
    }
    expect(await storeRevision(h, 's')).toBe(0);
    await h.put('s', 'k', 'v', { 'kv-expires-at': MAX_ISO });
    expect((await h.call('GET', entryPath('s', 'k'))).headers.get('kv-expires-at')).toBe(MAX_ISO);
  });

  it('PUT .../expiry past the maximum answers 400 and leaves the entry as it was', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v', { 'kv-ttl-ms': '60000' });
    const body = await h.error('PUT', `${entryPath('s', 'k')}/expiry`, 400, 'validation_error', {
      json: { expiresAt: '+275760-09-13T00:00:00.000Z' },
    });
    expect(fieldOf(body)).toBe('expiresAt');
    const late = await h.error('PUT', `${entryPath('s', 'k')}/expiry`, 400, 'validation_error', {
      json: { expiresAt: '9999-12-31T23:59:59.999-12:00' },
    });
    expect(fieldOf(late)).toBe('expiresAt');
    const res = await h.call('GET', entryPath('s', 'k'));
    expect(res.headers.get('kv-revision')).toBe('1');
    expect(res.headers.get('kv-expires-at')).toBe(new Date(T0 + 60_000).toISOString());
  });

  it('bulk set refuses the item with a huge ttlMs and writes the others', async () => {
    const h = setup();
    await h.createStore('s');
    const result = await h.json<{
      results: Array<{ key: string; ok: boolean; error?: string; message?: string }>;
      unsuccessfulKeys: string[];
    }>('POST', '/v1/stores/s/bulk/set', 200, {
      json: {
        items: [
          { key: 'bad', value: b64('x'), ttlMs: HUGE_TTL },
          { key: 'good', value: b64('y'), ttlMs: 1000 },
          { key: 'late', value: b64('z'), expiresAt: '9999-12-31T23:59:59.999-01:00' },
        ],
      },
    });
    expect(result.unsuccessfulKeys).toEqual(['bad', 'late']);
    expect(result.results[0]).toMatchObject({ ok: false, error: 'validation_error' });
    expect(result.results[0]?.message).toContain('ttlMs');
    expect(result.results[2]).toMatchObject({ ok: false, error: 'validation_error' });
    expect(result.results[2]?.message).toContain('expiresAt');
    await h.error('GET', entryPath('s', 'bad'), 404, 'key_not_found');
    await h.error('GET', entryPath('s', 'late'), 404, 'key_not_found');
    expect((await h.call('GET', entryPath('s', 'good'))).status).toBe(200);
  });

  it('an atomic commit with a huge ttlMs answers 400 and writes nothing', async () => {
    const h = setup();
    await h.createStore('s');
    const body = await h.error('POST', '/v1/stores/s/atomic', 400, 'validation_error', {
      json: {
        mutations: [
          { type: 'set', key: 'a', value: b64('1') },
          { type: 'set', key: 'b', value: b64('2'), ttlMs: HUGE_TTL },
        ],
      },
    });
    expect(body.error.details).toMatchObject({ field: 'ttlMs', list: 'mutations', index: 1 });
    expect(await storeRevision(h, 's')).toBe(0);
    await h.error('GET', entryPath('s', 'a'), 404, 'key_not_found');
  });

  it('store create and PATCH refuse defaultTtlMs over the maximum and change nothing', async () => {
    const h = setup();
    const created = await h.error('POST', '/v1/stores', 400, 'validation_error', {
      json: { name: 'poison', defaultTtlMs: 9e15 },
    });
    expect(fieldOf(created)).toBe('defaultTtlMs');
    await h.error('GET', '/v1/stores/poison', 404, 'store_not_found');

    await h.createStore('s', { defaultTtlMs: 1000 });
    const patched = await h.error('PATCH', '/v1/stores/s', 400, 'validation_error', {
      json: { defaultTtlMs: LIMITS.maxTtlMs + 1 },
    });
    expect(fieldOf(patched)).toBe('defaultTtlMs');
    expect(await h.json('GET', '/v1/stores/s', 200)).toMatchObject({ defaultTtlMs: 1000 });
    expect(
      await h.json('PATCH', '/v1/stores/s', 200, { json: { defaultTtlMs: LIMITS.maxTtlMs } }),
    ).toMatchObject({ defaultTtlMs: LIMITS.maxTtlMs });
  });

  it('a store whose defaultTtlMs on disk is over the maximum still takes writes, expiring at most maxTtlMs later', async () => {
    const h = setup();
    await h.createStore('s');
    // Written before the limit existed: straight into storage, past the engine's validation.
    await h.storage.updateStore('s', { defaultTtlMs: 9e15 }, T0);
    await h.put('s', 'k', 'v');
    const res = await h.call('GET', entryPath('s', 'k'));
    expect(res.status).toBe(200);
    expect(res.headers.get('kv-expires-at')).toBe(new Date(T0 + LIMITS.maxTtlMs).toISOString());
  });
});

describe('readers of an out-of-range expiry already in storage', () => {
  /** A store holding `far` (expiry 9e15 ms, past what a Date holds), `neg` (history only) and `ok`. */
  async function poisoned(): Promise<Harness> {
    const h = setup();
    await h.createStore('s', { history: 5 });
    await h.put('s', 'ok', 'fine');
    const put = (key: string, expiresAt: number) => ({
      type: 'put' as const,
      key,
      value: new TextEncoder().encode('bad'),
      contentType: 'text/plain',
      metadata: null,
      scopes: [],
      expiresAt,
      resume: true,
      newId: `id-${key}`,
    });
    // Straight into storage, past the engine's validation, as a file written before the limits.
    await commit(h.storage, 's', { mode: 'each', mutations: [put('far', HUGE_TTL)], nowMs: T0 });
    await commit(h.storage, 's', { mode: 'each', mutations: [put('neg', -HUGE_TTL)], nowMs: T0 });
    return h;
  }

  it('GET, HEAD, by id, listing, bulk get and history show the expiry clamped to 9999-12-31', async () => {
    const h = await poisoned();
    const get = await h.call('GET', entryPath('s', 'far'));
    expect(get.status).toBe(200);
    expect(get.headers.get('kv-expires-at')).toBe(MAX_ISO);
    expect(await get.text()).toBe('bad');
    expect((await h.call('HEAD', entryPath('s', 'far'))).status).toBe(200);
    expect((await h.call('GET', '/v1/stores/s/ids/id-far')).status).toBe(200);

    for (const query of ['', '?values=true', '?prefix=f', '?reverse=true']) {
      const page = await h.json<{ items: Array<{ key: string; expiresAt: string | null }> }>(
        'GET',
        `/v1/stores/s/entries${query}`,
        200,
      );
      expect(page.items.find((i) => i.key === 'far')?.expiresAt).toBe(MAX_ISO);
    }
    const bulk = await h.json<{ items: Array<{ key: string; found: boolean; expiresAt?: string }> }>(
      'POST',
      '/v1/stores/s/bulk/get',
      200,
      { json: { keys: ['far', 'ok', 'neg'] } },
    );
    expect(bulk.items.map((i) => [i.key, i.found, i.expiresAt ?? null])).toEqual([
      ['far', true, MAX_ISO],
      ['ok', true, null],
      ['neg', false, null],
    ]);
    const far = await h.json<{ items: Array<{ expiresAt: string | null }> }>(
      'GET',
      `${entryPath('s', 'far')}/history`,
      200,
    );
    expect(far.items[0]?.expiresAt).toBe(MAX_ISO);
    // An expiry before what a Date holds: long expired, its history still readable.
    await h.error('GET', entryPath('s', 'neg'), 404, 'key_not_found');
    const neg = await h.json<{ items: Array<{ expiresAt: string | null }> }>(
      'GET',
      `${entryPath('s', 'neg')}/history`,
      200,
    );
    expect(neg.items[0]?.expiresAt).toBe('1970-01-01T00:00:00.000Z');
  });

  it('watch delivers the event (initial values, fromRevision, resume) instead of dying on it', async () => {
    const h = await poisoned();
    for (const query of ['', '?fromRevision=0', '?resume=true', '?includeHistory=true']) {
      const controller = new AbortController();
      const res = await h.call('GET', `/v1/stores/s/watch${query}`, { signal: controller.signal });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      // Until the event of `far` and the one after it (a stream that failed on it would end instead).
      while (!/"key":"far"[\s\S]*\n\n[\s\S]*\n\n/.test(text) && !text.includes('event: error')) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value);
      }
      controller.abort();
      await reader.cancel().catch(() => {});
      expect(text, query).not.toContain('event: error');
      const far = text
        .split('\n\n')
        .map((block) => /^data: (.*)$/m.exec(block)?.[1])
        .filter((data): data is string => data !== undefined)
        .map((data) => JSON.parse(data) as { key?: string; expiresAt?: string })
        .find((event) => event.key === 'far');
      expect(far?.expiresAt, query).toBe(MAX_ISO);
    }
  });
});

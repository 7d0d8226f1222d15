import { LIMITS } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { b64, entryPath, setup } from '../test/harness.js';

/** An endless body that counts the bytes the engine pulled from it. */
function endlessBody(chunkBytes = 64 * 1024): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const chunk = new Uint8Array(chunkBytes).fill(120);
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => pulled };
}

async function revisionOf(h: ReturnType<typeof setup>, store = 's'): Promise<number> {
  return (await h.json<{ revision: number }>('GET', `/v1/stores/${store}`, 200)).revision;
}

describe('limits', () => {
  it('keys: 512 bytes pass, 513 bytes are 400 (multi-byte characters count bytes)', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'a'.repeat(512), 'v');
    await h.put('s', `${'é'.repeat(255)}ab`, 'v'); // 255 x 2 + 2 = 512 bytes
    const body = await h.error('PUT', entryPath('s', 'a'.repeat(513)), 400, 'validation_error', {
      body: 'v',
    });
    expect(body.error.details).toMatchObject({ field: 'key', maxBytes: 512 });
    await h.error('PUT', entryPath('s', `${'é'.repeat(256)}a`), 400, 'validation_error', { body: 'v' });
    await h.error('PUT', entryPath('s', `${'😀'.repeat(128)}a`), 400, 'validation_error', { body: 'v' });
    expect(await revisionOf(h)).toBe(2);
  });

  it('values over the store limit are 413, by Content-Length and by counting', async () => {
    const h = setup();
    await h.createStore('s', { maxValueBytes: 10 });
    await h.put('s', 'exact', '0123456789');
    const declared = await h.error('PUT', entryPath('s', 'k'), 413, 'payload_too_large', {
      body: '0123456789A',
      headers: { 'content-length': '11' },
    });
    expect(declared.error.details).toMatchObject({ field: 'value', limitBytes: 10 });
    await h.error('PUT', entryPath('s', 'k'), 413, 'payload_too_large', { body: '0123456789A' });
    expect(await revisionOf(h)).toBe(1);
  });

  it('the server-wide cap applies below a store limit', async () => {
    const h = setup({ maxValueBytes: 8 });
    await h.createStore('s');
    await h.error('PUT', entryPath('s', 'k'), 413, 'payload_too_large', { body: '123456789' });
    await h.put('s', 'k', '12345678');
  });

  it('an oversized streamed body without Content-Length is refused without reading it all', async () => {
    const h = setup();
    await h.createStore('s', { maxValueBytes: 1024 * 1024 });
    const { stream, pulled } = endlessBody();
    await h.error('PUT', entryPath('s', 'k'), 413, 'payload_too_large', { body: stream });
    // The engine stopped within a couple of chunks past the 1 MiB limit of an endless body.
    expect(pulled()).toBeLessThanOrEqual(1024 * 1024 + 3 * 64 * 1024);
    expect(await revisionOf(h)).toBe(0);
  });

  it('a body longer than its (lying) Content-Length is still cut at the limit', async () => {
    const h = setup();
    await h.createStore('s', { maxValueBytes: 1024 * 1024 });
    const { stream, pulled } = endlessBody();
    await h.error('PUT', entryPath('s', 'k'), 413, 'payload_too_large', {
      body: stream,
      headers: { 'content-length': '5' },
    });
    expect(pulled()).toBeLessThanOrEqual(1024 * 1024 + 3 * 64 * 1024);
  });

  it('an oversized declared body is refused before it is read', async () => {
    const h = setup();
    await h.createStore('s', { maxValueBytes: 1024 });
    const { stream, pulled } = endlessBody();
    await h.error('PUT', entryPath('s', 'k'), 413, 'payload_too_large', {
      body: stream,
      headers: { 'content-length': String(10 * 1024 * 1024) },
    });
    expect(pulled()).toBeLessThanOrEqual(64 * 1024);
  });

  it('JSON bodies over maxJsonBodyBytes are 413, streamed or declared', async () => {
    const h = setup({ maxJsonBodyBytes: 4096 });
    await h.createStore('s');
    const items = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: b64('x'.repeat(30)) }));
    await h.error('POST', '/v1/stores/s/bulk/set', 413, 'payload_too_large', { json: { items } });
    const { stream } = endlessBody(1024);
    await h.error('POST', '/v1/stores/s/bulk/set', 413, 'payload_too_large', {
      body: stream,
      headers: { 'content-type': 'application/json' },
    });
    expect(await revisionOf(h)).toBe(0);
  });

  it('small JSON routes are bounded by maxBodyBytes', async () => {
    const h = setup({ maxBodyBytes: 100 });
    await h.error('POST', '/v1/stores', 413, 'payload_too_large', {
      json: { name: 's', padding: 'x'.repeat(200) },
    });
  });

  it('rejects a malformed Content-Length with 400', async () => {
    const h = setup();
    await h.createStore('s');
    const res = await h.call('PUT', entryPath('s', 'k'), { body: 'v', headers: { 'content-length': 'abc' } });
    expect(res.status).toBe(400);
  });

  it('metadata: 1024 bytes pass, 1025 bytes are 400', async () => {
    const h = setup();
    await h.createStore('s');
    const meta = (n: number): string => encodeURIComponent(JSON.stringify({ m: 'x'.repeat(n - 8) }));
    await h.put('s', 'ok', 'v', { 'kv-metadata': meta(1024) });
    const body = await h.error('PUT', entryPath('s', 'k'), 400, 'validation_error', {
      body: 'v',
      headers: { 'kv-metadata': meta(1025) },
    });
    expect(body.error.details).toMatchObject({ field: 'metadata', maxBytes: 1024 });
  });

  it('scopes: 16 pass, 17 are 400; a 65-character scope is 400', async () => {
    const h = setup();
    await h.createStore('s');
    const scopes = (n: number): string => Array.from({ length: n }, (_, i) => `s${i}`).join(',');
    await h.put('s', 'ok', 'v', { 'kv-scopes': scopes(16) });
    const body = await h.error('PUT', entryPath('s', 'k'), 400, 'validation_error', {
      body: 'v',
      headers: { 'kv-scopes': scopes(17) },
    });
    expect(body.error.details).toMatchObject({ field: 'scopes', maxItems: 16 });
    await h.error('PUT', entryPath('s', 'k'), 400, 'validation_error', {
      body: 'v',
      headers: { 'kv-scopes': 'x'.repeat(65) },
    });
  });

  it('list limit: 1000 passes, 1001 and 0 are 400', async () => {
    const h = setup();
    await h.createStore('s');
    await h.json('GET', '/v1/stores/s/entries?limit=1000', 200);
    await h.error('GET', '/v1/stores/s/entries?limit=1001', 400, 'validation_error');
    await h.error('GET', '/v1/stores/s/entries?limit=0', 400, 'validation_error');
  });

  it('bulk size: 10,000 items pass, 10,001 are 413 (get, set, delete, atomic)', async () => {
    const h = setup();
    await h.createStore('s');
    const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `k${i}`);
    const set = (n: number) => ({ items: keys(n).map((key) => ({ key, value: '' })) });
    const ok = await h.json<{ successfulKeyCount: number }>('POST', '/v1/stores/s/bulk/set', 200, {
      json: set(LIMITS.maxBulkItems),
    });
    expect(ok.successfulKeyCount).toBe(10_000);
    const before = await revisionOf(h);
    for (const [path, json] of [
      ['bulk/set', set(10_001)],
      ['bulk/get', { keys: keys(10_001) }],
      ['bulk/delete', { keys: keys(10_001) }],
      ['atomic', { mutations: keys(10_001).map((key) => ({ type: 'delete', key })) }],
      ['atomic', { checks: keys(10_001).map((key) => ({ key, revision: null })), mutations: [] }],
    ] as const) {
      const body = await h.error('POST', `/v1/stores/s/${path}`, 413, 'payload_too_large', { json });
      expect(body.error.details).toMatchObject({ maxItems: 10_000 });
    }
    expect(await revisionOf(h)).toBe(before);
    await h.json('POST', '/v1/stores/s/bulk/get', 200, { json: { keys: keys(10_000), values: false } });
  });
});

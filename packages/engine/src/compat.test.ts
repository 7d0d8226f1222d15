/**
 * The compatibility APIs (docs/compat.md) in process, through `engine.fetch` on `MemoryStorage`: the
 * engine is storage-agnostic and its Web transport decodes bodies with `DecompressionStream`. The
 * official SDKs run against the server process in `apps/server/test/compat-*.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { setup } from '../test/harness.js';
import { apifySignature } from './handlers/compat-apify.js';

const CF = '/client/v4/accounts/acc/storage/kv/namespaces';

async function compress(format: 'gzip' | 'deflate', text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe('Cloudflare KV REST on the engine', () => {
  it('writes through the native path: bracketed metadata, a %2F key, read back natively', async () => {
    const h = setup();
    await h.createStore('ns');
    const form = new FormData();
    form.append('value', 'hello');
    form.append('metadata[owner]', 'alice');
    form.append('metadata[nested][a]', 'x');
    form.append('metadata[list][]', '1');
    form.append('metadata[list][]', '2');
    const put = await h.call('PUT', `${CF}/ns/values/a%2Fb?expiration_ttl=120`, { body: form });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ success: true, errors: [], messages: [], result: {} });
    const native = await h.call('GET', '/v1/stores/ns/entries/a%2Fb');
    expect(await native.text()).toBe('hello');
    expect(native.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(native.headers.get('kv-expires-at')).toBe(new Date(h.now() + 120_000).toISOString());
    expect(JSON.parse(decodeURIComponent(native.headers.get('kv-metadata') ?? ''))).toEqual({
      owner: 'alice',
      nested: { a: 'x' },
      list: ['1', '2'],
    });
    const value = await h.call('GET', `${CF}/ns/values/a%2Fb`);
    expect(value.headers.get('content-type')).toBe('application/octet-stream');
    expect(await value.text()).toBe('hello');
    // A raw body keeps its content type.
    await h.call('PUT', `${CF}/ns/values/raw`, {
      body: '{"j":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(await h.json('GET', '/v1/stores/ns/entries/raw', 200)).toEqual({ j: 1 });
  });

  it("answers errors in Cloudflare's envelope and changes nothing", async () => {
    const h = setup();
    const missing = await h.call('GET', `${CF}/nope/values/k`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      success: false,
      errors: [{ code: 10013, message: 'Store "nope" not found' }],
      messages: [],
      result: null,
    });
    await h.createStore('ns');
    const badMeta = new FormData();
    badMeta.append('value', 'v');
    badMeta.append('metadata', '"a string"');
    const refused = await h.call('PUT', `${CF}/ns/values/k`, { body: badMeta });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: Array<{ code: number }> }).errors[0]?.code).toBe(10012);
    const limit = await h.call('GET', `${CF}/ns/keys?limit=5000`);
    expect(((await limit.json()) as { errors: Array<{ code: number }> }).errors[0]?.code).toBe(10028);
    expect((await h.call('GET', '/v1/stores/ns/entries/k')).status).toBe(404);
  });
});

describe('Apify API v2 on the engine', () => {
  it('decodes gzip and deflate bodies with DecompressionStream; keys may hold / unencoded', async () => {
    const h = setup();
    await h.createStore('st');
    for (const format of ['gzip', 'deflate'] as const) {
      const res = await h.call('PUT', `/v2/key-value-stores/st/records/dir/${format}`, {
        body: await compress(format, `{"format":"${format}"}`),
        headers: { 'content-type': 'application/json', 'content-encoding': format },
      });
      expect(res.status).toBe(201);
      expect(await h.json('GET', `/v1/stores/st/entries/dir%2F${format}`, 200)).toEqual({ format });
    }
    const rec = await h.call('GET', '/v2/key-value-stores/st/records/dir%2Fgzip');
    expect(await rec.json()).toEqual({ format: 'gzip' });
  });

  it('answers 404 record-not-found in the {error: {type}} shape', async () => {
    const h = setup();
    await h.createStore('st');
    const res = await h.call('GET', '/v2/key-value-stores/st/records/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { type: 'record-not-found', message: 'Key not found' } });
  });

  it("signs as @apify/utilities' createHmacSignature (vectors computed with @apify/utilities 2.35.11)", async () => {
    for (const [secret, message, signature] of [
      ['secret', 'OUTPUT', '1i8Igbei9uoBwpEshyavA'],
      ['k3y', 'dir/file.bin', '1hODbx4fLhWtwYoUVYYaR'],
      ['x', '0.0.my-store', '1BCTek1G7bc4cwiKeszfa'],
    ] as const) {
      expect(await apifySignature(secret, message)).toBe(signature);
    }
  });
});

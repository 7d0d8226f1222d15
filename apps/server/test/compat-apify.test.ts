/**
 * The Apify API v2 key-value stores on the real server process (docs/compat.md "Apify API v2"): the
 * official `apify-client` (`baseUrl` pointed at kv) runs unmodified against the built server on a SQLite
 * file, including its compressed uploads and its signed public URLs; what it writes is read back with kv's
 * own client (one store model).
 */
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { createStorageContentSignatureAsync } from '@apify/utilities';
import { createClient } from '@kv/node';
import { ApifyApiError, ApifyClient } from 'apify-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, type ServerProcess, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-compat-apify-');
let server: ServerProcess;

beforeAll(async () => {
  server = await startServer(['--data', join(tmp.dir, 'apify.sqlite')]);
});
afterAll(async () => {
  await server?.stop();
  tmp.remove();
});

function apify(token: string = ADMIN_TOKEN): ApifyClient {
  return new ApifyClient({ token, baseUrl: server.url, publicBaseUrl: server.url, maxRetries: 0 });
}

function kvStore(name: string) {
  return createClient({ url: server.url, token: ADMIN_TOKEN, env: {} }).store(name);
}

async function tokenWith(capabilities: string[]): Promise<string> {
  const res = await call(`${server.url}/v1/tokens`, { method: 'POST', json: { capabilities } });
  expect(res.status).toBe(201);
  return (res.body as { token: string }).token;
}

describe('the official apify-client against kv', () => {
  it('gets or creates, gets, lists, updates (same name only) and deletes stores', async () => {
    const client = apify();
    const store = await client.keyValueStores().getOrCreate('apify-store');
    expect(store).toMatchObject({ id: 'apify-store', name: 'apify-store' });
    expect(store.createdAt).toBeInstanceOf(Date);
    expect(typeof store.urlSigningSecretKey).toBe('string');
    expect((await client.keyValueStores().getOrCreate('apify-store')).id).toBe('apify-store');
    await client.keyValueStores().getOrCreate('apify-other');
    const list = await client.keyValueStores().list();
    expect(list.items.map((s) => s.name)).toEqual(expect.arrayContaining(['apify-store', 'apify-other']));
    expect(list.total).toBe(list.items.length);
    expect(await client.keyValueStore('apify-store').get()).toMatchObject({ id: 'apify-store' });
    expect(await client.keyValueStore('no-such-store').get()).toBeUndefined();
    expect(await client.keyValueStore('apify-store').update({ name: 'apify-store' })).toMatchObject({
      name: 'apify-store',
    });
    const rename = await client
      .keyValueStore('apify-store')
      .update({ name: 'renamed' })
      .catch((e) => e);
    expect(rename).toBeInstanceOf(ApifyApiError);
    expect(rename.type).toBe('invalid-input');
    await client.keyValueStore('apify-other').delete();
    expect(await client.keyValueStore('apify-other').get()).toBeUndefined();
    // The store is kv's: the native API sees it.
    expect((await call(`${server.url}/v1/stores/apify-store`)).status).toBe(200);
  });

  it('writes and reads JSON, text and binary records, keys holding /, HEAD and 404 record-not-found', async () => {
    const s = apify().keyValueStore('apify-store');
    await s.setRecord({ key: 'OUTPUT', value: { crawled: 3, ok: true } });
    await s.setRecord({ key: 'readme', value: 'plain text' });
    // setRecord documents and sends a Buffer as its bytes; its declared type lists JSON values only.
    const bytes = Buffer.from([0, 1, 254, 255]) as unknown as string;
    await s.setRecord({ key: 'dir/sub/file.bin', value: bytes });
    expect(await s.getRecord('OUTPUT')).toEqual({
      key: 'OUTPUT',
      value: { crawled: 3, ok: true },
      contentType: 'application/json; charset=utf-8',
    });
    expect(await s.getRecord('readme')).toMatchObject({
      value: 'plain text',
      contentType: 'text/plain; charset=utf-8',
    });
    const bin = await s.getRecord('dir/sub/file.bin', { buffer: true });
    expect(bin?.contentType).toBe('application/octet-stream');
    expect([...((bin?.value ?? Buffer.alloc(0)) as Buffer)]).toEqual([0, 1, 254, 255]);
    // kv's client sees the same entries; the key kept its slashes.
    const kv = kvStore('apify-store');
    expect(await kv.getJson('OUTPUT')).toEqual({ crawled: 3, ok: true });
    expect([...((await kv.getBytes('dir/sub/file.bin')) ?? [])]).toEqual([0, 1, 254, 255]);
    expect(await s.recordExists('readme')).toBe(true);
    expect(await s.recordExists('nope')).toBe(false);
    expect(await s.getRecord('nope')).toBeUndefined();
    const raw = await call(`${server.url}/v2/key-value-stores/apify-store/records/nope`);
    expect(raw.status).toBe(404);
    expect(raw.body).toMatchObject({ error: { type: 'record-not-found' } });
    await s.deleteRecord('readme');
    expect(await s.getRecord('readme')).toBeUndefined();
  });

  it('lists keys with prefix, limit, exclusiveStartKey, isTruncated and nextExclusiveStartKey', async () => {
    const client = apify();
    await client.keyValueStores().getOrCreate('apify-keys');
    const s = client.keyValueStore('apify-keys');
    for (const k of ['a-1', 'a-2', 'a-3', 'a-4', 'a-5', 'b-1']) await s.setRecord({ key: k, value: k });
    const first = await s.listKeys({ prefix: 'a-', limit: 2 });
    expect(first.items.map((i) => i.key)).toEqual(['a-1', 'a-2']);
    expect(first.items[0]?.size).toBe(3);
    expect(first.isTruncated).toBe(true);
    expect(first.nextExclusiveStartKey).toBe('a-2');
    const next = await s.listKeys({ prefix: 'a-', limit: 10, exclusiveStartKey: 'a-2' });
    expect(next.items.map((i) => i.key)).toEqual(['a-3', 'a-4', 'a-5']);
    expect(next.isTruncated).toBe(false);
    expect(next.nextExclusiveStartKey).toBeNull();
    const all: string[] = [];
    // The SDK's iterator: `limit` caps the total it yields; without it, every key.
    for await (const item of s.listKeys()) all.push(item.key);
    expect(all).toEqual(['a-1', 'a-2', 'a-3', 'a-4', 'a-5', 'b-1']);
    const capped: string[] = [];
    for await (const item of s.listKeys({ limit: 4 })) capped.push(item.key);
    expect(capped).toEqual(['a-1', 'a-2', 'a-3', 'a-4']);
  });

  it('accepts the br bodies the SDK sends from 1 KiB, and gzip bodies', async () => {
    const s = apify().keyValueStore('apify-store');
    const big = 'x'.repeat(50_000);
    await s.setRecord({ key: 'big-text', value: big });
    expect(await kvStore('apify-store').getText('big-text')).toBe(big);
    const gz = await call(`${server.url}/v2/key-value-stores/apify-store/records/gz`, {
      method: 'PUT',
      body: gzipSync(Buffer.from('{"gz":true}')),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(gz.status).toBe(201);
    expect(await kvStore('apify-store').getJson('gz')).toEqual({ gz: true });
    const bad = await call(`${server.url}/v2/key-value-stores/apify-store/records/bad`, {
      method: 'PUT',
      body: 'not gzip',
      headers: { 'content-encoding': 'gzip' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { type: 'invalid-input' } });
    // brotli is decoded by the Node transport (Node 20's DecompressionStream has none).
    const badBr = await call(`${server.url}/v2/key-value-stores/apify-store/records/bad`, {
      method: 'PUT',
      body: 'not brotli at all',
      headers: { 'content-encoding': 'br' },
    });
    expect(badBr.status).toBe(400);
    expect(await kvStore('apify-store').exists('bad')).toBe(false);
  });

  it('refuses a gzip or brotli bomb with 413 after the body limit, writing nothing', async () => {
    // 32 MiB of zeros, past the default 26 MiB body limit, in a few KiB on the wire.
    const zeros = Buffer.alloc(32 * 1024 * 1024);
    for (const [encoding, body] of [
      ['gzip', gzipSync(zeros, { level: 9 })],
      ['br', brotliCompressSync(zeros, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } })],
    ] as const) {
      expect(body.byteLength).toBeLessThan(200_000);
      const res = await call(`${server.url}/v2/key-value-stores/apify-store/records/bomb-${encoding}`, {
        method: 'PUT',
        body,
        headers: { 'content-type': 'application/octet-stream', 'content-encoding': encoding },
      });
      expect(res.status, encoding).toBe(413);
      expect(res.body).toMatchObject({ error: { type: 'request-too-large' } });
      expect(await kvStore('apify-store').exists(`bomb-${encoding}`)).toBe(false);
    }
    const unknown = await call(`${server.url}/v2/key-value-stores/apify-store/records/zstd`, {
      method: 'PUT',
      body: 'x',
      headers: { 'content-encoding': 'zstd' },
    });
    expect(unknown.status).toBe(415);
  });

  it('signs public URLs as the SDK does; the server verifies them without a token', async () => {
    const s = apify().keyValueStore('apify-store');
    const recordUrl = await s.getRecordPublicUrl('OUTPUT');
    expect(recordUrl).toMatch(
      /\/v2\/key-value-stores\/apify-store\/records\/OUTPUT\?signature=[0-9a-zA-Z]+$/,
    );
    const open = await call(recordUrl, { token: null });
    expect(open.status).toBe(200);
    expect(open.body).toEqual({ crawled: 3, ok: true });
    // The signature is the key's: another key, or a changed signature, is refused.
    const other = await call(recordUrl.replace('/OUTPUT?', '/big-text?'), { token: null });
    expect(other.status).toBe(401);
    const tampered = await call(`${recordUrl.slice(0, -1)}${recordUrl.endsWith('a') ? 'b' : 'a'}`, {
      token: null,
    });
    expect(tampered.status).toBe(401);
    expect(tampered.body).toMatchObject({ error: { type: 'token-not-valid' } });
    const write = await call(recordUrl, { method: 'PUT', body: 'x', token: null });
    expect(write.status).toBe(401);
    // Public answers carry the signed-URL headers: a value that could run script is a download.
    expect(open.headers.get('x-content-type-options')).toBe('nosniff');
    expect(open.headers.get('access-control-allow-origin')).toBe('*');
    await s.setRecord({ key: 'page.html', value: '<script>alert(1)</script>', contentType: 'text/html' });
    const html = await call(await s.getRecordPublicUrl('page.html'), { token: null });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-disposition')).toBe('attachment');
    const slashUrl = await s.getRecordPublicUrl('dir/sub/file.bin');
    expect((await call(slashUrl, { token: null })).status).toBe(200);

    const keysUrl = await s.createKeysPublicUrl({ expiresInSecs: 600, prefix: 'dir/' });
    const keys = await call(keysUrl, { token: null });
    expect(keys.status).toBe(200);
    expect((keys.body as { data: { items: Array<{ key: string }> } }).data.items.map((i) => i.key)).toEqual([
      'dir/sub/file.bin',
    ]);
    const forever = await s.createKeysPublicUrl();
    expect((await call(forever, { token: null })).status).toBe(200);
    // An expired keys URL, signed with the store's key as the SDK signs it.
    const store = await apify().keyValueStore('apify-store').get();
    const expired = await createStorageContentSignatureAsync({
      resourceId: 'apify-store',
      urlSigningSecretKey: store?.urlSigningSecretKey as string,
      expiresInMillis: -60_000,
    });
    const stale = await call(`${server.url}/v2/key-value-stores/apify-store/keys?signature=${expired}`, {
      token: null,
    });
    expect(stale.status).toBe(401);
    // Another store's URL does not open this one.
    const elsewhere = await call(keysUrl.replace('/apify-store/', '/apify-keys/'), { token: null });
    expect(elsewhere.status).toBe(401);
    // Rotating the store's signing secret revokes every URL signed before.
    expect(
      (await call(`${server.url}/v1/stores/apify-store/signing-secret`, { method: 'POST', json: {} })).status,
    ).toBe(200);
    expect((await call(recordUrl, { token: null })).status).toBe(401);
  });

  it("applies the bearer token's capabilities: 403 insufficient-permissions, no signing key without sign", async () => {
    const reader = apify(await tokenWith(['kv[apify-store]:get']));
    const s = reader.keyValueStore('apify-store');
    expect((await s.getRecord('OUTPUT'))?.value).toEqual({ crawled: 3, ok: true });
    const write = await s.setRecord({ key: 'denied', value: 'x' }).catch((e) => e);
    expect(write).toBeInstanceOf(ApifyApiError);
    expect(write.statusCode).toBe(403);
    expect(write.type).toBe('insufficient-permissions');
    expect(await kvStore('apify-store').exists('denied')).toBe(false);
    const info = await s.get();
    expect(info?.id).toBe('apify-store');
    expect(info?.urlSigningSecretKey).toBeUndefined();
    // Without the key the SDK hands out an unsigned URL, which needs a token.
    const unsigned = await s.getRecordPublicUrl('OUTPUT');
    expect(unsigned).not.toContain('signature=');
    expect((await call(unsigned, { token: null })).status).toBe(401);
    const create = await reader
      .keyValueStores()
      .getOrCreate('apify-new')
      .catch((e) => e);
    expect(create).toBeInstanceOf(ApifyApiError);
    expect(create.statusCode).toBe(403);
  });
});

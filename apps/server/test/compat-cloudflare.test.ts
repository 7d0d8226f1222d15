/**
 * The Cloudflare Workers KV REST API on the real server process (docs/compat.md "Cloudflare KV REST API"):
 * the official `cloudflare` SDK (`baseURL` pointed at kv) and unstorage's `cloudflare-kv-http` driver run
 * unmodified against the built server on a SQLite file; what they write is read back with kv's own client
 * (one store model).
 */
import { join } from 'node:path';
import { createClient } from '@kv/node';
import Cloudflare from 'cloudflare';
import { createStorage } from 'unstorage';
import cloudflareKVHTTPDriver from 'unstorage/drivers/cloudflare-kv-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, type ServerProcess, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-compat-cf-');
let server: ServerProcess;
const account_id = 'any-account';

beforeAll(async () => {
  server = await startServer(['--data', join(tmp.dir, 'cf.sqlite')]);
});
afterAll(async () => {
  await server?.stop();
  tmp.remove();
});

function sdk(token: string = ADMIN_TOKEN): Cloudflare {
  return new Cloudflare({ apiToken: token, baseURL: `${server.url}/client/v4`, maxRetries: 0 });
}

/** A token with just these capabilities. */
async function tokenWith(capabilities: string[]): Promise<string> {
  const res = await call(`${server.url}/v1/tokens`, { method: 'POST', json: { capabilities } });
  expect(res.status).toBe(201);
  return (res.body as { token: string }).token;
}

describe('the official cloudflare SDK against kv', () => {
  it('creates, gets, lists, renames (same title only) and deletes namespaces', async () => {
    const cf = sdk();
    const created = await cf.kv.namespaces.create({ account_id, title: 'cf-ns' });
    expect(created).toEqual({ id: 'cf-ns', title: 'cf-ns', supports_url_encoding: true });
    expect(await cf.kv.namespaces.get('cf-ns', { account_id })).toMatchObject({ id: 'cf-ns' });
    await cf.kv.namespaces.create({ account_id, title: 'cf-other' });
    // The SDK follows `page` until an empty page.
    const titles: string[] = [];
    for await (const ns of cf.kv.namespaces.list({ account_id, per_page: 1 })) titles.push(ns.title);
    expect(titles).toEqual(expect.arrayContaining(['cf-ns', 'cf-other']));
    expect(await cf.kv.namespaces.update('cf-ns', { account_id, title: 'cf-ns' })).toMatchObject({
      id: 'cf-ns',
    });
    const rename = await cf.kv.namespaces.update('cf-ns', { account_id, title: 'renamed' }).catch((e) => e);
    expect(rename).toBeInstanceOf(Cloudflare.BadRequestError);
    expect(rename.errors[0].code).toBe(10012);
    const exists = await cf.kv.namespaces.create({ account_id, title: 'cf-ns' }).catch((e) => e);
    expect(exists).toBeInstanceOf(Cloudflare.APIError);
    expect(exists.errors[0].code).toBe(10014);
    await cf.kv.namespaces.delete('cf-other', { account_id });
    const gone = await cf.kv.namespaces.get('cf-other', { account_id }).catch((e) => e);
    expect(gone).toBeInstanceOf(Cloudflare.NotFoundError);
    expect(gone.errors[0]).toMatchObject({ code: 10013 });
    // The store is kv's: the native API sees it.
    expect((await call(`${server.url}/v1/stores/cf-ns`)).status).toBe(200);
  });

  it('writes a value with bracketed metadata, reads it as octet-stream, a key with / stays one key', async () => {
    const cf = sdk();
    const namespace_id = 'cf-ns';
    await cf.kv.namespaces.values.update('dir/file', {
      account_id,
      namespace_id,
      value: 'hello',
      metadata: { owner: 'alice', tags: { a: 'x' } },
    });
    const res = await cf.kv.namespaces.values.get('dir/file', { account_id, namespace_id });
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(await res.text()).toBe('hello');
    expect(await cf.kv.namespaces.metadata.get('dir/file', { account_id, namespace_id })).toEqual({
      owner: 'alice',
      tags: { a: 'x' },
    });
    // kv's own client reads the same entry (one store model): the %2F kept the key whole.
    const kv = createClient({ url: server.url, token: ADMIN_TOKEN, env: {} }).store(namespace_id);
    const entry = await kv.getEntry('dir/file');
    expect(entry?.metadata).toEqual({ owner: 'alice', tags: { a: 'x' } });
    expect(await kv.getText('dir/file')).toBe('hello');
    // metadata as a JSON string keeps its types (the SDK's bracketed form sends strings).
    await cf.kv.namespaces.values.update('typed', {
      account_id,
      namespace_id,
      value: 'v',
      metadata: JSON.stringify({ n: 1, ok: true }),
    });
    expect(await cf.kv.namespaces.metadata.get('typed', { account_id, namespace_id })).toEqual({
      n: 1,
      ok: true,
    });
    // A file value keeps its bytes.
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await cf.kv.namespaces.values.update('bin', {
      account_id,
      namespace_id,
      value: new File([bytes], 'bin', { type: 'application/octet-stream' }),
    });
    const bin = await cf.kv.namespaces.values.get('bin', { account_id, namespace_id });
    expect(new Uint8Array(await bin.arrayBuffer())).toEqual(bytes);
  });

  it('applies expiration_ttl and expiration, listed as epoch seconds', async () => {
    const cf = sdk();
    const namespace_id = 'cf-ns';
    const now = Math.floor(Date.now() / 1000);
    await cf.kv.namespaces.values.update('exp/ttl', {
      account_id,
      namespace_id,
      value: 'x',
      expiration_ttl: 600,
    });
    await cf.kv.namespaces.values.update('exp/at', {
      account_id,
      namespace_id,
      value: 'y',
      expiration: now + 3600,
    });
    const keys: Array<{ name: string; expiration?: number }> = [];
    for await (const k of cf.kv.namespaces.keys.list('cf-ns', { account_id, prefix: 'exp/' })) keys.push(k);
    expect(keys.map((k) => k.name)).toEqual(['exp/at', 'exp/ttl']);
    expect(keys[0]?.expiration).toBe(now + 3600);
    expect(keys[1]?.expiration).toBeGreaterThanOrEqual(now + 599);
    expect(keys[1]?.expiration).toBeLessThanOrEqual(now + 602);
    const bad = await cf.kv.namespaces.values
      .update('exp/bad', { account_id, namespace_id, value: 'z', expiration_ttl: -5 })
      .catch((e) => e);
    expect(bad).toBeInstanceOf(Cloudflare.BadRequestError);
    const missing = await cf.kv.namespaces.values
      .get('exp/bad', { account_id, namespace_id })
      .catch((e) => e);
    expect(missing).toBeInstanceOf(Cloudflare.NotFoundError);
  });

  it('lists keys page by page with prefix, limit and cursor; the last page has cursor ""', async () => {
    const cf = sdk();
    const namespace_id = 'cf-ns';
    for (let i = 0; i < 25; i++) {
      await cf.kv.namespaces.values.update(`page/${String(i).padStart(2, '0')}`, {
        account_id,
        namespace_id,
        value: String(i),
      });
    }
    const names: string[] = [];
    for await (const k of cf.kv.namespaces.keys.list(namespace_id, {
      account_id,
      prefix: 'page/',
      limit: 10,
    })) {
      names.push(k.name);
    }
    expect(names).toEqual(Array.from({ length: 25 }, (_, i) => `page/${String(i).padStart(2, '0')}`));
    const base = `${server.url}/client/v4/accounts/${account_id}/storage/kv/namespaces/${namespace_id}/keys`;
    const first = (await call(`${base}?prefix=page/&limit=20`)).body as {
      success: boolean;
      result: unknown[];
      result_info: { count: number; cursor: string };
    };
    expect(first.success).toBe(true);
    expect(first.result_info.count).toBe(20);
    expect(first.result_info.cursor).not.toBe('');
    const last = (
      await call(`${base}?prefix=page/&limit=20&cursor=${encodeURIComponent(first.result_info.cursor)}`)
    ).body as { result: unknown[]; result_info: { count: number; cursor: string } };
    expect(last.result_info).toEqual({ count: 5, cursor: '' });
  });

  it('deletes a value: a later read is 404 with code 10009', async () => {
    const cf = sdk();
    const namespace_id = 'cf-ns';
    await cf.kv.namespaces.values.update('gone', { account_id, namespace_id, value: 'x' });
    await cf.kv.namespaces.values.delete('gone', { account_id, namespace_id });
    const err = await cf.kv.namespaces.values.get('gone', { account_id, namespace_id }).catch((e) => e);
    expect(err).toBeInstanceOf(Cloudflare.NotFoundError);
    expect(err.errors[0]).toMatchObject({ code: 10009 });
    // Deleting a missing key succeeds, as on Cloudflare.
    await cf.kv.namespaces.values.delete('gone', { account_id, namespace_id });
  });

  it('bulk writes (text and base64), bulk reads (text, json, with metadata) and bulk deletes', async () => {
    const cf = sdk();
    await cf.kv.namespaces.create({ account_id, title: 'cf-bulk' });
    const put = await cf.kv.namespaces.bulkUpdate('cf-bulk', {
      account_id,
      body: [
        { key: 'a', value: '{"n":1}', metadata: { m: 1 } },
        { key: 'b', value: btoa('"two"'), base64: true },
        { key: 'c', value: 'plain' },
      ],
    });
    expect(put).toEqual({ successful_key_count: 3, unsuccessful_keys: [] });
    const text = await cf.kv.namespaces.bulkGet('cf-bulk', { account_id, keys: ['a', 'c', 'nope'] });
    expect(text).toEqual({ values: { a: '{"n":1}', c: 'plain', nope: null } });
    const json = await cf.kv.namespaces.bulkGet('cf-bulk', {
      account_id,
      keys: ['a', 'b'],
      type: 'json',
      withMetadata: true,
    });
    expect(json).toEqual({
      values: { a: { value: { n: 1 }, metadata: { m: 1 } }, b: { value: 'two', metadata: null } },
    });
    const notJson = await cf.kv.namespaces
      .bulkGet('cf-bulk', { account_id, keys: ['c'], type: 'json' })
      .catch((e) => e);
    expect(notJson).toBeInstanceOf(Cloudflare.BadRequestError);
    const del = await cf.kv.namespaces.bulkDelete('cf-bulk', { account_id, body: ['a', 'b'] });
    expect(del).toEqual({ successful_key_count: 2, unsuccessful_keys: [] });
    expect(await cf.kv.namespaces.bulkGet('cf-bulk', { account_id, keys: ['a', 'b', 'c'] })).toEqual({
      values: { a: null, b: null, c: 'plain' },
    });
  });

  it('takes 10,000 items per bulk write and refuses 10,001 with 413 (code 10024), writing nothing', async () => {
    const cf = sdk();
    await cf.kv.namespaces.create({ account_id, title: 'cf-big' });
    const body = Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    expect(await cf.kv.namespaces.bulkUpdate('cf-big', { account_id, body })).toEqual({
      successful_key_count: 10_000,
      unsuccessful_keys: [],
    });
    const over = await cf.kv.namespaces
      .bulkUpdate('cf-big', { account_id, body: [...body, { key: 'extra', value: 'x' }] })
      .catch((e) => e);
    expect(over).toBeInstanceOf(Cloudflare.APIError);
    expect(over.status).toBe(413);
    expect(over.errors[0]).toMatchObject({ code: 10024 });
    const store = (await call(`${server.url}/v1/stores/cf-big`)).body as { keyCount: number };
    expect(store.keyCount).toBe(10_000);
  });

  it("applies the bearer token's capabilities: 403 in Cloudflare's shape (code 10000)", async () => {
    const reader = sdk(await tokenWith(['kv[cf-ns]:get']));
    const res = await reader.kv.namespaces.values.get('dir/file', { account_id, namespace_id: 'cf-ns' });
    expect(await res.text()).toBe('hello');
    const write = await reader.kv.namespaces.values
      .update('denied', { account_id, namespace_id: 'cf-ns', value: 'x' })
      .catch((e) => e);
    expect(write).toBeInstanceOf(Cloudflare.PermissionDeniedError);
    expect(write.errors[0]).toMatchObject({ code: 10000 });
    const raw = await call(
      `${server.url}/client/v4/accounts/${account_id}/storage/kv/namespaces/cf-ns/values/denied`,
      {
        method: 'PUT',
        body: 'x',
        token: null,
        headers: { authorization: 'Bearer kv_wrong-token-000000000000' },
      },
    );
    expect(raw.status).toBe(401);
    expect(raw.body).toMatchObject({ success: false, result: null, errors: [{ code: 10000 }] });
    expect((await call(`${server.url}/v1/stores/cf-ns/entries/denied`)).status).toBe(404);
    const list = await reader.kv.namespaces.list({ account_id }).catch((e) => e);
    expect(list).toBeInstanceOf(Cloudflare.PermissionDeniedError);
  });
});

describe("unstorage's cloudflare-kv-http driver against kv", () => {
  it('sets, reads, checks, lists, removes and clears through the Cloudflare routes', async () => {
    await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'cf-unstorage' } });
    const storage = createStorage({
      driver: cloudflareKVHTTPDriver({
        accountId: account_id,
        namespaceId: 'cf-unstorage',
        apiToken: ADMIN_TOKEN,
        apiURL: server.url,
      }),
    });
    await storage.setItem('a:one', 'first');
    await storage.setItem('a:two', { n: 2 });
    await storage.setItem('b:three', 3, { ttl: 120 });
    expect(await storage.getItem('a:one')).toBe('first');
    expect(await storage.getItem('a:two')).toEqual({ n: 2 });
    expect(await storage.getItem('b:three')).toBe(3);
    expect(await storage.getItem('missing')).toBeNull();
    expect(await storage.hasItem('a:one')).toBe(true);
    expect(await storage.hasItem('missing')).toBe(false);
    expect((await storage.getKeys()).sort()).toEqual(['a:one', 'a:two', 'b:three']);
    expect((await storage.getKeys('a')).sort()).toEqual(['a:one', 'a:two']);
    const kv = createClient({ url: server.url, token: ADMIN_TOKEN, env: {} }).store('cf-unstorage');
    expect((await kv.getEntry('b:three'))?.expiresAt).not.toBeNull();
    await storage.removeItem('a:one');
    expect(await storage.hasItem('a:one')).toBe(false);
    await storage.clear();
    expect(await storage.getKeys()).toEqual([]);
  });
});

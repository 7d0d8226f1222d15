/**
 * The client's access control API (issue 7) against the engine with tokens, in-process and over real
 * HTTP: `client.tokens.*`, 401/403 as `UnauthenticatedError`/`UnauthorizedError`, scoped tokens,
 * `createRecordUrl` / `createKeysUrl` opened with a plain `fetch` and no token, `rotateSigningSecret`.
 */
import { type FetchLike, UnauthenticatedError, UnauthorizedError, ValidationError } from '@kv/core';
import { ensureToken, MemoryTokenStore } from '@kv/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type NodeKvClient } from '../src/index.js';
import { inProcessEngine, serveOverHttp } from './helpers.js';

const ADMIN_SECRET = 'admin-secret-for-client-tests';

async function rig(): Promise<{
  fetch: FetchLike;
  url: string;
  admin: NodeKvClient;
  as(token: string | undefined): NodeKvClient;
  sent: string[];
  engine: ReturnType<typeof inProcessEngine>['engine'];
}> {
  const tokens = new MemoryTokenStore();
  const { engine, fetch: inner, url } = inProcessEngine({ auth: { tokens } });
  await ensureToken(tokens, { secret: ADMIN_SECRET, capabilities: ['*'] }, Date.now());
  const sent: string[] = [];
  const fetch: FetchLike = (input, init) => {
    const request = new Request(input, init);
    sent.push(`${request.method} ${new URL(request.url).pathname}`);
    return inner(request);
  };
  const as = (token: string | undefined): NodeKvClient =>
    createClient({ url, fetch, env: {}, retry: false, ...(token === undefined ? {} : { token }) });
  return { fetch, url, admin: as(ADMIN_SECRET), as, sent, engine };
}

describe('client.tokens', () => {
  it('create (secret once), list (no secrets), revoke (effective on the next request)', async () => {
    const { admin, as } = await rig();
    await admin.stores.create('orders');
    await admin.store('orders').set('a', 'A');
    const created = await admin.tokens.create({
      capabilities: ['kv[orders]:get'],
      description: 'reader',
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(created.token).toMatch(/^kv_/);
    expect(created).toMatchObject({
      capabilities: ['kv[orders]:get'],
      description: 'reader',
      revokedAt: null,
    });
    expect(Date.parse(created.expiresAt as string)).toBeGreaterThan(Date.now());
    const list = await admin.tokens.list();
    expect(list.map((t) => t.id)).toContain(created.id);
    expect(JSON.stringify(list)).not.toContain(created.token);
    const reader = as(created.token);
    expect(await reader.store('orders').get('a')).toBe('A');
    await expect(reader.store('orders').set('a', 'B')).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(reader.stores.list()).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    // A token may look at the store it uses.
    expect((await reader.stores.get('orders'))?.name).toBe('orders');
    expect(await admin.tokens.revoke(created.id)).toBe(true);
    expect(await admin.tokens.revoke(created.id)).toBe(false);
    await expect(reader.store('orders').get('a')).rejects.toBeInstanceOf(UnauthenticatedError);
    expect((await admin.tokens.list()).find((t) => t.id === created.id)?.revokedAt).not.toBeNull();
  });

  it('malformed capabilities are a ValidationError before anything is sent', async () => {
    const { admin, sent } = await rig();
    for (const capabilities of [['kv:read'], ['kv[orders]get'], []]) {
      sent.length = 0;
      await expect(admin.tokens.create({ capabilities })).rejects.toBeInstanceOf(ValidationError);
      expect(sent).toEqual([]);
    }
    await expect(
      admin.tokens.create({ capabilities: ['kv:get'], expiresAt: Date.now() - 1000 }),
    ).rejects.toMatchObject({ code: 'validation_error', status: 400 });
  });

  it('no token and unknown tokens are UnauthenticatedError; onError sees them', async () => {
    const { url, fetch } = await rig();
    const seen: string[] = [];
    const anonymous = createClient({ url, fetch, env: {}, retry: false, onError: (e) => seen.push(e.code) });
    await expect(anonymous.stores.list()).rejects.toBeInstanceOf(UnauthenticatedError);
    const bogus = createClient({ url, fetch, env: {}, retry: false, token: 'kv_bogus' });
    await expect(bogus.store('orders').exists('a')).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(seen).toEqual(['unauthenticated']);
  });
});

describe('scoped tokens through the client', () => {
  it('reads, listings and bulk reads are limited to the scopes; writes need every scope', async () => {
    const { admin, as } = await rig();
    await admin.stores.create('orders');
    const orders = admin.store('orders');
    await orders.set('a', 'A', { scopes: ['billing'] });
    await orders.set('b', 'B', { scopes: ['ops'] });
    await orders.set('c', 'C', { scopes: ['billing', 'ops'] });
    const { token } = await admin.tokens.create({ capabilities: ['kv[orders:billing]:*'] });
    const scoped = as(token).store('orders');
    expect(await scoped.get('a')).toBe('A');
    // Out of scope and missing look the same: 403, never undefined.
    const out = await scoped.get('b').catch((e: unknown) => e);
    const missing = await scoped.get('zz').catch((e: unknown) => e);
    expect(out).toBeInstanceOf(UnauthorizedError);
    expect(missing).toBeInstanceOf(UnauthorizedError);
    expect((missing as Error).message).toBe((out as Error).message);
    const keys: string[] = [];
    for await (const key of scoped.keys()) keys.push(key);
    expect(keys).toEqual(['a', 'c']);
    const many = await scoped.getMany(['a', 'b', 'c']);
    expect([...many.entries()].map(([k, v]) => [k, v?.value])).toEqual([
      ['a', 'A'],
      ['b', undefined],
      ['c', 'C'],
    ]);
    await expect(scoped.set('new', 'x', { scopes: ['billing', 'ops'] })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    await expect(scoped.set('c', 'x', { scopes: ['billing'] })).rejects.toBeInstanceOf(UnauthorizedError);
    expect((await scoped.set('new', 'x', { scopes: ['billing'] })).created).toBe(true);
    const bulk = await scoped.setMany([
      { key: 'a', value: 1, scopes: ['billing'] },
      { key: 'b', value: 2, scopes: ['billing'] },
    ]);
    expect(bulk.unsuccessfulKeys).toEqual(['b']);
    expect(bulk.results[1]).toMatchObject({ ok: false, error: 'forbidden' });
  });
});

describe('signed URLs through the client', () => {
  it('createRecordUrl / createKeysUrl open with a plain fetch and no token; rotation ends them', async () => {
    const { admin, fetch } = await rig();
    await admin.stores.create('files');
    const files = admin.store('files');
    await files.set('report.json', { ok: true });
    await files.set('img/1', 'one');
    await files.set('img/2', 'two');
    const record = await files.createRecordUrl('report.json', { expiresInSecs: 600 });
    expect(record.url.startsWith('http://kv.test/v1/stores/files/entries/report.json?')).toBe(true);
    expect(Date.parse(record.expiresAt)).toBeGreaterThan(Date.now());
    const res = await fetch(record.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ ok: true });
    const keys = await files.createKeysUrl({ prefix: 'img/', limit: 10, expiresInSecs: 600 });
    const page = (await (await fetch(keys.url)).json()) as {
      items: Array<{ key: string }>;
      complete: boolean;
    };
    expect(page.items.map((i) => i.key)).toEqual(['img/1', 'img/2']);
    expect(page.complete).toBe(true);
    await files.rotateSigningSecret();
    expect((await fetch(record.url)).status).toBe(401);
    expect((await fetch(keys.url)).status).toBe(401);
    const put = await fetch(record.url, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(401);
  });

  it('validates options before sending and needs the sign capability', async () => {
    const { admin, as, sent } = await rig();
    await admin.stores.create('files');
    const files = admin.store('files');
    sent.length = 0;
    await expect(files.createRecordUrl('k', { expiresInSecs: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(files.createRecordUrl('k', { expiresInSecs: 604_801 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(files.createRecordUrl('bad key', { expiresInSecs: 60 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(files.createKeysUrl({ limit: 0, expiresInSecs: 60 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(sent).toEqual([]);
    const { token } = await admin.tokens.create({ capabilities: ['kv[files]:get'] });
    await expect(as(token).store('files').createKeysUrl({ expiresInSecs: 60 })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    await expect(as(token).store('files').rotateSigningSecret()).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('URLs are on the client base URL, path prefix included', async () => {
    const { engine } = await rig();
    // A proxy that serves the engine under /kv strips the prefix before the engine sees the request.
    const proxied: FetchLike = (input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      url.pathname = url.pathname.replace(/^\/kv/, '');
      return engine.fetch(new Request(url, request));
    };
    const admin = createClient({ url: 'http://proxy.test/kv', fetch: proxied, env: {}, token: ADMIN_SECRET });
    await admin.stores.create('p');
    await admin.store('p').set('k', 'v');
    const { url } = await admin.store('p').createRecordUrl('k', { expiresInSecs: 60 });
    expect(url.startsWith('http://proxy.test/kv/v1/stores/p/entries/k?')).toBe(true);
    expect(await (await proxied(url)).text()).toBe('v');
  });
});

describe('signed URLs over real HTTP', () => {
  let server: { url: string; close: () => Promise<void> };
  let admin: NodeKvClient;

  beforeAll(async () => {
    const { engine } = await rig();
    server = await serveOverHttp(engine);
    admin = createClient({ url: server.url, env: {}, token: ADMIN_SECRET });
  });
  afterAll(async () => {
    await server.close();
  });

  it('a browser-style cross-origin fetch reads the record, its headers exposed by CORS', async () => {
    await admin.stores.create('web');
    await admin.store('web').set('hello.txt', 'hello');
    const { url } = await admin.store('web').createRecordUrl('hello.txt', { expiresInSecs: 60 });
    const res = await globalThis.fetch(url, { headers: { origin: 'https://app.example' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('etag');
    const preflight = await globalThis.fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'if-none-match',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    const plain = await globalThis.fetch(url.replace('hello.txt', 'other.txt'));
    expect(plain.status).toBe(401);
  });
});

/**
 * Signed public URLs through Request/Response (issue 7; Apify getRecordPublicUrl / createKeysPublicUrl):
 * usable with no token, read-only, refused once expired, altered, rotated or moved to another store;
 * scoped signers publish only what they could read; CORS for plain browser `fetch`.
 */
import { describe, expect, it } from 'vitest';
import { entryPath, type Harness, ORIGIN, setup } from '../test/harness.js';
import { ensureToken, MemoryTokenStore } from './auth.js';
import { signUrl } from './signing.js';

const ADMIN = { authorization: 'Bearer admin-secret-0123456789' };

interface Signed {
  url: string;
  path: string;
  expiresAt: string;
}

async function rig(): Promise<
  Harness & { sign(body: unknown, headers?: Record<string, string>): Promise<Signed> }
> {
  const tokens = new MemoryTokenStore();
  const h = setup({ auth: { tokens }, publicUrl: ORIGIN });
  await ensureToken(tokens, { secret: 'admin-secret-0123456789', capabilities: ['*'] }, h.now());
  for (const name of ['orders', 'users']) {
    await h.json('POST', '/v1/stores', 201, { json: { name }, headers: ADMIN });
  }
  const put = (store: string, key: string, value: string, scopes?: string) =>
    h.call('PUT', entryPath(store, key), {
      body: value,
      headers: { ...ADMIN, 'content-type': 'text/plain', ...(scopes ? { 'kv-scopes': scopes } : {}) },
    });
  await put('orders', 'img/1.png', 'one', 'billing');
  await put('orders', 'img/2.png', 'two', 'ops');
  await put('orders', 'doc', 'three');
  await put('users', 'img/1.png', 'other store');
  const sign = (body: unknown, headers: Record<string, string> = ADMIN) =>
    h.json<Signed>('POST', '/v1/stores/orders/signed-urls', 200, { json: body, headers });
  return Object.assign(h, { sign });
}

/** A plain request to a signed URL: no token, as a browser would send it. */
function open(
  h: Harness,
  url: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<Response> {
  return h.engine.fetch(new Request(url, { method, headers }));
}

describe('signed record URLs', () => {
  it('read the record with no token until they expire, GET and HEAD, with CORS for any origin', async () => {
    const h = await rig();
    const signed = await h.sign({ kind: 'record', key: 'img/1.png', expiresInSecs: 3600 });
    expect(signed.url.startsWith(`${ORIGIN}/v1/stores/orders/entries/img%2F1.png?`)).toBe(true);
    expect(`${ORIGIN}${signed.path}`).toBe(signed.url);
    expect(Date.parse(signed.expiresAt)).toBe(Math.floor(h.now() / 1000) * 1000 + 3_600_000);
    const res = await open(h, signed.url, 'GET', { origin: 'https://example.org' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('one');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('kv-revision');
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(', ');
    expect(exposed).toContain('kv-error-code');
    expect(new Set(exposed).size).toBe(exposed.length);
    const head = await open(h, signed.url, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('3');
    const etag = res.headers.get('etag') as string;
    expect((await open(h, signed.url, 'GET', { 'if-none-match': etag })).status).toBe(304);
    h.advance(3_599_000);
    expect((await open(h, signed.url)).status).toBe(200);
    h.advance(1000);
    const expired = await open(h, signed.url);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('access-control-allow-origin')).toBe('*');
    expect(((await expired.json()) as { error: { details: unknown } }).error.details).toEqual({
      reason: 'signature_expired',
    });
  });

  it('are refused when any part is altered, used on another store or route, or for a write', async () => {
    const h = await rig();
    const { url } = await h.sign({ kind: 'record', key: 'img/1.png', expiresInSecs: 3600 });
    const u = new URL(url);
    const variants: string[] = [];
    const withPath = (path: string) => {
      const v = new URL(u);
      v.pathname = path;
      return v.toString();
    };
    variants.push(withPath('/v1/stores/orders/entries/img%2F2.png'));
    variants.push(withPath('/v1/stores/users/entries/img%2F1.png'));
    variants.push(withPath('/v1/stores/orders/entries/img%2F1.png/history'));
    variants.push(withPath('/v1/stores/orders/entries'));
    variants.push(withPath('/v1/stores/nope/entries/img%2F1.png'));
    const later = new URL(u);
    later.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 1));
    variants.push(later.toString());
    const extra = new URL(u);
    extra.searchParams.set('values', 'true');
    variants.push(extra.toString());
    const sig = u.searchParams.get('signature') as string;
    for (let i = 0; i < sig.length; i += 7) {
      const v = new URL(u);
      v.searchParams.set('signature', sig.slice(0, i) + (sig[i] === 'A' ? 'B' : 'A') + sig.slice(i + 1));
      variants.push(v.toString());
    }
    const none = new URL(u);
    none.searchParams.set('signature', '');
    variants.push(none.toString());
    for (const v of variants) {
      const res = await open(h, v);
      expect(res.status, v).toBe(401);
      expect(res.headers.get('kv-error-code')).toBe('unauthenticated');
    }
    for (const method of ['PUT', 'DELETE', 'POST', 'PATCH']) {
      const res = await h.engine.fetch(
        new Request(url, { method, body: 'x', headers: { 'content-type': 'text/plain' } }),
      );
      expect(res.status, method).toBe(401);
    }
    expect(await (await open(h, url)).text()).toBe('one');
  });

  it('die when the store secret is rotated; new ones work', async () => {
    const h = await rig();
    const before = await h.sign({ kind: 'record', key: 'img/1.png', expiresInSecs: 3600 });
    const keys = await h.sign({ kind: 'keys', expiresInSecs: 3600 });
    expect(await h.json('POST', '/v1/stores/orders/signing-secret', 200, { headers: ADMIN })).toEqual({
      rotated: true,
    });
    expect((await open(h, before.url)).status).toBe(401);
    expect((await open(h, keys.url)).status).toBe(401);
    const after = await h.sign({ kind: 'record', key: 'img/1.png', expiresInSecs: 3600 });
    expect((await open(h, after.url)).status).toBe(200);
  });

  it('die with their store: deleted and recreated under the same name, the old URL is refused', async () => {
    const h = await rig();
    const { url } = await h.sign({ kind: 'record', key: 'doc', expiresInSecs: 3600 });
    await h.json('DELETE', '/v1/stores/orders', 200, { headers: ADMIN });
    expect((await open(h, url)).status).toBe(401);
    await h.json('POST', '/v1/stores', 201, { json: { name: 'orders' }, headers: ADMIN });
    expect((await open(h, url)).status).toBe(401);
  });

  it('a URL for a missing key answers 404 once used (an unscoped signer may read anything)', async () => {
    const h = await rig();
    const { url } = await h.sign({ kind: 'record', key: 'later', expiresInSecs: 60 });
    expect((await open(h, url)).status).toBe(404);
    await h.call('PUT', entryPath('orders', 'later'), { body: 'now', headers: ADMIN });
    expect(await (await open(h, url)).text()).toBe('now');
  });

  it('CORS preflight of a signed URL is answered for any origin, GET and HEAD only', async () => {
    const h = await rig();
    const { url } = await h.sign({ kind: 'record', key: 'doc', expiresInSecs: 60 });
    const res = await open(h, url, 'OPTIONS', {
      origin: 'https://example.org',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'if-none-match',
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    expect(res.headers.get('access-control-allow-headers')).toBe('if-none-match');
  });
});

describe('signed keys URLs', () => {
  it('list one page with the signed prefix and limit, without values; the query cannot be changed', async () => {
    const h = await rig();
    const signed = await h.sign({ kind: 'keys', prefix: 'img/', limit: 1, expiresInSecs: 600 });
    const u = new URL(signed.url);
    expect(u.pathname).toBe('/v1/stores/orders/entries');
    expect(u.searchParams.get('prefix')).toBe('img/');
    expect(u.searchParams.get('limit')).toBe('1');
    const res = await open(h, signed.url, 'GET', { origin: 'https://example.org' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const page = (await res.json()) as { items: Array<{ key: string; value?: string }>; complete: boolean };
    expect(page.items.map((i) => i.key)).toEqual(['img/1.png']);
    expect(page.items[0]?.value).toBeUndefined();
    expect(page.complete).toBe(false);
    for (const [name, value] of [
      ['limit', '1000'],
      ['prefix', ''],
      ['values', 'true'],
      ['cursor', 'eyJrIjoiaW1nLzEucG5nIiwiciI6MH0'],
    ] as const) {
      const v = new URL(u);
      v.searchParams.set(name, value);
      expect((await open(h, v.toString())).status, name).toBe(401);
    }
    const all = await h.sign({ kind: 'keys', expiresInSecs: 600 });
    const everything = (await (await open(h, all.url)).json()) as { items: Array<{ key: string }> };
    expect(everything.items.map((i) => i.key)).toEqual(['doc', 'img/1.png', 'img/2.png']);
  });

  it('validate the request: expiry 1 s to 7 days, a valid key, prefix and limit', async () => {
    const h = await rig();
    const bad = [
      { kind: 'record', key: 'doc', expiresInSecs: 0 },
      { kind: 'record', key: 'doc', expiresInSecs: 604_801 },
      { kind: 'record', key: 'doc' },
      { kind: 'record', key: 'bad key', expiresInSecs: 60 },
      { kind: 'keys', limit: 0, expiresInSecs: 60 },
      { kind: 'keys', limit: 1001, expiresInSecs: 60 },
      { kind: 'keys', key: 'doc', expiresInSecs: 60 },
      { kind: 'other', expiresInSecs: 60 },
    ];
    for (const body of bad) {
      await h.error('POST', '/v1/stores/orders/signed-urls', 400, 'validation_error', {
        json: body,
        headers: ADMIN,
      });
    }
    await h.json('POST', '/v1/stores/orders/signed-urls', 200, {
      json: { kind: 'record', key: 'doc', expiresInSecs: 604_800 },
      headers: ADMIN,
    });
    await h.error('POST', '/v1/stores/nope/signed-urls', 404, 'store_not_found', {
      json: { kind: 'keys', expiresInSecs: 60 },
      headers: ADMIN,
    });
  });
});

/** `url` with its first occurrence of `from` replaced by `to` (a byte-level edit of the URL text). */
function edit(url: string, from: string, to: string): string {
  const at = url.indexOf(from);
  expect(at, `${from} in ${url}`).toBeGreaterThan(-1);
  return url.slice(0, at) + to + url.slice(at + from.length);
}

/** `url` with its query parameters (signature excepted) in another order, the signature kept last. */
function reorder(url: string): string {
  const [head, query] = url.split('?') as [string, string];
  const parts = query.split('&');
  const signature = parts.pop() as string;
  return `${head}?${[...parts].reverse().join('&')}&${signature}`;
}

describe('signed URLs are verified over the exact bytes the signer emitted', () => {
  it('refuse a URL with any byte altered: escapes, order, appended or repeated parameters', async () => {
    const h = await rig();
    await h.call('PUT', entryPath('orders', 'img/a'), { body: 'a', headers: ADMIN });
    const record = (await h.sign({ kind: 'record', key: 'img/1.png', expiresInSecs: 600 })).url;
    const keys = (await h.sign({ kind: 'keys', prefix: 'img/', limit: 1, expiresInSecs: 600 })).url;
    expect(record).toContain('/entries/img%2F1.png?expires=');
    expect(keys).toContain('prefix=img%2F&limit=1&expires=');
    for (const url of [record, keys]) expect((await open(h, url)).status).toBe(200);
    const tampered: Array<[string, string]> = [
      ['record: signature appended', `${record}&signature=AAAA`],
      [
        'record: real signature appended again',
        `${record}&signature=${new URL(record).searchParams.get('signature')}`,
      ],
      ['record: signature first', edit(record, '?', '?signature=AAAA&')],
      ['record: %2F as %2f', edit(record, '%2F', '%2f')],
      ['record: empty parameter appended', `${record}&`],
      [
        'record: expires repeated',
        edit(record, '?', `?expires=${new URL(record).searchParams.get('expires')}&`),
      ],
      ['record: expires with a leading zero', edit(record, 'expires=', 'expires=0')],
      ['record: expires name escaped', edit(record, 'expires=', '%65xpires=')],
      ['keys: signature appended', `${keys}&signature=AAAA`],
      ['keys: parameters reordered', reorder(keys)],
      ['keys: %2F as /', edit(keys, 'prefix=img%2F', 'prefix=img/')],
      ['keys: %2F as %2f', edit(keys, 'prefix=img%2F', 'prefix=img%2f')],
      ['keys: limit repeated', edit(keys, 'limit=1&', 'limit=1&limit=1&')],
      ['keys: limit as 01', edit(keys, 'limit=1&', 'limit=01&')],
      ['keys: cursor appended before the signature', edit(keys, '&signature=', '&cursor=x&signature=')],
    ];
    for (const [name, url] of tampered) {
      expect(url, name).not.toBe(record);
      const res = await open(h, url);
      expect(res.status, `${name}: ${url}`).toBe(401);
      expect(res.headers.get('kv-error-code'), name).toBe('unauthenticated');
      expect(res.headers.get('access-control-allow-origin'), name).toBe('*');
    }
    for (const url of [record, keys]) expect((await open(h, url)).status).toBe(200);
  });

  it('keys with reserved and non-ASCII characters work as signed, through `url` and base + `path`', async () => {
    const h = await rig();
    const keys = ['a/b?c#d', '100%&more=1', 'x+y=z~w', 'caf\u00e9/\u65e5\u672c/\u{1f511}', "it's(a)*key*!"];
    for (const key of keys) {
      await h.call('PUT', entryPath('orders', key), {
        body: `v:${key}`,
        headers: { ...ADMIN, 'content-type': 'text/plain' },
      });
      const signed = await h.sign({ kind: 'record', key, expiresInSecs: 600 });
      for (const url of [signed.url, `${ORIGIN}${signed.path}`]) {
        const res = await open(h, url);
        expect(res.status, `${key}: ${url}`).toBe(200);
        expect(await res.text()).toBe(`v:${key}`);
      }
      const listing = await h.sign({ kind: 'keys', prefix: key, limit: 5, expiresInSecs: 600 });
      expect(new URL(listing.url).searchParams.get('prefix')).toBe(key);
      const res = await open(h, `${ORIGIN}${listing.path}`);
      expect(res.status, `${key}: ${listing.url}`).toBe(200);
      const page = (await res.json()) as { items: Array<{ key: string }> };
      expect(page.items.map((i) => i.key)).toEqual([key]);
      // The same URL with the key's bytes escaped differently is refused.
      const lower = signed.url.replace(/%([0-9A-F]{2})/, (_m, hex: string) => `%${hex.toLowerCase()}`);
      if (lower !== signed.url) expect((await open(h, lower)).status, lower).toBe(401);
    }
  });
});

describe('signed URLs of scoped signers', () => {
  it('reach only the scopes the signer could read, checked again when used', async () => {
    const h = await rig();
    const { token } = await h.json<{ token: string }>('POST', '/v1/tokens', 201, {
      json: {
        capabilities: ['kv[orders:billing]:sign', 'kv[orders:billing]:get', 'kv[orders:billing]:list'],
      },
      headers: ADMIN,
    });
    const signer = { authorization: `Bearer ${token}` };
    const record = await h.sign({ kind: 'record', key: 'img/1.png', expiresInSecs: 600 }, signer);
    expect(new URL(record.url).searchParams.get('signedScopes')).toBe('billing');
    expect(await (await open(h, record.url)).text()).toBe('one');
    await h.error('POST', '/v1/stores/orders/signed-urls', 403, 'forbidden', {
      json: { kind: 'record', key: 'img/2.png', expiresInSecs: 600 },
      headers: signer,
    });
    const keys = await h.sign({ kind: 'keys', expiresInSecs: 600 }, signer);
    const page = (await (await open(h, keys.url)).json()) as { items: Array<{ key: string }> };
    expect(page.items.map((i) => i.key)).toEqual(['img/1.png']);
    // The record moves out of billing: the URL no longer reaches it.
    await h.call('PUT', entryPath('orders', 'img/1.png'), {
      body: 'moved',
      headers: { ...ADMIN, 'content-type': 'text/plain', 'kv-scopes': 'ops' },
    });
    expect((await open(h, record.url)).status).toBe(403);
    // Dropping the scope limit breaks the signature.
    const widened = new URL(keys.url);
    widened.searchParams.delete('signedScopes');
    expect((await open(h, widened.toString())).status).toBe(401);
  });
});

describe('signed URLs without access control', () => {
  it('are still verified: tampering and expiry are refused', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v');
    const signed = await h.json<Signed>('POST', '/v1/stores/s/signed-urls', 200, {
      json: { kind: 'record', key: 'k', expiresInSecs: 10 },
    });
    expect(await (await open(h, signed.url)).text()).toBe('v');
    expect((await open(h, signed.url.replace('/entries/k?', '/entries/j?'))).status).toBe(401);
    h.advance(10_000);
    expect((await open(h, signed.url)).status).toBe(401);
  });
});

describe('a signed URL never reaches more than its signer could read', () => {
  async function tokenOf(h: Harness, capabilities: string[]): Promise<Record<string, string>> {
    const { token } = await h.json<{ token: string }>('POST', '/v1/tokens', 201, {
      json: { capabilities },
      headers: ADMIN,
    });
    return { authorization: `Bearer ${token}` };
  }

  it('sign on the store and get on one scope: no URL for a record outside that scope', async () => {
    const h = await rig();
    const signer = await tokenOf(h, ['kv[orders]:sign', 'kv[orders:billing]:get']);
    // The token cannot read img/2.png (scope ops) or doc (unscoped) itself...
    await h.error('GET', entryPath('orders', 'img/2.png'), 403, 'forbidden', { headers: signer });
    await h.error('GET', entryPath('orders', 'doc'), 403, 'forbidden', { headers: signer });
    // ...so it cannot sign a URL that would.
    for (const key of ['img/2.png', 'doc', 'missing']) {
      await h.error('POST', '/v1/stores/orders/signed-urls', 403, 'forbidden', {
        json: { kind: 'record', key, expiresInSecs: 600 },
        headers: signer,
      });
    }
    // What it can read, it can publish, bound to its scope.
    const ok = await h.sign({ kind: 'record', key: 'img/1.png', expiresInSecs: 600 }, signer);
    expect(new URL(ok.url).searchParams.get('signedScopes')).toBe('billing');
    expect(await (await open(h, ok.url)).text()).toBe('one');
  });

  it('sign alone signs nothing: no record URL, no keys URL listing every key', async () => {
    const h = await rig();
    const signer = await tokenOf(h, ['kv[orders]:sign']);
    for (const body of [
      { kind: 'keys', expiresInSecs: 600 },
      { kind: 'record', key: 'doc', expiresInSecs: 600 },
    ]) {
      await h.error('POST', '/v1/stores/orders/signed-urls', 403, 'forbidden', {
        json: body,
        headers: signer,
      });
    }
  });

  it('a keys URL of a signer with a scoped list lists that scope only', async () => {
    const h = await rig();
    const signer = await tokenOf(h, ['kv[orders]:sign', 'kv[orders:ops]:list', 'kv[orders]:get']);
    const keys = await h.sign({ kind: 'keys', expiresInSecs: 600 }, signer);
    expect(new URL(keys.url).searchParams.get('signedScopes')).toBe('ops');
    const page = (await (await open(h, keys.url)).json()) as { items: Array<{ key: string }> };
    expect(page.items.map((i) => i.key)).toEqual(['img/2.png']);
    // Its get is unscoped: its record URLs are too.
    const doc = await h.sign({ kind: 'record', key: 'doc', expiresInSecs: 600 }, signer);
    expect(new URL(doc.url).searchParams.has('signedScopes')).toBe(false);
    expect(await (await open(h, doc.url)).text()).toBe('three');
  });
});

describe('signed URL expiry is capped when verified', () => {
  it('a URL signed with the store secret for more than 7 days ahead is refused', async () => {
    const h = await rig();
    const secret = (await h.storage.getStore('orders'))?.signingSecret as string;
    const nowSecs = Math.floor(h.now() / 1000);
    const url = (expiresAtSecs: number) =>
      signUrl(new URL(`${ORIGIN}/v1/stores/orders/entries/doc`), secret, expiresAtSecs);
    expect((await open(h, (await url(nowSecs + 604_800)).toString())).status).toBe(200);
    const far = await open(h, (await url(nowSecs + 8 * 86_400)).toString());
    expect(far.status).toBe(401);
    expect(((await far.json()) as { error: { details: unknown } }).error.details).toEqual({
      reason: 'signature_invalid',
    });
    expect((await open(h, (await url(nowSecs + 10 * 365 * 86_400)).toString())).status).toBe(401);
  });
});

describe('answers to signed URLs', () => {
  it('carry nosniff, and values of a type that could run script are downloads', async () => {
    const h = await rig();
    const types: Array<[string, boolean]> = [
      ['text/html', true],
      ['text/html; charset=utf-8', true],
      ['image/svg+xml', true],
      ['application/xhtml+xml', true],
      ['text/xml', true],
      ['application/javascript', true],
      ['TEXT/PLAIN; charset=utf-8', false],
      ['application/json', false],
      ['application/octet-stream', false],
      ['image/png', false],
    ];
    for (const [type, download] of types) {
      const key = `t/${types.findIndex(([t]) => t === type)}`;
      await h.call('PUT', entryPath('orders', key), {
        body: '<script>alert(1)</script>',
        headers: { ...ADMIN, 'content-type': type },
      });
      const { url } = await h.sign({ kind: 'record', key, expiresInSecs: 600 });
      for (const method of ['GET', 'HEAD']) {
        const res = await open(h, url, method);
        expect(res.status, type).toBe(200);
        expect(res.headers.get('x-content-type-options'), type).toBe('nosniff');
        expect(res.headers.get('content-disposition'), type).toBe(download ? 'attachment' : null);
      }
    }
    const keys = await h.sign({ kind: 'keys', expiresInSecs: 600 });
    const listing = await open(h, keys.url);
    expect(listing.headers.get('x-content-type-options')).toBe('nosniff');
    expect(listing.headers.get('content-disposition')).toBeNull();
    const refused = await open(h, `${keys.url.slice(0, -2)}AA`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('the returned url', () => {
  it('is built from the configured public URL, never from the request Host', async () => {
    const tokens = new MemoryTokenStore();
    const h = setup({ auth: { tokens }, publicUrl: 'https://kv.example.com/base/' });
    await ensureToken(tokens, { secret: 'admin-secret-0123456789', capabilities: ['*'] }, h.now());
    await h.json('POST', '/v1/stores', 201, { json: { name: 'orders' }, headers: ADMIN });
    await h.put('orders', 'doc', 'three', ADMIN);
    const res = await h.engine.fetch(
      new Request('http://evil.example/v1/stores/orders/signed-urls', {
        method: 'POST',
        headers: { ...ADMIN, host: 'evil.example', 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'record', key: 'doc', expiresInSecs: 600 }),
      }),
    );
    expect(res.status).toBe(200);
    const signed = (await res.json()) as Signed;
    expect(signed.url).toBe(`https://kv.example.com/base${signed.path}`);
    expect(signed.url).not.toContain('evil');
    // The default is not the request's host either.
    const plain = setup();
    await plain.createStore('s');
    const other = await plain.engine.fetch(
      new Request('http://evil.example/v1/stores/s/signed-urls', {
        method: 'POST',
        headers: { host: 'evil.example', 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'keys', expiresInSecs: 600 }),
      }),
    );
    expect(((await other.json()) as Signed).url.startsWith('http://localhost/v1/stores/s/entries?')).toBe(
      true,
    );
    expect(() => setup({ publicUrl: 'kv.example.com' })).toThrow(TypeError);
    expect(() => setup({ publicUrl: 'https://kv.example.com/?a=1' })).toThrow(TypeError);
  });
});

import { describe, expect, it } from 'vitest';
import { entryPath, setup, T0 } from '../test/harness.js';

const iso = (ms: number): string => new Date(ms).toISOString();

describe('GET / HEAD entry', () => {
  it('returns the raw bytes with every entry header', async () => {
    const h = setup();
    await h.createStore('s');
    const written = await h.put('s', 'user.1', '{"a":1}', {
      'content-type': 'application/json',
      'kv-metadata': encodeURIComponent(JSON.stringify({ owner: 'ålice' })),
      'kv-scopes': 'billing,b%2Cc',
      'kv-resume': 'true',
      'kv-ttl-ms': '60000',
    });
    expect(written).toMatchObject({ revision: 1, created: true });
    const res = await h.call('GET', entryPath('s', 'user.1'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"a":1}');
    const hd = res.headers;
    expect(hd.get('content-type')).toBe('application/json');
    expect(hd.get('etag')).toBe('"1"');
    expect(hd.get('kv-id')).toBe(written.id);
    expect(hd.get('kv-revision')).toBe('1');
    expect(JSON.parse(decodeURIComponent(hd.get('kv-metadata') ?? ''))).toEqual({ owner: 'ålice' });
    expect(hd.get('kv-scopes')?.split(',').map(decodeURIComponent)).toEqual(['b,c', 'billing']);
    expect(hd.get('kv-expires-at')).toBe(iso(T0 + 60_000));
    expect(hd.get('kv-created-at')).toBe(iso(T0));
    expect(hd.get('kv-updated-at')).toBe(iso(T0));
    expect(hd.get('kv-resume')).toBe('true');
    expect(hd.get('content-length')).toBe('7');
    expect(hd.get('kv-request-id')).toBeTruthy();
  });

  it('omits optional headers when the entry has no metadata, scopes or expiry', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v');
    const res = await h.call('GET', entryPath('s', 'k'));
    expect(res.headers.get('kv-metadata')).toBeNull();
    expect(res.headers.get('kv-scopes')).toBeNull();
    expect(res.headers.get('kv-expires-at')).toBeNull();
    expect(res.headers.get('kv-resume')).toBe('false');
  });

  it('defaults the content type to application/octet-stream and keeps binary bytes', async () => {
    const h = setup();
    await h.createStore('s');
    const bytes = new Uint8Array([0, 255, 1, 254, 10, 13]);
    const put = await h.call('PUT', entryPath('s', 'bin'), { body: bytes });
    expect(put.status).toBe(201);
    const res = await h.call('GET', entryPath('s', 'bin'));
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it('stores an empty value', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'empty', '');
    const res = await h.call('GET', entryPath('s', 'empty'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
    expect(await res.text()).toBe('');
  });

  it('HEAD answers the headers with no body; 404 for a missing key', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'hello');
    const res = await h.call('HEAD', entryPath('s', 'k'));
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.headers.get('content-length')).toBe('5');
    expect(await res.text()).toBe('');
    const missing = await h.call('HEAD', entryPath('s', 'nope'));
    expect(missing.status).toBe(404);
    expect(missing.headers.get('kv-error-code')).toBe('key_not_found');
    expect(missing.headers.get('kv-request-id')).toBeTruthy();
  });

  it('answers 404 key_not_found for a missing key', async () => {
    const h = setup();
    await h.createStore('s');
    const body = await h.error('GET', entryPath('s', 'nope'), 404, 'key_not_found');
    expect(body.error.details).toEqual({ key: 'nope' });
  });

  it('conditional GET: If-None-Match with the current revision answers 304', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v1');
    const notModified = await h.call('GET', entryPath('s', 'k'), { headers: { 'if-none-match': '"1"' } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe('"1"');
    expect(await notModified.text()).toBe('');
    expect((await h.call('GET', entryPath('s', 'k'), { headers: { 'if-none-match': 'W/"1"' } })).status).toBe(
      304,
    );
    expect(
      (await h.call('GET', entryPath('s', 'k'), { headers: { 'if-none-match': '"7", "1"' } })).status,
    ).toBe(304);
    expect((await h.call('GET', entryPath('s', 'k'), { headers: { 'if-none-match': '*' } })).status).toBe(
      304,
    );
    await h.put('s', 'k', 'v2');
    const changed = await h.call('GET', entryPath('s', 'k'), { headers: { 'if-none-match': '"1"' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).toBe('"2"');
    expect(await changed.text()).toBe('v2');
  });
});

describe('keys in the path', () => {
  const keys = [
    'a/b',
    'a%b',
    '100%25',
    'q?x=1&y=2',
    'frag#ment',
    'plus+sign',
    'eq=amp&',
    'tilde~',
    'ключ',
    'emoji😀',
    'quote\'"',
    '../x',
    '...',
  ];
  it.each(keys)('round-trips %s with encodeURIComponent', async (key) => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', key, `value of ${key}`);
    const res = await h.call('GET', entryPath('s', key));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`value of ${key}`);
    const list = await h.json<{ items: Array<{ key: string }> }>('GET', '/v1/stores/s/entries', 200);
    expect(list.items.map((i) => i.key)).toEqual([key]);
    expect(await h.json('DELETE', entryPath('s', key), 200)).toMatchObject({ deleted: true });
  });

  it('an encoded slash %2F stays inside the key, and %25 is a literal percent', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'a/b', 'slash');
    await h.put('s', 'a%2Fb', 'percent');
    expect(await (await h.call('GET', '/v1/stores/s/entries/a%2Fb')).text()).toBe('slash');
    expect(await (await h.call('GET', '/v1/stores/s/entries/a%252Fb')).text()).toBe('percent');
    // An unencoded slash is another route (two segments), not the key "a/b".
    await h.error('GET', '/v1/stores/s/entries/a/b', 404, 'route_not_found');
  });

  it.each(['%E0%A4%A', '%ZZ', '%C3%28', 'abc%'])(
    'rejects invalid percent-encoding %s with 400',
    async (raw) => {
      const h = setup();
      await h.createStore('s');
      const body = await h.error('PUT', `/v1/stores/s/entries/${raw}`, 400, 'validation_error', {
        body: 'v',
      });
      expect(body.error.details).toMatchObject({ field: 'key', reason: 'invalid_encoding' });
      await h.error('GET', `/v1/stores/s/entries/${raw}`, 400, 'validation_error');
    },
  );

  it('rejects keys with whitespace or control characters', async () => {
    const h = setup();
    await h.createStore('s');
    await h.error('PUT', entryPath('s', 'a b'), 400, 'validation_error', { body: 'v' });
    await h.error('PUT', entryPath('s', 'a\tb'), 400, 'validation_error', { body: 'v' });
    await h.error('PUT', entryPath('s', 'a\u0000b'), 400, 'validation_error', { body: 'v' });
    expect((await h.json<{ items: unknown[] }>('GET', '/v1/stores/s/entries', 200)).items).toEqual([]);
  });
});

describe('PUT entry', () => {
  it('201 when created, 200 when overwritten; ETag carries the revision', async () => {
    const h = setup();
    await h.createStore('s');
    const first = await h.call('PUT', entryPath('s', 'k'), { body: 'a' });
    expect(first.status).toBe(201);
    expect(first.headers.get('etag')).toBe('"1"');
    const a = (await first.json()) as { id: string; revision: number; created: boolean };
    expect(a).toMatchObject({ revision: 1, created: true });
    h.advance(500);
    const second = await h.call('PUT', entryPath('s', 'k'), { body: 'b' });
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ id: a.id, revision: 2, created: false });
    const res = await h.call('GET', entryPath('s', 'k'));
    expect(res.headers.get('kv-created-at')).toBe(iso(T0));
    expect(res.headers.get('kv-updated-at')).toBe(iso(T0 + 500));
  });

  it('Kv-If-Not-Exists: true writes nothing on an existing key and answers 200 created:false', async () => {
    const h = setup();
    await h.createStore('s');
    const a = await h.put('s', 'k', 'first');
    const res = await h.call('PUT', entryPath('s', 'k'), {
      body: 'second',
      headers: { 'kv-if-not-exists': 'true' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: a.id, revision: 1, created: false });
    expect(await (await h.call('GET', entryPath('s', 'k'))).text()).toBe('first');
    const fresh = await h.call('PUT', entryPath('s', 'new'), {
      body: 'x',
      headers: { 'kv-if-not-exists': 'true' },
    });
    expect(fresh.status).toBe(201);
  });

  it('If-None-Match: * creates, or answers 412 key_exists', async () => {
    const h = setup();
    await h.createStore('s');
    const created = await h.call('PUT', entryPath('s', 'k'), {
      body: 'a',
      headers: { 'if-none-match': '*' },
    });
    expect(created.status).toBe(201);
    const body = await h.error('PUT', entryPath('s', 'k'), 412, 'key_exists', {
      body: 'b',
      headers: { 'if-none-match': '*' },
    });
    expect(body.error.details).toMatchObject({ key: 'k', currentRevision: 1 });
    expect(await (await h.call('GET', entryPath('s', 'k'))).text()).toBe('a');
  });

  it('If-Match: "<rev>" is compare-and-swap; a stale revision is 412 revision_mismatch', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v1');
    const ok = await h.call('PUT', entryPath('s', 'k'), { body: 'v2', headers: { 'if-match': '"1"' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ revision: 2, created: false });
    const body = await h.error('PUT', entryPath('s', 'k'), 412, 'revision_mismatch', {
      body: 'v3',
      headers: { 'if-match': '"1"' },
    });
    expect(body.error.details).toMatchObject({ key: 'k', currentRevision: 2, expectedRevision: 1 });
    await h.error('PUT', entryPath('s', 'missing'), 412, 'revision_mismatch', {
      body: 'x',
      headers: { 'if-match': '"1"' },
    });
    await h.error('PUT', entryPath('s', 'missing'), 412, 'revision_mismatch', {
      body: 'x',
      headers: { 'if-match': '*' },
    });
    expect(await (await h.call('GET', entryPath('s', 'k'))).text()).toBe('v2');
  });

  it('CAS race: of 20 concurrent writes with the same If-Match exactly one wins', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'counter', '0');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.call('PUT', entryPath('s', 'counter'), { body: String(i + 1), headers: { 'if-match': '"1"' } }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
    const info = await h.json<{ revision: number }>('GET', '/v1/stores/s', 200);
    expect(info.revision).toBe(2);
  });

  it('create race: of 20 concurrent If-None-Match: * writes exactly one creates', async () => {
    const h = setup();
    await h.createStore('s');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.call('PUT', entryPath('s', 'lock'), { body: String(i), headers: { 'if-none-match': '*' } }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 412)).toHaveLength(19);
  });

  it.each([
    ['both ttl and expiry', { 'kv-ttl-ms': '1000', 'kv-expires-at': '2031-01-01T00:00:00Z' }],
    ['ttl 0', { 'kv-ttl-ms': '0' }],
    ['ttl not a number', { 'kv-ttl-ms': 'soon' }],
    ['expiry in the past', { 'kv-expires-at': '2020-01-01T00:00:00Z' }],
    ['expiry unparsable', { 'kv-expires-at': 'tomorrow' }],
    ['metadata not JSON', { 'kv-metadata': '%7Bnope' }],
    ['metadata an array', { 'kv-metadata': encodeURIComponent('[1,2]') }],
    ['bad scope encoding', { 'kv-scopes': '%E0%A4%A' }],
    ['scope with whitespace', { 'kv-scopes': 'a%20b' }],
    ['resume not boolean', { 'kv-resume': 'yes' }],
    ['if-not-exists not boolean', { 'kv-if-not-exists': '1' }],
    ['If-Match not an etag', { 'if-match': 'seven' }],
    ['If-None-Match an etag', { 'if-none-match': '"1"' }],
    ['two conditions', { 'if-match': '"1"', 'kv-if-not-exists': 'true' }],
    ['bad content type', { 'content-type': 'not a mime type' }],
  ])('rejects %s with 400 and writes nothing', async (_, headers) => {
    const h = setup();
    await h.createStore('s');
    await h.error('PUT', entryPath('s', 'k'), 400, 'validation_error', { body: 'v', headers });
    expect((await h.json<{ revision: number }>('GET', '/v1/stores/s', 200)).revision).toBe(0);
  });

  it('Kv-Expires-At sets an absolute expiry', async () => {
    const h = setup();
    await h.createStore('s');
    const at = iso(T0 + 3_600_000);
    await h.put('s', 'k', 'v', { 'kv-expires-at': at });
    expect((await h.call('GET', entryPath('s', 'k'))).headers.get('kv-expires-at')).toBe(at);
  });

  it('store defaultTtlMs applies to writes without ttl or expiry', async () => {
    const h = setup();
    await h.createStore('s', { defaultTtlMs: 10_000 });
    await h.put('s', 'default', 'v');
    await h.put('s', 'own', 'v', { 'kv-ttl-ms': '99000' });
    expect((await h.call('GET', entryPath('s', 'default'))).headers.get('kv-expires-at')).toBe(
      iso(T0 + 10_000),
    );
    expect((await h.call('GET', entryPath('s', 'own'))).headers.get('kv-expires-at')).toBe(iso(T0 + 99_000));
  });
});

describe('DELETE entry', () => {
  it('soft-deletes (tombstone in history); a missing key is deleted:false', async () => {
    const h = setup();
    await h.createStore('s', { history: 5 });
    await h.put('s', 'k', 'v');
    expect(await h.json('DELETE', entryPath('s', 'k'), 200)).toEqual({ deleted: true, revision: 2 });
    await h.error('GET', entryPath('s', 'k'), 404, 'key_not_found');
    expect(await h.json('DELETE', entryPath('s', 'k'), 200)).toEqual({ deleted: false });
    const history = await h.json<{ items: Array<{ operation: string; revision: number }> }>(
      'GET',
      `${entryPath('s', 'k')}/history`,
      200,
    );
    expect(history.items.map((i) => [i.operation, i.revision])).toEqual([
      ['delete', 2],
      ['put', 1],
    ]);
  });

  it('If-Match guards a delete', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v');
    await h.put('s', 'k', 'v2');
    await h.error('DELETE', entryPath('s', 'k'), 412, 'revision_mismatch', {
      headers: { 'if-match': '"1"' },
    });
    expect((await h.call('GET', entryPath('s', 'k'))).status).toBe(200);
    expect(await h.json('DELETE', entryPath('s', 'k'), 200, { headers: { 'if-match': '"2"' } })).toEqual({
      deleted: true,
      revision: 3,
    });
  });

  it('?purge=true removes the key and its whole history', async () => {
    const h = setup();
    await h.createStore('s', { history: 5 });
    await h.put('s', 'k', 'v1');
    await h.put('s', 'k', 'v2');
    expect(await h.json('DELETE', `${entryPath('s', 'k')}?purge=true`, 200)).toEqual({
      deleted: true,
      revision: 3,
    });
    expect(await h.json('GET', `${entryPath('s', 'k')}/history`, 200)).toEqual({ items: [] });
    expect(await h.json('DELETE', `${entryPath('s', 'k')}?purge=true`, 200)).toEqual({ deleted: false });
    await h.error('DELETE', `${entryPath('s', 'k')}?purge=maybe`, 400, 'validation_error');
  });

  it('a key deleted and written again gets a new id', async () => {
    const h = setup();
    await h.createStore('s');
    const a = await h.put('s', 'k', 'v');
    await h.call('DELETE', entryPath('s', 'k'));
    const b = await h.put('s', 'k', 'v');
    expect(b.created).toBe(true);
    expect(b.id).not.toBe(a.id);
  });
});

describe('history', () => {
  it('lists revisions newest first with values (base64), bounded by the store history depth', async () => {
    const h = setup();
    await h.createStore('s', { history: 2 });
    await h.put('s', 'k', 'one');
    await h.put('s', 'k', 'two');
    await h.put('s', 'k', 'three');
    const history = await h.json<{ items: Array<{ operation: string; value?: string; revision: number }> }>(
      'GET',
      `${entryPath('s', 'k')}/history`,
      200,
    );
    expect(history.items.map((i) => [i.operation, i.revision, i.value && atob(i.value)])).toEqual([
      ['put', 3, 'three'],
      ['put', 2, 'two'],
    ]);
    const noValues = await h.json<{ items: Array<{ value?: string }> }>(
      'GET',
      `${entryPath('s', 'k')}/history?values=false`,
      200,
    );
    expect(noValues.items.every((i) => i.value === undefined)).toBe(true);
  });

  it('is empty for a key never written', async () => {
    const h = setup();
    await h.createStore('s');
    expect(await h.json('GET', `${entryPath('s', 'never')}/history`, 200)).toEqual({ items: [] });
  });
});

describe('by id', () => {
  it('GET and HEAD by id answer the entry with Kv-Key', async () => {
    const h = setup();
    await h.createStore('s');
    const { id } = await h.put('s', 'a/ключ', 'hello');
    const res = await h.call('GET', `/v1/stores/s/ids/${encodeURIComponent(id)}`);
    expect(res.status).toBe(200);
    expect(decodeURIComponent(res.headers.get('kv-key') ?? '')).toBe('a/ключ');
    expect(res.headers.get('etag')).toBe('"1"');
    expect(await res.text()).toBe('hello');
    const head = await h.call('HEAD', `/v1/stores/s/ids/${encodeURIComponent(id)}`);
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const cached = await h.call('GET', `/v1/stores/s/ids/${id}`, { headers: { 'if-none-match': '"1"' } });
    expect(cached.status).toBe(304);
  });

  it('answers 404 for an unknown id and for the id of a deleted key', async () => {
    const h = setup();
    await h.createStore('s');
    const { id } = await h.put('s', 'k', 'v');
    await h.error('GET', '/v1/stores/s/ids/unknown', 404, 'key_not_found');
    await h.call('DELETE', entryPath('s', 'k'));
    await h.error('GET', `/v1/stores/s/ids/${id}`, 404, 'key_not_found');
  });
});

describe('expiry route', () => {
  it('sets, changes and clears an expiry; reports whether the key existed', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v');
    const at = iso(T0 + 5000);
    expect(await h.json('PUT', `${entryPath('s', 'k')}/expiry`, 200, { json: { expiresAt: at } })).toEqual({
      existed: true,
      revision: 2,
    });
    expect((await h.call('GET', entryPath('s', 'k'))).headers.get('kv-expires-at')).toBe(at);
    expect(await h.json('PUT', `${entryPath('s', 'k')}/expiry`, 200, { json: { expiresAt: null } })).toEqual({
      existed: true,
      revision: 3,
    });
    expect((await h.call('GET', entryPath('s', 'k'))).headers.get('kv-expires-at')).toBeNull();
    expect(await h.json('PUT', `${entryPath('s', 'gone')}/expiry`, 200, { json: { expiresAt: at } })).toEqual(
      {
        existed: false,
      },
    );
  });

  it('rejects a past time, a bad time, a missing field and a non-JSON body', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'k', 'v');
    const path = `${entryPath('s', 'k')}/expiry`;
    await h.error('PUT', path, 400, 'validation_error', { json: { expiresAt: iso(T0 - 1) } });
    await h.error('PUT', path, 400, 'validation_error', { json: { expiresAt: 'later' } });
    await h.error('PUT', path, 400, 'validation_error', { json: {} });
    await h.error('PUT', path, 400, 'validation_error', { json: { expiresAt: null, extra: 1 } });
    await h.error('PUT', path, 415, 'unsupported_media_type', { body: '{"expiresAt":null}' });
    expect((await h.json<{ revision: number }>('GET', '/v1/stores/s', 200)).revision).toBe(1);
  });
});

describe('scopes', () => {
  it('lists the scopes in use by live entries, sorted', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'a', 'v', { 'kv-scopes': 'zeta,alpha' });
    await h.put('s', 'b', 'v', { 'kv-scopes': 'alpha,beta' });
    await h.put('s', 'c', 'v', { 'kv-scopes': 'gone' });
    await h.call('DELETE', entryPath('s', 'c'));
    expect(await h.json('GET', '/v1/stores/s/scopes', 200)).toEqual({ items: ['alpha', 'beta', 'zeta'] });
  });
});

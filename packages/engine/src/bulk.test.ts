import { describe, expect, it } from 'vitest';
import { b64, entryPath, setup, T0, unb64 } from '../test/harness.js';

interface BulkResult {
  results: Array<{
    key: string;
    ok: boolean;
    id?: string;
    revision?: number;
    created?: boolean;
    error?: string;
  }>;
  successfulKeyCount: number;
  unsuccessfulKeys: string[];
}

describe('bulk get', () => {
  it('answers one item per key in request order, found or not, with values by default', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'a', 'A', { 'kv-scopes': 'x' });
    await h.put('s', 'b', 'B');
    const res = await h.json<{ items: Array<Record<string, unknown>> }>(
      'POST',
      '/v1/stores/s/bulk/get',
      200,
      {
        json: { keys: ['b', 'missing', 'a', 'b'] },
      },
    );
    expect(res.items.map((i) => [i.key, i.found])).toEqual([
      ['b', true],
      ['missing', false],
      ['a', true],
      ['b', true],
    ]);
    expect(res.items[1]).toEqual({ key: 'missing', found: false });
    expect(unb64(res.items[0]?.value as string)).toBe('B');
    expect(res.items[2]).toMatchObject({ scopes: ['x'], revision: 1, contentType: 'text/plain', size: 1 });
  });

  it('values:false leaves values out', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'a', 'A');
    const res = await h.json<{ items: Array<Record<string, unknown>> }>(
      'POST',
      '/v1/stores/s/bulk/get',
      200,
      {
        json: { keys: ['a'], values: false },
      },
    );
    expect(res.items[0]?.value).toBeUndefined();
    expect(res.items[0]?.found).toBe(true);
  });

  it('rejects the whole request for an invalid key, naming its index', async () => {
    const h = setup();
    await h.createStore('s');
    const body = await h.error('POST', '/v1/stores/s/bulk/get', 400, 'validation_error', {
      json: { keys: ['ok', 'bad key'] },
    });
    expect(body.error.details).toMatchObject({ index: 1, list: 'keys', field: 'key' });
  });
});

describe('bulk set', () => {
  it('writes every item with its options and reports per-item results', async () => {
    const h = setup();
    await h.createStore('s');
    const res = await h.json<BulkResult>('POST', '/v1/stores/s/bulk/set', 200, {
      json: {
        items: [
          { key: 'a', value: b64('{"n":1}'), contentType: 'application/json', metadata: { m: 1 } },
          { key: 'b', value: b64('B'), ttlMs: 5000, scopes: ['s1'], resume: true },
          { key: 'c', value: b64('C'), expiresAt: new Date(T0 + 9000).toISOString() },
        ],
      },
    });
    expect(res.successfulKeyCount).toBe(3);
    expect(res.unsuccessfulKeys).toEqual([]);
    expect(res.results.map((r) => [r.key, r.ok, r.revision, r.created])).toEqual([
      ['a', true, 1, true],
      ['b', true, 2, true],
      ['c', true, 3, true],
    ]);
    const a = await h.call('GET', entryPath('s', 'a'));
    expect(a.headers.get('content-type')).toBe('application/json');
    expect(decodeURIComponent(a.headers.get('kv-metadata') ?? '')).toBe('{"m":1}');
    const b = await h.call('GET', entryPath('s', 'b'));
    expect(b.headers.get('kv-expires-at')).toBe(new Date(T0 + 5000).toISOString());
    expect(b.headers.get('kv-resume')).toBe('true');
    expect(b.headers.get('kv-scopes')).toBe('s1');
    expect(b.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('partial failure: bad items are reported, the others are written', async () => {
    const h = setup();
    await h.createStore('s', { maxValueBytes: 4 });
    await h.put('s', 'cas', 'v');
    await h.put('s', 'exists', 'v');
    const res = await h.json<BulkResult>('POST', '/v1/stores/s/bulk/set', 200, {
      json: {
        items: [
          { key: 'good', value: b64('ok') },
          { key: 'bad key', value: b64('x') },
          { key: 'big', value: b64('12345') },
          { key: 'cas', value: b64('new'), ifRevision: 99 },
          { key: 'exists', value: b64('new'), ifNotExists: true },
          { key: 'b64', value: '***' },
          { key: 'meta', value: b64('x'), metadata: { big: 'x'.repeat(1100) } },
          { key: 'cas', value: b64('new'), ifRevision: 1 },
          { key: 'both', value: b64('x'), ifRevision: 1, ifNotExists: true },
        ],
      },
    });
    expect(res.results.map((r) => [r.key, r.ok, r.error])).toEqual([
      ['good', true, undefined],
      ['bad key', false, 'validation_error'],
      ['big', false, 'payload_too_large'],
      ['cas', false, 'revision_mismatch'],
      ['exists', true, undefined],
      ['b64', false, 'validation_error'],
      ['meta', false, 'validation_error'],
      ['cas', true, undefined],
      ['both', false, 'validation_error'],
    ]);
    expect(res.results[4]).toMatchObject({ created: false, revision: 2 });
    expect(res.successfulKeyCount).toBe(3);
    expect(res.unsuccessfulKeys).toEqual(['bad key', 'big', 'cas', 'b64', 'meta', 'both']);
    expect(await (await h.call('GET', entryPath('s', 'good'))).text()).toBe('ok');
    expect(await (await h.call('GET', entryPath('s', 'exists'))).text()).toBe('v');
    expect(await (await h.call('GET', entryPath('s', 'cas'))).text()).toBe('new');
    expect((await h.call('GET', entryPath('s', 'big'))).status).toBe(404);
  });

  it('applies the store defaultTtlMs', async () => {
    const h = setup();
    await h.createStore('s', { defaultTtlMs: 1000 });
    await h.json('POST', '/v1/stores/s/bulk/set', 200, { json: { items: [{ key: 'k', value: b64('v') }] } });
    expect((await h.call('GET', entryPath('s', 'k'))).headers.get('kv-expires-at')).toBe(
      new Date(T0 + 1000).toISOString(),
    );
  });

  it('rejects a malformed body shape as a whole', async () => {
    const h = setup();
    await h.createStore('s');
    await h.error('POST', '/v1/stores/s/bulk/set', 400, 'validation_error', {
      json: { items: [{ key: 'a' }] },
    });
    await h.error('POST', '/v1/stores/s/bulk/set', 400, 'validation_error', { json: { items: 'nope' } });
    await h.error('POST', '/v1/stores/s/bulk/set', 400, 'validation_error', {
      json: { items: [{ key: 'a', value: '', color: 'red' }] },
    });
  });
});

describe('bulk delete', () => {
  it('deletes each key independently; missing keys are ok with created:false; bad keys fail', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'a', 'A');
    await h.put('s', 'b', 'B');
    const res = await h.json<BulkResult>('POST', '/v1/stores/s/bulk/delete', 200, {
      json: { keys: ['a', 'missing', 'bad key', 'b'] },
    });
    expect(res.results.map((r) => [r.key, r.ok, r.created ?? null, r.error ?? null])).toEqual([
      ['a', true, true, null],
      ['missing', true, false, null],
      ['bad key', false, null, 'validation_error'],
      ['b', true, true, null],
    ]);
    expect(res.successfulKeyCount).toBe(3);
    expect(res.unsuccessfulKeys).toEqual(['bad key']);
    expect((await h.call('GET', entryPath('s', 'a'))).status).toBe(404);
  });
});

describe('atomic', () => {
  it('applies checks and mutations all together, with consecutive revisions', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'balance', '10');
    const res = await h.json('POST', '/v1/stores/s/atomic', 200, {
      json: {
        checks: [
          { key: 'balance', revision: 1 },
          { key: 'lock', revision: null },
        ],
        mutations: [
          { type: 'set', key: 'balance', value: b64('5') },
          { type: 'set', key: 'log.1', value: b64('-5'), scopes: ['audit'] },
          { type: 'delete', key: 'nothing-here' },
        ],
      },
    });
    expect(res).toEqual({ ok: true, revision: 3 });
    expect(await (await h.call('GET', entryPath('s', 'balance'))).text()).toBe('5');
    expect((await h.call('GET', entryPath('s', 'log.1'))).headers.get('kv-revision')).toBe('3');
  });

  it('a failed check writes nothing and answers 412 with failedKeys', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'a', 'A');
    await h.put('s', 'b', 'B');
    const body = await h.error('POST', '/v1/stores/s/atomic', 412, 'revision_mismatch', {
      json: {
        checks: [
          { key: 'a', revision: 1 },
          { key: 'b', revision: null },
          { key: 'c', revision: 7 },
        ],
        mutations: [
          { type: 'set', key: 'a', value: b64('changed') },
          { type: 'delete', key: 'b' },
        ],
      },
    });
    const failedKeys = body.error.details?.failedKeys as string[];
    expect([...failedKeys].sort()).toEqual(['b', 'c']);
    expect(await (await h.call('GET', entryPath('s', 'a'))).text()).toBe('A');
    expect((await h.call('GET', entryPath('s', 'b'))).status).toBe(200);
    expect((await h.json<{ revision: number }>('GET', '/v1/stores/s', 200)).revision).toBe(2);
  });

  it('an invalid mutation rejects the whole commit (400 / 413) and writes nothing', async () => {
    const h = setup();
    await h.createStore('s', { maxValueBytes: 3 });
    const bad = await h.error('POST', '/v1/stores/s/atomic', 400, 'validation_error', {
      json: {
        mutations: [
          { type: 'set', key: 'ok', value: b64('x') },
          { type: 'set', key: 'bad key', value: b64('x') },
        ],
      },
    });
    expect(bad.error.details).toMatchObject({ index: 1, list: 'mutations' });
    await h.error('POST', '/v1/stores/s/atomic', 413, 'payload_too_large', {
      json: { mutations: [{ type: 'set', key: 'big', value: b64('1234') }] },
    });
    await h.error('POST', '/v1/stores/s/atomic', 400, 'validation_error', {
      json: { mutations: [{ type: 'rename', key: 'x' }] },
    });
    await h.error('POST', '/v1/stores/s/atomic', 400, 'validation_error', {
      json: { checks: [{ key: 'bad key', revision: null }], mutations: [] },
    });
    expect((await h.json<{ revision: number }>('GET', '/v1/stores/s', 200)).revision).toBe(0);
  });

  it('an empty commit succeeds at the current revision', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'a', 'A');
    expect(await h.json('POST', '/v1/stores/s/atomic', 200, { json: { mutations: [] } })).toEqual({
      ok: true,
      revision: 1,
    });
  });

  it('atomic counter: concurrent read-check-increment commits never lose an update', async () => {
    const h = setup();
    await h.createStore('s');
    await h.put('s', 'n', '0');
    const increment = async (): Promise<void> => {
      for (;;) {
        const cur = await h.call('GET', entryPath('s', 'n'));
        const revision = Number(cur.headers.get('kv-revision'));
        const value = Number(await cur.text());
        const res = await h.call('POST', '/v1/stores/s/atomic', {
          json: {
            checks: [{ key: 'n', revision }],
            mutations: [{ type: 'set', key: 'n', value: b64(String(value + 1)) }],
          },
        });
        if (res.status === 200) return;
        expect(res.status).toBe(412);
      }
    };
    await Promise.all(Array.from({ length: 10 }, increment));
    expect(await (await h.call('GET', entryPath('s', 'n'))).text()).toBe('10');
  });
});

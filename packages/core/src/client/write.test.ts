/**
 * The prepared write (`write.ts`): what `set`, `create`, `update`, `setMany` and `atomic().set` send is
 * built from one check and one encoding of the write. Most tests go through the client with a scripted
 * `fetch`, so they state the wire forms the client sends whatever builds them.
 */
import { describe, expect, it } from 'vitest';
import { isKvError, type KvError, ValidationError } from '../errors.js';
import { validateMetadata } from '../validation.js';
import { createHttpClient, type FetchLike } from './index.js';
import { storeWriter } from './store.js';
import { prepareWrite, putHeaders, toWireWrite } from './write.js';

/** Records each request and answers it with `answer`, or throws when `answer` is absent. */
function recording(answer?: (req: Request) => Response) {
  const requests: Request[] = [];
  const fetch: FetchLike = async (input, init) => {
    const req = new Request(input, init);
    requests.push(req);
    if (answer === undefined) throw new Error('unexpected request');
    return answer(req);
  };
  return { fetch, requests };
}

const ok = (req: Request): Response => {
  const body = req.url.includes('/bulk/')
    ? { results: [], successfulKeyCount: 0, unsuccessfulKeys: [] }
    : req.url.endsWith('/atomic')
      ? { revision: 7 }
      : { id: 'id-1', revision: 3, created: true };
  return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
};

const headersOf = (req: Request): Record<string, string> => {
  const out: Record<string, string> = {};
  req.headers.forEach((value, name) => {
    if (name !== 'idempotency-key') out[name] = value;
  });
  return out;
};

const EXPIRES = '2030-01-02T03:04:05.000Z';
const OPTIONS = { metadata: { owner: 'ana', n: 1 }, scopes: ['a', 'team:b'], resume: true };
const OPTION_HEADERS = {
  'kv-metadata': encodeURIComponent('{"owner":"ana","n":1}'),
  'kv-scopes': 'a,team%3Ab',
  'kv-resume': 'true',
};

describe('the wire forms of a write', () => {
  it('set, create and update send one PUT with the options as headers and the encoded value as body', async () => {
    const { fetch, requests } = recording(ok);
    const store = createHttpClient({ url: 'http://kv.test', fetch, token: 't' }).store('s');
    await store.set('a/b', { total: 42 }, { ...OPTIONS, ttlMs: 60_000, ifRevision: 2 });
    await store.set('k', 'text', { expiresAt: new Date(EXPIRES), ifNotExists: true });
    await store.create('k', new Uint8Array([1, 2]), { contentType: 'image/png', ...OPTIONS });
    await store.update('k', 'v2', 5, { ttlMs: 1 });

    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'PUT http://kv.test/v1/stores/s/entries/a%2Fb',
      'PUT http://kv.test/v1/stores/s/entries/k',
      'PUT http://kv.test/v1/stores/s/entries/k',
      'PUT http://kv.test/v1/stores/s/entries/k',
    ]);
    const [set, setText, create, update] = requests as [Request, Request, Request, Request];
    expect(headersOf(set)).toEqual({
      authorization: 'Bearer t',
      'content-type': 'application/json',
      'kv-ttl-ms': '60000',
      ...OPTION_HEADERS,
      'if-match': '"2"',
    });
    expect(await set.text()).toBe('{"total":42}');
    expect(headersOf(setText)).toEqual({
      authorization: 'Bearer t',
      'content-type': 'text/plain; charset=utf-8',
      'kv-expires-at': EXPIRES,
      'kv-if-not-exists': 'true',
    });
    expect(headersOf(create)).toEqual({
      authorization: 'Bearer t',
      'content-type': 'image/png',
      ...OPTION_HEADERS,
      'if-none-match': '*',
    });
    expect(new Uint8Array(await create.arrayBuffer())).toEqual(new Uint8Array([1, 2]));
    expect(headersOf(update)).toEqual({
      authorization: 'Bearer t',
      'content-type': 'text/plain; charset=utf-8',
      'kv-ttl-ms': '1',
      'if-match': '"5"',
    });
    // Every write attempt carries an Idempotency-Key (retries are on by default).
    expect(requests.every((r) => r.headers.get('idempotency-key') !== null)).toBe(true);
  });

  it('setMany and atomic send the same write as JSON items, the value in base64', async () => {
    const { fetch, requests } = recording(ok);
    const store = createHttpClient({ url: 'http://kv.test', fetch }).store('s');
    await store.setMany([
      { key: 'a', value: { total: 42 }, ...OPTIONS, ttlMs: 60_000, ifRevision: 2 },
      { key: 'b', value: new Blob(['hi'], { type: 'text/x-hi' }), expiresAt: EXPIRES, ifNotExists: false },
    ]);
    await store
      .atomic()
      .check('a', 3)
      .set('a', 'text', { ...OPTIONS, expiresAt: Date.parse(EXPIRES) })
      .delete('b')
      .commit();

    expect(await requests[0]?.json()).toEqual({
      items: [
        {
          key: 'a',
          value: btoa('{"total":42}'),
          contentType: 'application/json',
          ttlMs: 60_000,
          ...OPTIONS,
          ifRevision: 2,
        },
        { key: 'b', value: btoa('hi'), contentType: 'text/x-hi', expiresAt: EXPIRES, ifNotExists: false },
      ],
    });
    expect(await requests[1]?.json()).toEqual({
      checks: [{ key: 'a', revision: 3 }],
      mutations: [
        {
          type: 'set',
          key: 'a',
          value: btoa('text'),
          contentType: 'text/plain; charset=utf-8',
          expiresAt: EXPIRES,
          ...OPTIONS,
        },
        { type: 'delete', key: 'b' },
      ],
    });
  });

  it('derives both forms from one prepared write', async () => {
    const write = prepareWrite('k', [1, 'two'], { ...OPTIONS, ttlMs: 5, ifNotExists: true });
    expect(putHeaders(write)).toEqual({
      'content-type': 'application/json',
      'kv-ttl-ms': '5',
      ...OPTION_HEADERS,
      'kv-if-not-exists': 'true',
    });
    expect(await toWireWrite(write)).toEqual({
      key: 'k',
      value: btoa('[1,"two"]'),
      contentType: 'application/json',
      ttlMs: 5,
      ...OPTIONS,
      ifNotExists: true,
    });
    // A stream has a PUT form only: it can be read once and never retried.
    const stream = prepareWrite('k', new ReadableStream<Uint8Array>());
    expect(putHeaders(stream)).toEqual({ 'content-type': 'application/octet-stream' });
    await expect(toWireWrite(stream)).rejects.toMatchObject({ details: { field: 'value', reason: 'type' } });
  });
});

describe('sending a prepared write', () => {
  it('a retried PUT sends the whole body on every attempt (bytes, text, JSON, Blob)', async () => {
    const fail = () => new Response('{"error":{"code":"internal","message":"x"}}', { status: 500 });
    for (const [value, bytes] of [
      [new Uint8Array([0, 1, 255]), [0, 1, 255]],
      ['héllo', [...new TextEncoder().encode('héllo')]],
      [{ a: 1 }, [...new TextEncoder().encode('{"a":1}')]],
      [new Blob([new Uint8Array([7, 8])]), [7, 8]],
    ] as const) {
      let attempt = 0;
      const { fetch, requests } = recording((req) => (++attempt < 3 ? fail() : ok(req)));
      const store = createHttpClient({ url: 'http://kv.test', fetch, retry: { backoffMs: 0 } }).store('s');
      await store.set('k', value as Uint8Array | string | { a: number } | Blob);
      expect(requests).toHaveLength(3);
      for (const req of requests) expect([...new Uint8Array(await req.arrayBuffer())]).toEqual(bytes);
    }
  });
});

describe('checked once, before anything is sent', () => {
  it('reads each option once per write on every path (one metadata check, nothing re-checked)', async () => {
    let reads = 0;
    const metadata = {
      get owner() {
        reads += 1;
        return 'ana';
      },
    };
    validateMetadata(metadata);
    const perCheck = reads;
    expect(perCheck).toBeGreaterThan(0);

    const { fetch } = recording(ok);
    const store = createHttpClient({ url: 'http://kv.test', fetch }).store('s');
    const paths: Array<[string, () => Promise<unknown>]> = [
      ['set', () => store.set('k', 1, { metadata })],
      ['create', () => store.create('k', 1, { metadata })],
      ['update', () => store.update('k', 1, 2, { metadata })],
      ['setMany', () => store.setMany([{ key: 'k', value: 1, metadata }])],
      ['atomic', () => store.atomic().set('k', 1, { metadata }).commit()],
    ];
    for (const [name, run] of paths) {
      reads = 0;
      await run();
      expect({ name, reads }).toEqual({ name, reads: perCheck });
    }
  });

  const BAD: Array<[string, Record<string, unknown>, string]> = [
    ['ttlMs', { ttlMs: -1 }, 'ttlMs'],
    ['expiresAt', { expiresAt: 'not a date' }, 'expiresAt'],
    ['ttlMs with expiresAt', { ttlMs: 1000, expiresAt: EXPIRES }, 'expiresAt'],
    ['metadata', { metadata: ['not', 'an', 'object'] }, 'metadata'],
    ['scopes', { scopes: [''] }, 'scopes'],
    ['resume', { resume: 'yes' }, 'resume'],
  ];
  const CONDITIONS: Array<[string, Record<string, unknown>, string]> = [
    ['ifNotExists', { ifNotExists: 'yes' }, 'ifNotExists'],
    ['ifRevision', { ifRevision: -1 }, 'ifRevision'],
    ['ifNotExists with ifRevision', { ifNotExists: true, ifRevision: 1 }, 'ifRevision'],
  ];

  it('a bad option throws a ValidationError naming it, before any request, on every path', async () => {
    const errors: KvError[] = [];
    const { fetch, requests } = recording();
    const store = createHttpClient({ url: 'http://kv.test', fetch, onError: (e) => errors.push(e) }).store(
      's',
    );
    const calls: Array<[string, (options: Record<string, unknown>) => Promise<unknown>, boolean]> = [
      ['set', (o) => store.set('k', 'v', o), true],
      ['create', (o) => store.create('k', 'v', o), false],
      ['update', (o) => store.update('k', 'v', 1, o), false],
      [
        'setMany',
        (o) =>
          store.setMany([
            { key: 'ok', value: 1 },
            { key: 'k', value: 'v', ...o },
          ]),
        true,
      ],
      ['atomic', (o) => store.atomic().set('k', 'v', o).commit(), false],
      ['writer.prepare', async (o) => storeWriter(store).prepare('k', 'v', o), true],
    ];
    for (const [path, call, takesConditions] of calls) {
      for (const [what, options, field] of takesConditions ? [...BAD, ...CONDITIONS] : BAD) {
        const error = await call(options).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect({ path, what, error: error instanceof ValidationError }).toEqual({ path, what, error: true });
        expect({ path, what, field: (error as KvError).details?.field }).toEqual({ path, what, field });
        // Reported to onError once, as every failed operation is.
        expect(errors.at(-1)).toBe(error);
      }
    }
    expect(requests).toHaveLength(0);
    expect(errors.every((e) => isKvError(e))).toBe(true);
  });

  it('a bad key throws before any request on every path', async () => {
    const { fetch, requests } = recording();
    const store = createHttpClient({ url: 'http://kv.test', fetch }).store('s');
    for (const run of [
      () => store.set('', 'v'),
      () => store.create('', 'v'),
      () => store.update('', 'v', 1),
      () => store.setMany([{ key: '', value: 'v' }]),
      () => store.atomic().set('', 'v').commit(),
    ]) {
      await expect(run()).rejects.toMatchObject({ code: 'validation_error', details: { field: 'key' } });
    }
    expect(requests).toHaveLength(0);
  });
});

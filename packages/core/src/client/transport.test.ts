import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  type KvError,
  KvError as KvErrorClass,
  NetworkError,
  RateLimitedError,
  ServerError,
  StoreNotFoundError,
  TimeoutError,
  UnauthenticatedError,
  ValidationError,
} from '../errors.js';
import { LIMITS } from '../limits.js';
import { createHttpClient, type FetchLike, parseRetryAfterMs } from './index.js';

/** A scripted fetch: each call takes the next step (a Response, or an error to throw). */
function scripted(steps: Array<Response | Error | ((req: Request) => Response | Promise<Response>)>) {
  const requests: Request[] = [];
  const fetch: FetchLike = async (input, init) => {
    const req = new Request(input, init);
    requests.push(req);
    const step = steps.shift();
    if (step === undefined) throw new Error('unexpected request');
    if (step instanceof Error) throw step;
    if (typeof step === 'function') return step(req);
    return step;
  };
  return { fetch, requests };
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const wireError = (status: number, code: string, headers: Record<string, string> = {}): Response =>
  json({ error: { code, message: `${code} happened` } }, status, headers);

const fast = { backoffMs: 0, maxBackoffMs: 0 };

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('createHttpClient options', () => {
  it('throws a ValidationError saying how to fix a missing fetch', () => {
    vi.stubGlobal('fetch', undefined);
    let error: unknown;
    try {
      createHttpClient({ url: 'http://kv.test' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/Pass one to the client/);
    expect((error as KvError).details).toMatchObject({ field: 'fetch', reason: 'missing' });
  });

  it('rejects a missing or non-http url', () => {
    const { fetch } = scripted([]);
    expect(() => createHttpClient({ url: '', fetch })).toThrow(ConfigurationError);
    expect(() => createHttpClient({ url: 'not a url', fetch })).toThrow(ConfigurationError);
    expect(() => createHttpClient({ url: 'ftp://kv.test', fetch })).toThrow(ConfigurationError);
    expect(() => createHttpClient({ url: 'ftp://kv.test', fetch })).toThrow(/http: or https:/);
  });

  it('rejects bad timeouts and retry settings', () => {
    const { fetch } = scripted([]);
    expect(() => createHttpClient({ url: 'http://kv.test', fetch, timeoutMs: 0 })).toThrow(ValidationError);
    expect(() => createHttpClient({ url: 'http://kv.test', fetch, retry: { limit: -1 } })).toThrow(
      ValidationError,
    );
  });

  it('sends the token, extra headers, and keeps a path prefix of the url', async () => {
    const { fetch, requests } = scripted([json({ items: [] })]);
    const client = createHttpClient({
      url: 'http://kv.test/base/',
      token: 'secret',
      headers: { 'x-trace': 't1', Authorization: 'Basic nope' },
      fetch,
    });
    expect(client.url).toBe('http://kv.test/base');
    expect(await client.stores.list()).toEqual([]);
    const req = requests[0] as Request;
    expect(req.url).toBe('http://kv.test/base/v1/stores');
    expect(req.headers.get('authorization')).toBe('Bearer secret');
    expect(req.headers.get('x-trace')).toBe('t1');
  });

  it('beforeRequest adds headers of the moment to each call (kept on its retries) and to a watch', async () => {
    const { fetch, requests } = scripted([
      new TypeError('fetch failed'),
      json({ items: [] }),
      json({ items: [] }),
      new Response('', { headers: { 'content-type': 'text/event-stream' } }),
    ]);
    let n = 0;
    const client = createHttpClient({
      url: 'http://kv.test',
      token: 'secret',
      fetch,
      retry: fast,
      beforeRequest: (headers) => {
        n++;
        headers.traceparent = `00-${'1'.repeat(32)}-${String(n).padStart(16, '0')}-01`;
      },
    });
    await client.stores.list();
    await client.stores.list();
    expect(requests.map((r) => r.headers.get('traceparent')?.slice(-5))).toEqual(['01-01', '01-01', '02-01']);
    expect(requests[0]?.headers.get('authorization')).toBe('Bearer secret');
    const watch = client.store('s').watch({}, {});
    await vi.waitFor(() => expect(requests).toHaveLength(4));
    watch.stop();
    await watch.closed;
    expect(requests[3]?.headers.get('traceparent')?.slice(-5)).toBe('03-01');
  });

  it('still sends the request when beforeRequest throws, and refuses a non-function', async () => {
    const { fetch, requests } = scripted([json({ items: [] })]);
    const client = createHttpClient({
      url: 'http://kv.test',
      fetch,
      beforeRequest: (headers) => {
        headers['x-partial'] = '1';
        throw new Error('tracing is broken');
      },
    });
    expect(await client.stores.list()).toEqual([]);
    expect(requests).toHaveLength(1);
    expect(() =>
      createHttpClient({ url: 'http://kv.test', fetch, beforeRequest: 'no' as unknown as () => void }),
    ).toThrow(ValidationError);
  });

  it('percent-encodes keys and store names into one path segment', async () => {
    const { fetch, requests } = scripted([new Response('v', { headers: { 'content-type': 'text/plain' } })]);
    const client = createHttpClient({ url: 'http://kv.test', fetch });
    expect(await client.store('s_1').get('a/b?c#d%e')).toBe('v');
    expect((requests[0] as Request).url).toBe('http://kv.test/v1/stores/s_1/entries/a%2Fb%3Fc%23d%25e');
  });
});

describe('retries', () => {
  it('retries an idempotent read after a network error and a 503, then succeeds', async () => {
    const { fetch, requests } = scripted([
      new TypeError('fetch failed'),
      wireError(503, 'unavailable', { 'retry-after': '0' }),
      new Response('hello', { headers: { 'content-type': 'text/plain' } }),
    ]);
    const client = createHttpClient({ url: 'http://kv.test', fetch, retry: fast });
    expect(await client.store('s').get('k')).toBe('hello');
    expect(requests).toHaveLength(3);
  });

  it('gives up after `limit` retries with the last error, cause attached, and reports it once', async () => {
    const cause = new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') });
    const { fetch, requests } = scripted([cause, cause, cause]);
    const seen: KvError[] = [];
    const client = createHttpClient({
      url: 'http://kv.test',
      fetch,
      retry: { ...fast, limit: 2 },
      onError: (e) => seen.push(e),
    });
    const error = await client
      .store('s')
      .get('k')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).status).toBe(0);
    expect((error as NetworkError).code).toBe('network_error');
    expect((error as NetworkError).cause).toBe(cause);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect(requests).toHaveLength(3);
    expect(seen).toEqual([error]);
  });

  it('reads `retry: 0` and `retry: false` as no retry, and a number as the retry count', async () => {
    const failing = () => new TypeError('fetch failed');
    for (const retry of [0, false] as const) {
      const { fetch, requests } = scripted([failing(), failing(), failing()]);
      const client = createHttpClient({ url: 'http://kv.test', fetch, retry });
      await expect(client.store('s').get('k')).rejects.toBeInstanceOf(NetworkError);
      expect(requests).toHaveLength(1);
    }
    // A count with no other options keeps the default backoff (300 ms): one retry, two requests.
    const { fetch, requests } = scripted([
      failing(),
      new Response('v', { headers: { 'content-type': 'text/plain' } }),
    ]);
    const client = createHttpClient({ url: 'http://kv.test', fetch, retry: 1 });
    expect(await client.store('s').get('k')).toBe('v');
    expect(requests).toHaveLength(2);
  });

  it('refuses a negative, non-integer or mistyped retry option before sending anything', () => {
    const { fetch, requests } = scripted([]);
    for (const retry of [-1, 1.5, Number.NaN, '2', null, [1]]) {
      const make = () => createHttpClient({ url: 'http://kv.test', fetch, retry: retry as never });
      expect(make).toThrow(ValidationError);
      const field = (() => {
        try {
          make();
        } catch (e) {
          return (e as ValidationError).details;
        }
      })();
      expect(field).toMatchObject({ field: expect.stringMatching(/^retry/) });
    }
    expect(requests).toHaveLength(0);
  });

  it('does not retry client errors (4xx other than 408/429)', async () => {
    const { fetch, requests } = scripted([wireError(401, 'unauthenticated', { 'kv-request-id': 'req-1' })]);
    const client = createHttpClient({ url: 'http://kv.test', fetch, retry: fast });
    const error = await client
      .store('s')
      .get('k')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as KvError).requestId).toBe('req-1');
    expect((error as KvError).status).toBe(401);
    expect(requests).toHaveLength(1);
  });

  it('maps an exhausted 429 to RateLimitedError with retryAfterMs', async () => {
    const limited = () => wireError(429, 'rate_limited', { 'retry-after': '0' });
    const { fetch, requests } = scripted([limited(), limited()]);
    const client = createHttpClient({ url: 'http://kv.test', fetch, retry: { ...fast, limit: 1 } });
    const error = await client
      .store('s')
      .exists('k')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(0);
    expect(requests).toHaveLength(2);
  });

  it('maps a 5xx without a kv body (a proxy) to ServerError', async () => {
    const { fetch } = scripted([new Response('<html>bad gateway</html>', { status: 502 })]);
    const client = createHttpClient({ url: 'http://kv.test', fetch, retry: false });
    const error = await client.stores.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as KvError).status).toBe(502);
  });

  it('sends conditional writes with an Idempotency-Key and reuses it on every retry', async () => {
    const result = { id: 'id1', revision: 7, created: true };
    const { fetch, requests } = scripted([
      new TypeError('fetch failed'),
      wireError(500, 'internal'),
      json(result, 201),
    ]);
    const client = createHttpClient({ url: 'http://kv.test', fetch, retry: fast });
    expect(await client.store('s').create('k', { a: 1 })).toEqual(result);
    expect(requests).toHaveLength(3);
    const keys = requests.map((r) => r.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(keys).size).toBe(1);
    expect(requests[2]?.headers.get('if-none-match')).toBe('*');
    expect(await requests[2]?.json()).toEqual({ a: 1 });
  });

  it('uses a fresh Idempotency-Key for each call', async () => {
    const result = { id: 'id1', revision: 7, created: false };
    const { fetch, requests } = scripted([json(result), json(result)]);
    const client = createHttpClient({ url: 'http://kv.test', fetch });
    await client.store('s').update('k', 'v', 6);
    await client.store('s').update('k', 'v', 7);
    expect(requests[0]?.headers.get('idempotency-key')).not.toBe(requests[1]?.headers.get('idempotency-key'));
    expect(requests[0]?.headers.get('if-match')).toBe('"6"');
  });

  it('sends plain writes with an Idempotency-Key too, and none when retries are off', async () => {
    const result = { id: 'i', revision: 1, created: true };
    const { fetch, requests } = scripted([json(result), json(result)]);
    await createHttpClient({ url: 'http://kv.test', fetch }).store('s').set('k', 'v');
    expect(requests[0]?.headers.get('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/);
    await createHttpClient({ url: 'http://kv.test', fetch, retry: false }).store('s').set('k', 'v');
    expect(requests[1]?.headers.has('idempotency-key')).toBe(false);
  });

  /** Every write of the client, and the response its second attempt gets. */
  const writes: Array<[string, (c: ReturnType<typeof createHttpClient>) => Promise<unknown>, Response]> = [
    ['set', (c) => c.store('s').set('k', 'v'), json({ id: 'i', revision: 1, created: true }, 201)],
    [
      'set ifNotExists',
      (c) => c.store('s').set('k', 'v', { ifNotExists: true }),
      json({ id: 'i', revision: 1, created: true }, 201),
    ],
    ['create', (c) => c.store('s').create('k', 'v'), json({ id: 'i', revision: 1, created: true }, 201)],
    ['update', (c) => c.store('s').update('k', 'v', 1), json({ id: 'i', revision: 2, created: false })],
    ['delete', (c) => c.store('s').delete('k'), json({ deleted: true })],
    ['delete ifRevision', (c) => c.store('s').delete('k', { ifRevision: 1 }), json({ deleted: true })],
    ['purge', (c) => c.store('s').purge('k'), json({ deleted: true })],
    ['setExpiry', (c) => c.store('s').setExpiry('k', null), json({ existed: true, revision: 2 })],
    [
      'setMany',
      (c) => c.store('s').setMany([{ key: 'k', value: 1 }]),
      json({ results: [], successfulKeyCount: 0, unsuccessfulKeys: [] }),
    ],
    [
      'deleteMany',
      (c) => c.store('s').deleteMany(['k']),
      json({ results: [], successfulKeyCount: 0, unsuccessfulKeys: [] }),
    ],
    ['atomic', (c) => c.store('s').atomic().set('k', 1).commit(), json({ revision: 1 })],
    ['stores.create', (c) => c.stores.create('s'), json({ name: 's' }, 201)],
    ['stores.update', (c) => c.stores.update('s', { history: 2 }), json({ name: 's' })],
    ['stores.delete', (c) => c.stores.delete('s'), json({ deleted: true })],
  ];

  it.each(writes)(
    'retries %s after a failure only with one Idempotency-Key on every attempt',
    async (_name, call, ok) => {
      const { fetch, requests } = scripted([new TypeError('fetch failed'), ok]);
      await call(createHttpClient({ url: 'http://kv.test', fetch, retry: fast }));
      expect(requests).toHaveLength(2);
      const keys = requests.map((r) => r.headers.get('idempotency-key'));
      expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(keys[1]).toBe(keys[0]);
    },
  );

  it.each<[string, (c: ReturnType<typeof createHttpClient>) => Promise<unknown>]>([
    ['tokens.create', (c) => c.tokens.create({ capabilities: ['kv:get'] })],
    ['tokens.revoke', (c) => c.tokens.revoke('t1')],
    ['rotateSigningSecret', (c) => c.store('s').rotateSigningSecret()],
  ])('sends %s once: the server keeps no idempotency record for it', async (_name, call) => {
    const { fetch, requests } = scripted([new TypeError('fetch failed'), json({})]);
    await expect(
      call(createHttpClient({ url: 'http://kv.test', fetch, retry: fast })),
    ).rejects.toBeInstanceOf(NetworkError);
    expect(requests).toHaveLength(1);
  });

  it('never retries a streamed upload', async () => {
    const { fetch, requests } = scripted([new TypeError('fetch failed'), json({})]);
    const client = createHttpClient({ url: 'http://kv.test', fetch, retry: fast });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array([1, 2, 3]));
        c.close();
      },
    });
    await expect(client.store('s').set('k', stream)).rejects.toBeInstanceOf(NetworkError);
    expect(requests).toHaveLength(1);
  });

  it('turns a slow response into TimeoutError', async () => {
    const fetch: FetchLike = (input, init) =>
      new Promise((_resolve, reject) => {
        const signal = input instanceof Request ? input.signal : init?.signal;
        signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const seen: KvError[] = [];
    const client = createHttpClient({
      url: 'http://kv.test',
      fetch,
      timeoutMs: 20,
      retry: { ...fast, limit: 1 },
      onError: (e) => seen.push(e),
    });
    const error = await client
      .store('s')
      .get('k')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as KvError).code).toBe('timeout');
    expect((error as KvError).status).toBe(0);
    expect((error as Error).message).toMatch(/20 ms/);
    expect(seen).toHaveLength(1);
  });
});

describe('errors and onError', () => {
  it('turns store_not_found into StoreNotFoundError but a missing key into undefined', async () => {
    const { fetch } = scripted([wireError(404, 'key_not_found'), wireError(404, 'store_not_found')]);
    const seen: KvError[] = [];
    const client = createHttpClient({ url: 'http://kv.test', fetch, onError: (e) => seen.push(e) });
    expect(await client.store('s').getJson('missing')).toBeUndefined();
    await expect(client.store('nope').get('k')).rejects.toBeInstanceOf(StoreNotFoundError);
    expect(seen.map((e) => e.code)).toEqual(['store_not_found']);
  });

  it('reports client-side validation errors to onError without sending anything', async () => {
    const { fetch, requests } = scripted([]);
    const seen: KvError[] = [];
    const client = createHttpClient({ url: 'http://kv.test', fetch, onError: (e) => seen.push(e) });
    await expect(client.store('s').set('a b', 1)).rejects.toBeInstanceOf(ValidationError);
    await expect(client.store('s').set('k', 1, { ttlMs: 1, expiresAt: Date.now() })).rejects.toThrow(
      /combined/,
    );
    expect(() => client.store('bad name!')).toThrow(ValidationError);
    expect(requests).toHaveLength(0);
    expect(seen).toHaveLength(2);
  });

  it('refuses a TTL or expiry past the limits before sending (set, setMany, atomic, setExpiry, stores)', async () => {
    const { fetch, requests } = scripted([]);
    const client = createHttpClient({ url: 'http://kv.test', fetch });
    const store = client.store('s');
    const huge = 9_000_000_000_000_000;
    const late = '9999-12-31T23:59:59.999-01:00';
    const refusals: Array<[Promise<unknown>, string]> = [
      [store.set('k', 1, { ttlMs: huge }), 'ttlMs'],
      [store.set('k', 1, { ttlMs: LIMITS.maxTtlMs + 1 }), 'ttlMs'],
      [store.set('k', 1, { expiresAt: late }), 'expiresAt'],
      [store.set('k', 1, { expiresAt: 8.64e15 }), 'expiresAt'],
      [store.setMany([{ key: 'k', value: 1, ttlMs: huge }]), 'ttlMs'],
      [store.atomic().set('k', 1, { ttlMs: huge }).commit(), 'ttlMs'],
      [store.setExpiry('k', new Date(8.64e15)), 'expiresAt'],
      [client.stores.create('s', { defaultTtlMs: 9e15 }), 'defaultTtlMs'],
      [client.stores.update('s', { defaultTtlMs: LIMITS.maxTtlMs + 1 }), 'defaultTtlMs'],
    ];
    for (const [call, field] of refusals) {
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as KvError).details).toMatchObject({ field, reason: 'out_of_range' });
    }
    expect(requests).toHaveLength(0);
  });

  it('survives an onError hook that throws', async () => {
    const { fetch } = scripted([wireError(404, 'store_not_found')]);
    const client = createHttpClient({
      url: 'http://kv.test',
      fetch,
      onError: () => {
        throw new Error('hook failed');
      },
    });
    await expect(client.store('s').get('k')).rejects.toBeInstanceOf(StoreNotFoundError);
  });

  it('reports a getJson of non-JSON bytes as invalid_json', async () => {
    const { fetch } = scripted([new Response('not json', { headers: { 'content-type': 'text/plain' } })]);
    const client = createHttpClient({ url: 'http://kv.test', fetch });
    const error = await client
      .store('s')
      .getJson('k')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KvErrorClass);
    expect((error as KvError).code).toBe('invalid_json');
  });
});

describe('Retry-After', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A GET answered 503 `Retry-After: retryAfter`, then 200; the client has zero backoff. */
  function retryAfterCase(retryAfter: string, retry: Record<string, number> = {}, status = 503) {
    vi.useFakeTimers();
    const { fetch, requests } = scripted([
      wireError(status, status === 429 ? 'rate_limited' : 'unavailable', { 'retry-after': retryAfter }),
      new Response('ok', { headers: { 'content-type': 'text/plain' } }),
    ]);
    const client = createHttpClient({ url: 'http://kv.test', fetch, retry: { ...fast, ...retry } });
    const result = client.store('s').get('k');
    return { requests, result };
  }

  it('waits the Retry-After seconds of a 503 before retrying, although the backoff is zero', async () => {
    const { requests, result } = retryAfterCase('2');
    await vi.advanceTimersByTimeAsync(1_999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(2);
    expect(await result).toBe('ok');
  });

  it('waits the Retry-After seconds of a 429 (a rate-limited token) before its one retry, never sooner', async () => {
    const { requests, result } = retryAfterCase('3', {}, 429);
    await vi.advanceTimersByTimeAsync(2_999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(2);
    expect(await result).toBe('ok');
  });

  it('caps the Retry-After wait at maxRetryAfterMs', async () => {
    const { requests, result } = retryAfterCase('120', { maxRetryAfterMs: 5_000 });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(2);
    expect(await result).toBe('ok');
  });

  it('reads an HTTP-date Retry-After against the clock', async () => {
    vi.useFakeTimers({ now: Date.parse('2030-01-01T00:00:00Z') });
    const { requests, result } = retryAfterCase('Tue, 01 Jan 2030 00:00:03 GMT');
    await vi.advanceTimersByTimeAsync(2_999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(2);
    expect(await result).toBe('ok');
  });
});

describe('parseRetryAfterMs', () => {
  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfterMs('2')).toBe(2000);
    expect(parseRetryAfterMs('0.5')).toBe(500);
    expect(parseRetryAfterMs(null)).toBeUndefined();
    expect(parseRetryAfterMs('soon')).toBeUndefined();
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfterMs('Wed, 01 Jan 2024 00:00:10 GMT', now)).toBe(0);
  });
});

describe('watch wiring', () => {
  it('opens the store watch route with the client headers and decodes SSE events', async () => {
    const wire = (type: string, key: string, revision: number, value?: string) =>
      JSON.stringify({
        type,
        store: 's',
        key,
        id: 'id-1',
        revision,
        contentType: 'application/json',
        metadata: null,
        scopes: [],
        createdAt: '2025-01-01T00:00:00.000Z',
        updatedAt: '2025-01-01T00:00:00.000Z',
        expiresAt: null,
        resume: false,
        size: value === undefined ? 0 : 7,
        ...(value === undefined ? {} : { value }),
      });
    const body =
      `id: 4\nevent: ready\ndata: {"revision":4}\n\n` +
      `id: 5\nevent: put\ndata: ${wire('put', 'user.1', 5, btoa('{"a":1}'))}\n\n` +
      `id: 6\nevent: delete\ndata: ${wire('delete', 'user.1', 6)}\n\n`;
    const { fetch, requests } = scripted([
      new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
      new Response('', { headers: { 'content-type': 'text/event-stream' } }),
    ]);
    const client = createHttpClient({ url: 'http://kv.test', token: 't', fetch });
    const watch = client.store('s').watch({ match: 'user.*', fromRevision: 4 }, {});
    const events: unknown[] = [];
    for await (const event of watch) {
      events.push([event.type, event.key, event.revision, event.value]);
      if (events.length === 2) break;
    }
    await watch.closed;
    expect(events).toEqual([
      ['put', 'user.1', 5, { a: 1 }],
      ['delete', 'user.1', 6, undefined],
    ]);
    const url = new URL((requests[0] as Request).url);
    expect(url.pathname).toBe('/v1/stores/s/watch');
    expect(url.searchParams.get('match')).toBe('user.*');
    expect(url.searchParams.get('fromRevision')).toBe('4');
    expect((requests[0] as Request).headers.get('authorization')).toBe('Bearer t');
  });

  it('reports a fatal watch error to onError and the callbacks, then closes', async () => {
    const { fetch } = scripted([wireError(404, 'store_not_found')]);
    const seen: KvError[] = [];
    const callbackErrors: KvError[] = [];
    let closed = false;
    const client = createHttpClient({ url: 'http://kv.test', fetch, onError: (e) => seen.push(e) });
    const watch = client.store('gone').watch(
      {},
      {
        onUpdate: () => {},
        onError: (e) => callbackErrors.push(e),
        onClose: () => {
          closed = true;
        },
      },
    );
    await watch.closed;
    expect(closed).toBe(true);
    expect(callbackErrors[0]).toBeInstanceOf(StoreNotFoundError);
    expect(seen).toEqual(callbackErrors);
    expect(() => client.store('s').watch({ key: 'bad key' })).toThrow(ValidationError);
    expect(seen).toHaveLength(2);
  });
});

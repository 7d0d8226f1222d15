/**
 * The engine's single-entry fast path (`GET`/`HEAD`/`PUT` of one entry without hono) must answer exactly
 * as the hono app does: two engines in the same state get the same requests, one through
 * `engine.fetch` (fast path) and one through `engine.app.fetch` (routing, middleware, zod), and every
 * answer (status, every header, body bytes) must be identical.
 */
import { describe, expect, it } from 'vitest';
import { ensureToken, MemoryTokenStore } from './auth.js';
import { createEngine, type Engine } from './engine.js';
import { type BodyReader, READ_BODY } from './http.js';
import { MemoryStorage } from './memory-storage.js';

const ORIGIN = 'http://kv.test';
const ADMIN = 'kv_fast-path-admin-secret-0123456789';
const SCOPED = 'kv_fast-path-scoped-secret-0123456789';

interface Step {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

async function twin(auth: boolean): Promise<{ fast: Engine; app: Engine }> {
  const make = async (): Promise<Engine> => {
    let id = 0;
    const tokens = new MemoryTokenStore();
    if (auth) {
      await ensureToken(tokens, { secret: ADMIN, capabilities: ['*'] }, 1);
      await ensureToken(
        tokens,
        { secret: SCOPED, capabilities: ['kv[orders:eu]:get', 'kv[orders:eu]:set'] },
        1,
      );
    }
    return createEngine({
      storage: new MemoryStorage(),
      clock: () => Date.UTC(2030, 0, 1),
      generateId: () => `id-${++id}`,
      ...(auth ? { auth: { tokens } } : {}),
    });
  };
  return { fast: await make(), app: await make() };
}

async function snapshot(res: Response): Promise<unknown> {
  return {
    status: res.status,
    headers: [...res.headers],
    body: res.body === null ? null : [...new Uint8Array(await res.arrayBuffer())],
  };
}

async function compare(engines: { fast: Engine; app: Engine }, steps: Step[]): Promise<number> {
  let n = 0;
  for (const [i, step] of steps.entries()) {
    const request = (): Request =>
      new Request(ORIGIN + step.path, {
        method: step.method,
        headers: { 'kv-request-id': `req-${i}`, ...step.headers },
        ...(step.body === undefined ? {} : { body: step.body }),
      });
    const a = await snapshot(await engines.fast.fetch(request()));
    const b = await snapshot(await engines.app.app.fetch(request()));
    expect(a, `${step.method} ${step.path} ${JSON.stringify(step.headers ?? {})}`).toEqual(b);
    n++;
  }
  return n;
}

const E = '/v1/stores/orders/entries';
const json = { 'content-type': 'application/json' };

function steps(authorization: Record<string, string>): Step[] {
  const a = authorization;
  return [
    { method: 'POST', path: '/v1/stores', headers: { ...a, ...json }, body: '{"name":"orders"}' },
    { method: 'GET', path: `${E}/k`, headers: a },
    { method: 'HEAD', path: `${E}/k`, headers: a },
    { method: 'PUT', path: `${E}/k`, headers: a, body: 'hello' },
    { method: 'PUT', path: `${E}/k`, headers: { ...a, 'content-type': 'text/plain' }, body: 'world' },
    { method: 'GET', path: `${E}/k`, headers: a },
    { method: 'HEAD', path: `${E}/k`, headers: a },
    { method: 'GET', path: `${E}/k`, headers: { ...a, 'if-none-match': '"2"' } },
    { method: 'HEAD', path: `${E}/k`, headers: { ...a, 'if-none-match': 'W/"1", "2"' } },
    { method: 'GET', path: `${E}/missing`, headers: a },
    { method: 'HEAD', path: `${E}/missing`, headers: a },
    { method: 'GET', path: '/v1/stores/nope/entries/k', headers: a },
    { method: 'PUT', path: '/v1/stores/nope/entries/k', headers: a, body: 'x' },
    { method: 'GET', path: '/v1/stores/Bad%20Name/entries/k', headers: a },
    { method: 'GET', path: `${E}/%E0%A4%A`, headers: a },
    { method: 'PUT', path: `${E}/a%2Fb%20c`, headers: a, body: new Uint8Array([0, 1, 255]) },
    { method: 'GET', path: `${E}/a%2Fb%20c`, headers: a },
    { method: 'PUT', path: `${E}/empty`, headers: a, body: '' },
    { method: 'GET', path: `${E}/empty`, headers: a },
    {
      method: 'PUT',
      path: `${E}/full`,
      headers: {
        ...a,
        'content-type': 'application/json',
        'kv-ttl-ms': '60000',
        'kv-metadata': encodeURIComponent('{"a":1}'),
        'kv-scopes': 'eu,us',
        'kv-resume': 'true',
      },
      body: '{"v":1}',
    },
    { method: 'GET', path: `${E}/full`, headers: a },
    { method: 'PUT', path: `${E}/full`, headers: { ...a, 'kv-if-not-exists': 'true' }, body: 'x' },
    { method: 'PUT', path: `${E}/full`, headers: { ...a, 'if-match': '"1"' }, body: 'x' },
    { method: 'PUT', path: `${E}/full`, headers: { ...a, 'if-match': 'nonsense' }, body: 'x' },
    { method: 'PUT', path: `${E}/new`, headers: { ...a, 'if-none-match': '*' }, body: 'x' },
    // Refused by the zod header schema: the fast path leaves these to the app.
    { method: 'PUT', path: `${E}/bad`, headers: { ...a, 'kv-ttl-ms': '-5' }, body: 'x' },
    { method: 'PUT', path: `${E}/bad`, headers: { ...a, 'kv-resume': 'yes' }, body: 'x' },
    { method: 'PUT', path: `${E}/bad`, headers: { ...a, 'kv-if-not-exists': 'TRUE' }, body: 'x' },
    { method: 'PUT', path: `${E}/bad`, headers: { ...a, 'if-none-match': '"3"' }, body: 'x' },
    // Refused by the handler.
    { method: 'PUT', path: `${E}/bad`, headers: { ...a, 'kv-ttl-ms': '0' }, body: 'x' },
    { method: 'PUT', path: `${E}/bad`, headers: { ...a, 'kv-metadata': '%7B' }, body: 'x' },
    { method: 'PUT', path: `${E}/bad`, headers: { ...a, 'content-type': 'nope' }, body: 'x' },
    { method: 'PUT', path: `${E}/bad`, headers: { ...a, 'content-length': 'abc' }, body: 'x' },
    { method: 'PUT', path: `${E}/${'k'.repeat(513)}`, headers: a, body: 'x' },
    // Idempotent retries: the stored answer is replayed, with this request's id.
    { method: 'PUT', path: `${E}/idem`, headers: { ...a, 'idempotency-key': 'i-1' }, body: 'x' },
    { method: 'PUT', path: `${E}/idem`, headers: { ...a, 'idempotency-key': 'i-1' }, body: 'x' },
    { method: 'PUT', path: `${E}/idem`, headers: { ...a, 'idempotency-key': 'i-1' }, body: 'y' },
    // Not fast-path shapes: query strings, trailing slashes, other methods.
    { method: 'GET', path: `${E}/k?x=1`, headers: a },
    { method: 'GET', path: `${E}/k/`, headers: a },
    { method: 'DELETE', path: `${E}/k`, headers: a },
  ];
}

describe('single-entry fast path', () => {
  it('answers as the hono app does, without access control', async () => {
    expect(await compare(await twin(false), steps({}))).toBeGreaterThan(30);
  });

  it('answers as the hono app does with bearer tokens: admin, scoped, missing and unknown tokens', async () => {
    const engines = await twin(true);
    await compare(engines, steps({ authorization: `Bearer ${ADMIN}` }));
    await compare(engines, [
      {
        method: 'PUT',
        path: `${E}/eu`,
        headers: { authorization: `Bearer ${SCOPED}`, 'kv-scopes': 'eu' },
        body: 'x',
      },
      {
        method: 'PUT',
        path: `${E}/us`,
        headers: { authorization: `Bearer ${SCOPED}`, 'kv-scopes': 'us' },
        body: 'x',
      },
      { method: 'GET', path: `${E}/eu`, headers: { authorization: `Bearer ${SCOPED}` } },
      { method: 'GET', path: `${E}/full`, headers: { authorization: `Bearer ${SCOPED}` } },
      { method: 'HEAD', path: `${E}/full`, headers: { authorization: `Bearer ${SCOPED}` } },
      { method: 'GET', path: `${E}/k` },
      { method: 'HEAD', path: `${E}/k` },
      { method: 'PUT', path: `${E}/k`, body: 'x' },
      { method: 'GET', path: `${E}/k`, headers: { authorization: 'Bearer kv_unknown-secret-0123456789' } },
    ]);
  });
});

describe('READ_BODY: an adapter reads request bodies itself', () => {
  const withReader = (req: Request, reader: BodyReader): Request =>
    Object.assign(req, { [READ_BODY]: reader }) as Request;

  it('is used instead of Request.body, with the route limit; null is a 413 and writes nothing', async () => {
    const engine = createEngine({ storage: new MemoryStorage(), maxValueBytes: 8 });
    await engine.fetch(
      new Request(`${ORIGIN}/v1/stores`, { method: 'POST', headers: json, body: '{"name":"orders"}' }),
    );
    const limits: number[] = [];
    const put = (reader: BodyReader): Promise<Response> =>
      engine.fetch(withReader(new Request(`${ORIGIN}${E}/k`, { method: 'PUT', body: 'ignored' }), reader));
    const ok = await put(async (limit) => {
      limits.push(limit);
      return new TextEncoder().encode('adapter');
    });
    expect(ok.status).toBe(201);
    expect(await (await engine.fetch(new Request(`${ORIGIN}${E}/k`))).text()).toBe('adapter');
    const tooLarge = await put(async (limit) => {
      limits.push(limit);
      return null;
    });
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    expect(limits).toEqual([8, 8]);
    expect(await (await engine.fetch(new Request(`${ORIGIN}${E}/k`))).text()).toBe('adapter');
  });

  it('serves JSON routes too; a Content-Length over the limit is refused before reading', async () => {
    const engine = createEngine({ storage: new MemoryStorage() });
    let reads = 0;
    const res = await engine.fetch(
      withReader(
        new Request(`${ORIGIN}/v1/stores`, { method: 'POST', headers: json, body: '{}' }),
        async () => {
          reads++;
          return new TextEncoder().encode('{"name":"orders"}');
        },
      ),
    );
    expect(res.status).toBe(201);
    const big = await engine.fetch(
      withReader(
        new Request(`${ORIGIN}${E}/k`, {
          method: 'PUT',
          headers: { 'content-length': String(64 * 1024 * 1024) },
          body: 'x',
        }),
        async () => {
          reads++;
          return new Uint8Array(1);
        },
      ),
    );
    expect(big.status).toBe(413);
    expect(reads).toBe(1);
  });
});

/**
 * The request pipeline seen from a transport: `engine.handle` takes a plain request (no `Request`
 * object) and returns a plain result; bodies come from the transport's reader, within the route's limit.
 * (What used to be checked for the single-entry fast path and the `READ_BODY` adapter hook.)
 */
import { matchRoute } from '@kv/core/protocol';
import { describe, expect, it } from 'vitest';
import { createEngine, type EngineRequest, type EngineResult } from './engine.js';
import { MemoryStorage } from './memory-storage.js';

const E = '/v1/stores/orders/entries';

/** A plain request as a transport would build it. */
function request(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  readBody: EngineRequest['readBody'] = async () => new Uint8Array(0),
): EngineRequest {
  return {
    method,
    url,
    header: (name) => headers[name],
    readBody,
    signal: new AbortController().signal,
  };
}

const text = (result: EngineResult): string =>
  typeof result.body === 'string'
    ? result.body
    : result.body instanceof Uint8Array
      ? new TextDecoder().decode(result.body)
      : '';

const json = { 'content-type': 'application/json' };
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('engine.handle: plain requests and results', () => {
  it('reads bodies through the transport with the route limit; null is a 413 and writes nothing', async () => {
    const engine = createEngine({ storage: new MemoryStorage(), maxValueBytes: 8 });
    const created = await engine.handle(
      request('POST', '/v1/stores', json, async () => bytes('{"name":"orders"}')),
    );
    expect(created.status).toBe(201);
    const limits: number[] = [];
    const ok = await engine.handle(
      request('PUT', `${E}/k`, {}, async (limit) => {
        limits.push(limit);
        return bytes('adapter');
      }),
    );
    expect(ok.status).toBe(201);
    const read = await engine.handle(request('GET', `${E}/k`));
    expect(read.status).toBe(200);
    expect(read.body).toBeInstanceOf(Uint8Array);
    expect(text(read)).toBe('adapter');
    expect(read.headers['content-length']).toBe('7');
    const tooLarge = await engine.handle(
      request('PUT', `${E}/k`, {}, async (limit) => {
        limits.push(limit);
        return null;
      }),
    );
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(text(tooLarge)).error.code).toBe('payload_too_large');
    expect(limits).toEqual([8, 8]);
    expect(text(await engine.handle(request('GET', `${E}/k`)))).toBe('adapter');
  });

  it('refuses a Content-Length over the limit before reading the body', async () => {
    const engine = createEngine({ storage: new MemoryStorage() });
    await engine.handle(request('POST', '/v1/stores', json, async () => bytes('{"name":"orders"}')));
    let reads = 0;
    const big = await engine.handle(
      request('PUT', `${E}/k`, { 'content-length': String(64 * 1024 * 1024) }, async () => {
        reads++;
        return new Uint8Array(1);
      }),
    );
    expect(big.status).toBe(413);
    const json413 = await engine.handle(
      request('POST', '/v1/stores', { ...json, 'content-length': String(1024 * 1024) }, async () => {
        reads++;
        return bytes('{}');
      }),
    );
    expect(json413.status).toBe(413);
    expect(reads).toBe(0);
  });

  it('answers HEAD as GET without a body, and gives every answer a request id', async () => {
    const engine = createEngine({ storage: new MemoryStorage() });
    await engine.handle(request('POST', '/v1/stores', json, async () => bytes('{"name":"orders"}')));
    await engine.handle(request('PUT', `${E}/k`, {}, async () => bytes('hello')));
    const get = await engine.handle(request('GET', `${E}/k`, { 'kv-request-id': 'r-1' }));
    const head = await engine.handle(request('HEAD', `${E}/k`, { 'kv-request-id': 'r-1' }));
    expect(head.status).toBe(200);
    expect(head.body).toBeUndefined();
    expect(head.headers).toEqual(get.headers);
    expect(head.headers['kv-request-id']).toBe('r-1');
    const listHead = await engine.handle(request('HEAD', '/v1/stores'));
    expect(listHead.status).toBe(200);
    expect(listHead.body).toBeUndefined();
    expect(listHead.headers['kv-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('uses a route lookup handed in by the transport (one match per request)', async () => {
    const engine = createEngine({ storage: new MemoryStorage() });
    await engine.handle(request('POST', '/v1/stores', json, async () => bytes('{"name":"orders"}')));
    const url = `${E}/a%2Fb`;
    const put = await engine.handle({
      ...request('PUT', url, {}, async () => bytes('v')),
      route: matchRoute('PUT', url),
    });
    expect(put.status).toBe(201);
    const list = await engine.handle(request('GET', `${E}?prefix=a`));
    expect(JSON.parse(text(list)).items.map((i: { key: string }) => i.key)).toEqual(['a/b']);
    const missing = await engine.handle({ ...request('GET', '/nope'), route: matchRoute('GET', '/nope') });
    expect(missing.status).toBe(404);
    const wrong = await engine.handle(request('POST', `${E}/k`));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, PUT, DELETE, HEAD');
  });
});

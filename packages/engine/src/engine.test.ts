import { parseSse, UnauthenticatedError } from '@kv/core/protocol';
import { describe, expect, it } from 'vitest';
import { entryPath, setup } from '../test/harness.js';
import type { AuthorizeContext } from './engine.js';

describe('request ids', () => {
  it('echoes a valid incoming Kv-Request-Id and makes one otherwise, on every response', async () => {
    const h = setup();
    const echoed = await h.call('GET', '/healthz', { headers: { 'kv-request-id': 'req-123' } });
    expect(echoed.headers.get('kv-request-id')).toBe('req-123');
    const replaced = await h.call('GET', '/healthz', { headers: { 'kv-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('kv-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    for (const [method, path] of [
      ['GET', '/nope'],
      ['PATCH', '/v1/stores'],
      ['GET', '/v1/stores/missing'],
      ['HEAD', '/v1/stores/missing/entries/k'],
    ]) {
      const res = await h.call(method as string, path as string, { headers: { 'kv-request-id': 'r-1' } });
      expect(res.headers.get('kv-request-id'), `${method} ${path}`).toBe('r-1');
    }
  });
});

describe('routing errors', () => {
  it('unknown routes are 404 route_not_found', async () => {
    const h = setup();
    await h.error('GET', '/', 404, 'route_not_found');
    await h.error('GET', '/v2/stores', 404, 'route_not_found');
    await h.error('GET', '/v1/stores/s/entries/a/b/c', 404, 'route_not_found');
    await h.error('POST', '/v1/stores/s/bulk/rename', 404, 'route_not_found');
  });

  it.each([
    ['PUT', '/v1/stores', 'GET, POST, HEAD'],
    ['POST', '/v1/stores/s', 'GET, PATCH, DELETE, HEAD'],
    ['POST', '/v1/stores/s/entries', 'GET, HEAD'],
    ['POST', '/v1/stores/s/entries/k', 'GET, PUT, DELETE, HEAD'],
    ['PATCH', '/v1/stores/s/entries/k', 'GET, PUT, DELETE, HEAD'],
    ['DELETE', '/v1/stores/s/entries/k/history', 'GET, HEAD'],
    ['GET', '/v1/stores/s/entries/k/expiry', 'PUT'],
    ['GET', '/v1/stores/s/bulk/get', 'POST'],
    ['GET', '/v1/stores/s/atomic', 'POST'],
    ['DELETE', '/v1/stores/s/ids/x', 'GET, HEAD'],
    ['POST', '/healthz', 'GET, HEAD'],
  ])('%s %s is 405 with Allow: %s', async (method, path, allow) => {
    const h = setup();
    const res = await h.call(method, path);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe(allow);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });

  it('JSON routes answer 415 for another content type and 400 for malformed JSON', async () => {
    const h = setup();
    await h.createStore('s');
    for (const path of [
      '/v1/stores',
      '/v1/stores/s/bulk/get',
      '/v1/stores/s/bulk/set',
      '/v1/stores/s/atomic',
    ]) {
      await h.error('POST', path, 415, 'unsupported_media_type', {
        body: '{}',
        headers: { 'content-type': 'text/plain' },
      });
      await h.error('POST', path, 415, 'unsupported_media_type', { body: '{}' });
      await h.error('POST', path, 400, 'validation_error', {
        body: '{"keys": [',
        headers: { 'content-type': 'application/json' },
      });
      await h.error('POST', path, 400, 'validation_error', {
        body: '',
        headers: { 'content-type': 'application/json' },
      });
    }
    await h.error('PATCH', '/v1/stores/s', 415, 'unsupported_media_type', { body: '{}' });
    // application/*+json and parameters are JSON too.
    await h.json('POST', '/v1/stores/s/bulk/get', 200, {
      body: '{"keys":[]}',
      headers: { 'content-type': 'application/vnd.kv+json; charset=utf-8' },
    });
  });

  it('invalid UTF-8 in a JSON body is 400', async () => {
    const h = setup();
    await h.createStore('s');
    await h.error('POST', '/v1/stores/s/bulk/get', 400, 'validation_error', {
      body: new Uint8Array([0x7b, 0xff, 0x7d]),
      headers: { 'content-type': 'application/json' },
    });
  });

  it('invalid store names in the path are 400', async () => {
    const h = setup();
    await h.error('GET', '/v1/stores/a.b', 400, 'validation_error');
    await h.error('GET', `/v1/stores/${'a'.repeat(65)}/entries`, 400, 'validation_error');
    await h.error('GET', '/v1/stores/%E0%A4%A/entries', 400, 'validation_error');
  });

  it('watch streams Server-Sent Events through the fetch handler; bad options and missing stores are errors', async () => {
    const h = setup();
    await h.error('GET', '/v1/stores/s/watch', 404, 'store_not_found');
    await h.createStore('s');
    await h.put('s', 'user.1', 'a');
    await h.error('GET', '/v1/stores/s/watch?match=a..b', 400, 'validation_error');
    await h.error('GET', '/v1/stores/s/watch?fromRevision=x', 400, 'validation_error');
    const controller = new AbortController();
    const res = await h.call('GET', '/v1/stores/s/watch?match=user.*', { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const messages = parseSse(res.body!);
    const first = (await messages.next()).value!;
    expect([first.event, JSON.parse(first.data).key]).toEqual(['put', 'user.1']);
    expect((await messages.next()).value).toMatchObject({ event: 'ready', id: '1' });
    await h.put('s', 'other', 'x');
    await h.put('s', 'user.2', 'b');
    const live = (await messages.next()).value!;
    expect([live.event, live.id, JSON.parse(live.data).key]).toEqual(['put', '3', 'user.2']);
    controller.abort();
    const resumed = await h.call('GET', '/v1/stores/s/watch', { headers: { 'last-event-id': '1' } });
    const replay = parseSse(resumed.body!);
    expect((await replay.next()).value).toMatchObject({ event: 'put', id: '2' });
    expect((await replay.next()).value).toMatchObject({ event: 'put', id: '3' });
    await resumed.body!.cancel().catch(() => {});
  });
});

describe('unexpected errors', () => {
  it('a storage failure is a 500 internal with a generic message, reported to onError', async () => {
    const seen: unknown[] = [];
    const h = setup({ onError: (error) => seen.push(error) });
    await h.createStore('s');
    h.storage.get = async () => {
      throw new Error('secret connection string');
    };
    const body = await h.error('GET', entryPath('s', 'k'), 500, 'internal');
    expect(body.error.message).not.toContain('secret');
    expect(seen).toHaveLength(1);
  });
});

describe('authorize hook', () => {
  it('is told the action, store, key, keys and scopes, and the bearer token', async () => {
    const calls: AuthorizeContext[] = [];
    const h = setup({ authorize: (ctx) => void calls.push(ctx) });
    const auth = { authorization: 'Bearer tok-1' };
    await h.call('POST', '/v1/stores', { json: { name: 's' }, headers: auth });
    await h.call('PUT', entryPath('s', 'k'), { body: 'v', headers: { ...auth, 'kv-scopes': 'b,a' } });
    await h.call('GET', entryPath('s', 'k'));
    await h.call('HEAD', entryPath('s', 'k'));
    await h.call('GET', '/v1/stores/s/entries?scope=a');
    await h.call('GET', '/v1/stores/s/entries?like=k%25');
    await h.call('POST', '/v1/stores/s/bulk/get', { json: { keys: ['k', 'j'] } });
    await h.call('DELETE', `${entryPath('s', 'k')}?purge=true`);
    await h.call('GET', '/v1/stores/s/scopes');
    expect(calls.map((c) => c.action)).toEqual([
      'stores',
      'set',
      'get',
      'exists',
      'list',
      'find',
      'get',
      'purge',
      'list_scopes',
    ]);
    expect(calls[1]).toMatchObject({ token: 'tok-1', store: 's', key: 'k', scopes: ['a', 'b'] });
    expect(calls[2]?.token).toBeUndefined();
    expect(calls[4]).toMatchObject({ scopes: ['a'] });
    expect(calls[6]).toMatchObject({ keys: ['k', 'j'] });
  });

  it('false is 403 forbidden; a thrown KvError is answered as is; nothing is written', async () => {
    const h = setup({
      authorize: ({ action, token }) => {
        if (token === undefined) throw new UnauthenticatedError('Missing token');
        return action !== 'set';
      },
    });
    const auth = { authorization: 'Bearer t' };
    await h.json('POST', '/v1/stores', 201, { json: { name: 's' }, headers: auth });
    await h.error('PUT', entryPath('s', 'k'), 403, 'forbidden', { body: 'v', headers: auth });
    await h.error('GET', entryPath('s', 'k'), 401, 'unauthenticated');
    expect((await h.json<{ revision: number }>('GET', '/v1/stores/s', 200, { headers: auth })).revision).toBe(
      0,
    );
  });
});

/**
 * JSON request bodies from hostile clients (docs/security.md "Limits against hostile clients"): the
 * caller's capability is checked before a byte of the body is read, each route reads only what it can
 * legitimately need, and deeply nested JSON is refused before it is parsed. Also: a list too long on a
 * non-bulk route is the 400 of that route, not the bulk 413.
 */
import { LIMITS } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { type Harness, setup } from '../test/harness.js';
import { ensureToken, MemoryTokenStore } from './auth.js';
import { checkJsonDepth, KEYS_JSON_BODY_BYTES, MAX_JSON_DEPTH } from './json-limits.js';

const ADMIN = { authorization: 'Bearer admin-secret-0123456789' };

/** The 6 MB `{"keys":[[[[...` body of the report. */
function nestedKeysBody(bytes: number): string {
  const depth = Math.floor((bytes - 10) / 2);
  return `{"keys":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

/** A body stream that counts the bytes the engine pulled from it. */
function countingBody(text: string): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (offset >= bytes.length) {
          controller.close();
          return;
        }
        const chunk = bytes.subarray(offset, offset + 64 * 1024);
        offset += chunk.length;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => offset };
}

async function rig(): Promise<Harness & { token(capabilities: string[]): Promise<Record<string, string>> }> {
  const tokens = new MemoryTokenStore();
  const h = setup({ auth: { tokens } });
  await ensureToken(tokens, { secret: 'admin-secret-0123456789', capabilities: ['*'] }, h.now());
  await h.json('POST', '/v1/stores', 201, { json: { name: 's' }, headers: ADMIN });
  await h.put('s', 'other', 'still here', ADMIN);
  const token = async (capabilities: string[]) => {
    const created = await h.json<{ token: string }>('POST', '/v1/tokens', 201, {
      json: { capabilities },
      headers: ADMIN,
    });
    return { authorization: `Bearer ${created.token}` };
  };
  return Object.assign(h, { token });
}

async function revisionOf(h: Harness): Promise<number> {
  return (await h.json<{ revision: number }>('GET', '/v1/stores/s', 200, { headers: ADMIN })).revision;
}

describe('deeply nested JSON', () => {
  it('a token without the capability gets 403 before any byte of the body is read', async () => {
    const h = await rig();
    const setter = await h.token(['kv[s]:set']);
    for (const path of ['bulk/get', 'bulk/delete', 'atomic']) {
      const wanted = path === 'atomic' ? await h.token(['kv[s]:get']) : setter;
      const { stream, pulled } = countingBody(nestedKeysBody(6_000_000));
      await h.error('POST', `/v1/stores/s/${path}`, 403, 'forbidden', {
        body: stream,
        headers: { ...wanted, 'content-type': 'application/json' },
      });
      expect(pulled(), path).toBe(0);
    }
    const reader = await h.token(['kv[s]:get']);
    for (const [method, path] of [
      ['POST', '/v1/stores'],
      ['PATCH', '/v1/stores/s'],
      ['POST', '/v1/tokens'],
      ['POST', '/v1/stores/s/signed-urls'],
      ['PUT', '/v1/stores/s/entries/other/expiry'],
      ['POST', '/v1/stores/s/bulk/set'],
    ] as const) {
      const { stream, pulled } = countingBody(nestedKeysBody(1_000_000));
      await h.error(method, path, 403, 'forbidden', {
        body: stream,
        headers: { ...reader, 'content-type': 'application/json' },
      });
      expect(pulled(), path).toBe(0);
    }
    // No token at all: 401, nothing read either.
    const { stream, pulled } = countingBody(nestedKeysBody(6_000_000));
    await h.error('POST', '/v1/stores/s/bulk/get', 401, 'unauthenticated', {
      body: stream,
      headers: { 'content-type': 'application/json' },
    });
    expect(pulled()).toBe(0);
  });

  it('a token with the capability gets 400 too_deep for the 6 MB body, 413 past the route limit', async () => {
    const h = await rig();
    const before = await revisionOf(h);
    const deep = await h.error('POST', '/v1/stores/s/bulk/get', 400, 'validation_error', {
      body: nestedKeysBody(6_000_000),
      headers: { ...ADMIN, 'content-type': 'application/json' },
    });
    expect(deep.error.details).toMatchObject({ field: 'body', reason: 'too_deep', maxDepth: MAX_JSON_DEPTH });
    // 20 MB is past what bulk/get can need: refused while reading (by Content-Length, or by counting).
    const big = await h.error('POST', '/v1/stores/s/bulk/get', 413, 'payload_too_large', {
      body: nestedKeysBody(20_000_000),
      headers: { ...ADMIN, 'content-type': 'application/json' },
    });
    expect(big.error.details).toMatchObject({ limitBytes: KEYS_JSON_BODY_BYTES });
    const { stream, pulled } = countingBody(nestedKeysBody(20_000_000));
    await h.error('POST', '/v1/stores/s/bulk/get', 413, 'payload_too_large', {
      body: stream,
      headers: { ...ADMIN, 'content-type': 'application/json' },
    });
    expect(pulled()).toBeLessThanOrEqual(KEYS_JSON_BODY_BYTES + 64 * 1024);
    // Every JSON route refuses the deep document.
    for (const [method, path] of [
      ['POST', '/v1/stores/s/bulk/set'],
      ['POST', '/v1/stores/s/bulk/delete'],
      ['POST', '/v1/stores/s/atomic'],
      ['POST', '/v1/stores'],
      ['POST', '/v1/tokens'],
      ['POST', '/v1/stores/s/signed-urls'],
    ] as const) {
      const res = await h.error(method, path, 400, 'validation_error', {
        body: nestedKeysBody(100_000),
        headers: { ...ADMIN, 'content-type': 'application/json' },
      });
      expect(res.error.details, path).toMatchObject({ reason: 'too_deep' });
    }
    expect(await revisionOf(h)).toBe(before);
    expect(await (await h.call('GET', '/v1/stores/s/entries/other', { headers: ADMIN })).text()).toBe(
      'still here',
    );
  });

  it('a reader keeps being answered while a hostile client sends the deep body again and again', async () => {
    const h = await rig();
    const hostile = Array.from({ length: 20 }, () =>
      h.call('POST', '/v1/stores/s/bulk/get', {
        body: nestedKeysBody(6_000_000),
        headers: { ...ADMIN, 'content-type': 'application/json' },
      }),
    );
    const read = await h.call('GET', '/v1/stores/s/entries/other', { headers: ADMIN });
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('still here');
    for (const res of await Promise.all(hostile)) expect(res.status).toBe(400);
  });

  it('a legitimate maximal bulk/get (10,000 keys of 512 bytes, escaped or not) still works', async () => {
    const h = await rig();
    const keys = Array.from({ length: LIMITS.maxBulkItems }, (_, i) => String(i).padStart(512, 'k'));
    const res = await h.json<{ items: Array<{ found: boolean }> }>('POST', '/v1/stores/s/bulk/get', 200, {
      json: { keys, values: false },
      headers: ADMIN,
    });
    expect(res.items).toHaveLength(LIMITS.maxBulkItems);
    // Every byte a JSON escape: the route limit still leaves room.
    const quoted = Array.from({ length: LIMITS.maxBulkItems }, (_, i) => `${String(i)}${'"'.repeat(507)}`);
    const body = JSON.stringify({ keys: quoted, values: false });
    expect(body.length).toBeGreaterThan(10_000_000);
    const escaped = await h.json<{ items: unknown[] }>('POST', '/v1/stores/s/bulk/get', 200, {
      body,
      headers: { ...ADMIN, 'content-type': 'application/json' },
    });
    expect(escaped.items).toHaveLength(LIMITS.maxBulkItems);
  });

  it('checkJsonDepth counts brackets outside strings only, honouring escapes', () => {
    const ok = (text: string, max: number) => () => checkJsonDepth(new TextEncoder().encode(text), max);
    expect(ok('{"a":[1,{"b":2}]}', 3)).not.toThrow();
    expect(ok('{"a":[1,{"b":2}]}', 2)).toThrow(/deeper than 2/);
    expect(ok('{"a":"[[[[[[\\"[[[["}', 1)).not.toThrow();
    expect(ok('{"a":"\\\\"}', 1)).not.toThrow();
    expect(ok('{"a":"\\\\","b":[[]]}', 2)).toThrow();
    expect(ok('["\u65e5\u672c", ["caf\u00e9"]]', 2)).not.toThrow();
    expect(ok(`${'['.repeat(64)}${']'.repeat(64)}`, 64)).not.toThrow();
    expect(ok(`${'['.repeat(65)}${']'.repeat(65)}`, 64)).toThrow();
  });
});

describe('lists too long on non-bulk routes', () => {
  it('a token of 257 capabilities is a 400 about capabilities; 10,001 bulk items stay 413', async () => {
    const h = await rig();
    const capabilities = Array.from({ length: 257 }, (_, i) => `kv[s${i}]:get`);
    const body = await h.error('POST', '/v1/tokens', 400, 'validation_error', {
      json: { capabilities },
      headers: ADMIN,
    });
    expect(body.error.message).toMatch(/capabilities/);
    expect(body.error.message).toMatch(/256/);
    expect(body.error.details).toMatchObject({ field: 'capabilities', maxItems: 256 });
    await h.json('POST', '/v1/tokens', 201, {
      json: { capabilities: capabilities.slice(0, 256) },
      headers: ADMIN,
    });
    const keys = Array.from({ length: LIMITS.maxBulkItems + 1 }, (_, i) => `k${i}`);
    const bulk = await h.error('POST', '/v1/stores/s/bulk/get', 413, 'payload_too_large', {
      json: { keys },
      headers: ADMIN,
    });
    expect(bulk.error.details).toMatchObject({ field: 'keys', maxItems: LIMITS.maxBulkItems });
  });
});

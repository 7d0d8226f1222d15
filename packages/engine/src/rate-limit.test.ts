/**
 * Token rate limits in the engine (docs/security.md "Rate limits"), on the fake clock of the harness:
 * fixed windows aligned to the epoch, 429 with `Retry-After` before the body is read, the token store's
 * `countRequest` hook, unlimited tokens never counted, and the in-process counter's sweep.
 */
import type { WireError } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { entryPath, setup } from '../test/harness.js';
import { createToken, ensureToken, MemoryTokenStore } from './auth.js';
import { WindowCounter } from './rate-limit.js';

const ADMIN = { authorization: 'Bearer admin-secret-0123456789' };

async function limitedSetup(tokens: MemoryTokenStore = new MemoryTokenStore()) {
  const h = setup({ auth: { tokens } });
  await ensureToken(tokens, { secret: 'admin-secret-0123456789', capabilities: ['*'] }, h.now());
  expect((await h.call('POST', '/v1/stores', { json: { name: 's' }, headers: ADMIN })).status).toBe(201);
  const created = await h.json<{ id: string; token: string; rateLimit: unknown }>('POST', '/v1/tokens', 201, {
    json: { capabilities: ['kv[s]:*'], rateLimit: { requests: 10, perSeconds: 1 } },
    headers: ADMIN,
  });
  const as = { authorization: `Bearer ${created.token}` };
  return { h, tokens, created, as };
}

describe('token rate limits (engine)', () => {
  it('a token of 10 per second gets exactly 10 of 50 concurrent requests; the rest are 429 with Retry-After', async () => {
    const { h, as, created } = await limitedSetup();
    expect(created.rateLimit).toEqual({ requests: 10, perSeconds: 1 });
    h.advance(250); // 250 ms into a window: 750 ms left, Retry-After rounds up to 1
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => h.call('GET', entryPath('s', 'k'), { headers: as })),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 404)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    const refused = answers.find((r) => r.status === 429) as Response;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('kv-error-code')).toBe('rate_limited');
    const body = (await refused.json()) as WireError;
    expect(body.error).toMatchObject({
      code: 'rate_limited',
      details: {
        retryAfterMs: 750,
        limit: 10,
        perSeconds: 1,
        resetAt: new Date(h.now() + 750).toISOString(),
      },
    });
    // The next window is a fresh one.
    h.advance(750);
    expect((await h.call('GET', entryPath('s', 'k'), { headers: as })).status).toBe(404);
  });

  it('counts before the body is read: a refused write writes nothing, whatever its body', async () => {
    const { h, as } = await limitedSetup();
    for (let i = 0; i < 10; i++) {
      expect((await h.call('GET', entryPath('s', 'k'), { headers: as })).status).toBe(404);
    }
    const put = await h.call('PUT', entryPath('s', 'k'), {
      body: 'v',
      headers: { ...as, 'content-type': 'text/plain' },
    });
    expect(put.status).toBe(429);
    const malformed = await h.call('POST', '/v1/stores/s/atomic', {
      body: '{',
      headers: { ...as, 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(429);
    expect((await h.call('GET', entryPath('s', 'k'), { headers: ADMIN })).status).toBe(404);
  });

  it('a window of 60 s says how long is left, rounded up to whole seconds', async () => {
    const tokens = new MemoryTokenStore();
    const h = setup({ auth: { tokens } });
    const { token } = await createToken(
      tokens,
      { capabilities: ['kv:get'], rateLimit: { requests: 1, perSeconds: 60 } },
      h.now(),
    );
    h.advance(20_500); // T0 is a whole minute: 39.5 s left
    const as = { authorization: `Bearer ${token}` };
    expect((await h.call('GET', entryPath('s', 'k'), { headers: as })).status).toBe(404);
    const refused = await h.call('GET', entryPath('s', 'k'), { headers: as });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('40');
    expect(((await refused.json()) as WireError).error.details).toMatchObject({ retryAfterMs: 39_500 });
  });

  it('the admin token and tokens without a limit are never counted', async () => {
    const calls: string[] = [];
    class Counting extends MemoryTokenStore {
      async countRequest(tokenId: string, windowStartMs: number, windowMs: number): Promise<number> {
        calls.push(`${tokenId}@${windowStartMs}+${windowMs}`);
        return 1;
      }
    }
    const { h, created, as } = await limitedSetup(new Counting());
    for (let i = 0; i < 30; i++) {
      expect((await h.call('GET', entryPath('s', 'k'), { headers: ADMIN })).status).toBe(404);
    }
    expect(calls).toEqual([]);
    await h.call('GET', entryPath('s', 'k'), { headers: as });
    const windowStart = h.now() - (h.now() % 1000);
    expect(calls).toEqual([`${created.id}@${windowStart}+1000`]);
  });

  it("uses the token store's countRequest when it has one (a count shared by several processes)", async () => {
    let shared = 0;
    class Shared extends MemoryTokenStore {
      async countRequest(): Promise<number> {
        return ++shared;
      }
    }
    const { h, as } = await limitedSetup(new Shared());
    shared = 9; // nine requests counted elsewhere in this window
    expect((await h.call('GET', entryPath('s', 'k'), { headers: as })).status).toBe(404);
    expect((await h.call('GET', entryPath('s', 'k'), { headers: as })).status).toBe(429);
  });

  it('tokens.list shows the limit; a token without one lists rateLimit: null', async () => {
    const { h } = await limitedSetup();
    const { items } = await h.json<{ items: Array<{ description: string | null; rateLimit: unknown }> }>(
      'GET',
      '/v1/tokens',
      200,
      { headers: ADMIN },
    );
    expect(items.map((t) => t.rateLimit)).toEqual([null, { requests: 10, perSeconds: 1 }]);
  });

  it('a bad rateLimit is 400 validation_error and creates nothing', async () => {
    const { h } = await limitedSetup();
    const bad: unknown[] = [
      { requests: 0, perSeconds: 1 },
      { requests: 1_000_001, perSeconds: 1 },
      { requests: 1.5, perSeconds: 1 },
      { requests: 10, perSeconds: 0 },
      { requests: 10, perSeconds: 86_401 },
      { requests: '10', perSeconds: 1 },
      { requests: 10 },
      { requests: 10, perSeconds: 1, burst: 5 },
      [10, 1],
      '10/1',
    ];
    for (const rateLimit of bad) {
      const error = await h.error('POST', '/v1/tokens', 400, 'validation_error', {
        json: { capabilities: ['kv:get'], rateLimit },
        headers: ADMIN,
      });
      expect(JSON.stringify(error.error.details)).toContain('rateLimit');
    }
    const { items } = await h.json<{ items: unknown[] }>('GET', '/v1/tokens', 200, { headers: ADMIN });
    expect(items).toHaveLength(2);
    // createToken checks too, for embedders calling it directly.
    await expect(
      createToken(
        new MemoryTokenStore(),
        { capabilities: ['kv:get'], rateLimit: { requests: 0, perSeconds: 1 } },
        h.now(),
      ),
    ).rejects.toMatchObject({ code: 'validation_error', details: { field: 'rateLimit.requests' } });
  });
});

describe('WindowCounter', () => {
  it('counts per token and window, restarts in a new window, and drops ended windows when it grows', () => {
    const counter = new WindowCounter();
    expect(counter.count('a', 0, 1000, 10)).toBe(1);
    expect(counter.count('a', 0, 1000, 20)).toBe(2);
    expect(counter.count('b', 0, 1000, 20)).toBe(1);
    expect(counter.count('a', 1000, 1000, 1000)).toBe(1);
    // A clock stepped back counts in the window kept.
    expect(counter.count('a', 0, 1000, 999)).toBe(2);
    for (let i = 0; i < 2000; i++) counter.count(`t${i}`, 0, 1000, 500);
    expect(counter.size).toBe(2002);
    // All of those windows ended at 1000: the next new token past the threshold sweeps them.
    for (let i = 0; i < 2100; i++) counter.count(`u${i}`, 5000, 1000, 5000);
    expect(counter.size).toBe(2100);
  });
});

/**
 * The counter cases of the behaviour suite (docs/protocol.md "Counters"): `increment` and the atomic
 * `sum`/`min`/`max` (Deno KV's numeric mutations, on JSON safe integers), their refusals, watch events,
 * capabilities, and exactly-once application under concurrency and lost responses. Registered by
 * `describeConformance` inside its `describe`.
 *
 * @module
 */

import { createRateLimiter } from '@kv/core';
import {
  type KvClient,
  StoreNotFoundError,
  UnauthorizedError,
  ValidationError,
  type WatchEvent,
} from '@kv/core/protocol';
import { describe, expect, it } from 'vitest';
import type { ConformanceTarget, LosingResponses } from './suite.js';
import { expectKvError } from './suite.js';

/** What the counter cases need from the suite that registers them (read inside `it` only). */
export interface CounterCasesContext<C extends KvClient> {
  /** The suite's admin client. */
  client(): C;
  /** The suite's target. */
  target(): ConformanceTarget<C>;
  /** A fresh store. */
  freshStore(label: string): Promise<ReturnType<C['store']>>;
  /** Whether the target can watch. */
  watch: boolean;
  /** Whether the target runs with access control (`target.auth` set). */
  auth: boolean;
}

/** Registers the counter cases. */
export function counterCases<C extends KvClient>(ctx: CounterCasesContext<C>): void {
  const { freshStore } = ctx;

  describe('counters', () => {
    it('increment creates a missing key at delta (default 1), adds atomically and answers { value, revision } (Deno KV sum)', async () => {
      const s = await freshStore('incr');
      const first = await s.increment('hits');
      expect(first).toEqual({ value: 1, revision: expect.any(Number) });
      const second = await s.increment('hits', 41);
      expect(second.value).toBe(42);
      expect(second.revision).toBeGreaterThan(first.revision);
      const third = await s.increment('hits', -50);
      expect(third.value).toBe(-8);
      expect(await s.get('hits')).toBe(-8);
      const entry = await s.getEntry('hits');
      expect(entry).toMatchObject({ value: -8, revision: third.revision });
      expect(entry?.contentType).toMatch(/^application\/json/);
      // A value written with `set` as a JSON integer counts too.
      await s.set('n', 10);
      expect((await s.increment('n', 5)).value).toBe(15);
    });

    it('increment refuses a non-integer value and a result outside the safe range with ValidationError, writing nothing', async () => {
      const s = await freshStore('incr-refused');
      await s.set('text', 'hello');
      await s.set('fraction', 1.5);
      await s.set('object', { n: 1 });
      await s.set('string', '5'); // a string, stored as text/plain: not a number
      for (const key of ['text', 'fraction', 'object', 'string']) {
        const before = await s.getEntry(key);
        const error = await expectKvError(s.increment(key), ValidationError, 'validation_error');
        expect(error).toMatchObject({ status: 400 });
        expect(await s.getEntry(key)).toMatchObject({ value: before?.value, revision: before?.revision });
      }
      await s.increment('big', Number.MAX_SAFE_INTEGER);
      const revision = (await kvStoreRevision(ctx.client(), s.name)) as number;
      await expectKvError(s.increment('big', 1), ValidationError, 'validation_error');
      expect(await s.get('big')).toBe(Number.MAX_SAFE_INTEGER);
      expect(await kvStoreRevision(ctx.client(), s.name)).toBe(revision);
      // Checked by the client before any request.
      await expectKvError(s.increment('k', 1.5), ValidationError);
      await expectKvError(s.increment('k', Number.MAX_SAFE_INTEGER + 1), ValidationError);
      await expectKvError(s.increment('', 1), ValidationError);
      await expectKvError(
        s.increment('k', 1, { ttlMs: 1_000, expiresAt: Date.now() + 5_000 }),
        ValidationError,
      );
      expect(await s.get('k')).toBeUndefined();
      await expectKvError(ctx.client().store('c-no-such-store-incr').increment('k'), StoreNotFoundError);
    });

    it('increment options set the expiry, metadata and scopes; an increment without them keeps them', async () => {
      const s = await freshStore('incr-options');
      const expiresAt = new Date(Date.now() + 3_600_000);
      expiresAt.setMilliseconds(0);
      await s.increment('c', 1, { expiresAt, metadata: { window: 'a' }, scopes: ['team'] });
      await s.increment('c', 2);
      const entry = await s.getEntry('c');
      expect(entry).toMatchObject({
        value: 3,
        metadata: { window: 'a' },
        scopes: ['team'],
        expiresAt: expiresAt.toISOString(),
      });
      await s.increment('c', 1, { ttlMs: 60_000, metadata: { window: 'b' } });
      const after = await s.getEntry('c');
      expect(after).toMatchObject({ value: 4, metadata: { window: 'b' }, scopes: ['team'] });
      expect(Date.parse(after?.expiresAt ?? '')).toBeLessThan(expiresAt.getTime());
    });

    it('atomic sum, min and max apply with the other mutations, all or nothing (Deno KV)', async () => {
      const s = await freshStore('atomic-sum');
      const ok = await s.atomic().sum('total', 5).min('low', 7).max('high', 7).set('note', 'x').commit();
      expect(ok).toMatchObject({ ok: true });
      const seen = await s.getEntry('total');
      const next = await s
        .atomic()
        .check('total', seen?.revision ?? null)
        .sum('total', 10)
        .sum('total', -1)
        .min('low', 3)
        .min('low', 9)
        .max('high', 2)
        .max('high', 20)
        .commit();
      expect(next).toMatchObject({ ok: true });
      const got = await s.getMany(['total', 'low', 'high']);
      expect([...got.values()].map((e) => e?.value)).toEqual([14, 3, 20]);
      // A failed check applies nothing.
      const stale = await s
        .atomic()
        .check('total', seen?.revision ?? 0)
        .sum('total', 100)
        .commit();
      expect(stale).toEqual({ ok: false, failedKeys: ['total'] });
      expect(await s.get('total')).toBe(14);
      // A sum on a value that is not an integer fails the whole commit: the set before it is not written.
      await expectKvError(
        s.atomic().set('note', 'y').sum('note', 1).commit(),
        ValidationError,
        'validation_error',
      );
      expect(await s.get('note')).toBe('x');
      await expectKvError(s.atomic().sum('total', 0.5).commit(), ValidationError);
    });

    it.skipIf(!ctx.watch)('watchers see each increment as a put event with the new value', async () => {
      const s = await freshStore('incr-watch');
      await s.set('other', 1);
      const from = (await ctx.client().stores.get(s.name))?.revision ?? 0;
      const watch = s.watch({ key: 'c', fromRevision: from });
      const written = [await s.increment('c'), await s.increment('c', 2), await s.increment('c', -10)];
      const events: WatchEvent<unknown>[] = [];
      for await (const event of watch) {
        events.push(event as WatchEvent<unknown>);
        if (events.length === written.length) break;
      }
      watch.stop();
      expect(events.map((e) => [e.type, e.key, e.value, e.revision])).toEqual(
        written.map((w) => ['put', 'c', w.value, w.revision]),
      );
    });

    it.skipIf(!ctx.auth)('increment needs the set capability on the key', async () => {
      const s = await freshStore('incr-auth');
      await s.set('c', 1);
      const auth = ctx.target().auth;
      if (auth === undefined) throw new Error('the target has no auth');
      const reader = await ctx.client().tokens.create({ capabilities: [`kv[${s.name}]:get`] });
      const readOnly = (await auth.clientWithToken(reader.token)).store(s.name);
      await expectKvError(readOnly.increment('c'), UnauthorizedError, 'forbidden');
      await expectKvError(readOnly.atomic().sum('c', 1).commit(), UnauthorizedError, 'forbidden');
      expect(await s.get('c')).toBe(1);
      const writer = await ctx.client().tokens.create({ capabilities: [`kv[${s.name}]:set`] });
      const counting = (await auth.clientWithToken(writer.token)).store(s.name);
      expect((await counting.increment('c')).value).toBe(2);
      expect(await counting.atomic().sum('c', 1).commit()).toMatchObject({ ok: true });
      expect(await s.get('c')).toBe(3);
    });

    it('8 clients x 500 increments on one key end at exactly 4,000, each on its own revision', {
      timeout: 300_000,
    }, async () => {
      const s = await freshStore('incr-race');
      const clients = await Promise.all(Array.from({ length: 8 }, () => ctx.target().createClient()));
      const results = await incrementAll(clients, s.name, 500);
      expect(await s.get('counter')).toBe(4_000);
      expect(new Set(results.map((r) => r.revision)).size).toBe(4_000);
      expect(new Set(results.map((r) => r.value)).size).toBe(4_000);
      expect(Math.max(...results.map((r) => r.value))).toBe(4_000);
    });

    it('8 clients x 500 increments end at exactly 4,000 also when responses are lost and requests retried', {
      timeout: 300_000,
    }, async (test) => {
      const losing = ctx.target().losingResponses;
      if (losing === undefined) {
        test.skip('the target cannot lose responses');
        return;
      }
      const s = await freshStore('incr-retried');
      const faults = await losing.call(ctx.target(), s.name, 0.1);
      try {
        const clients = await Promise.all(Array.from({ length: 8 }, () => faults.createClient()));
        const results = await incrementAll(clients, s.name, 500);
        // Retries did happen (about 10% of the requests lost their response), yet each call applied once.
        expect(faults.requests()).toBeGreaterThan(4_000 + 100);
        expect(new Set(results.map((r) => r.value)).size).toBe(4_000);
      } finally {
        await faults.stop();
      }
      expect(await s.get('counter')).toBe(4_000);
      expect((await ctx.client().stores.get(s.name))?.revision).toBe(4_000);
    });
  });

  describe('rate limiter (createRateLimiter on counters)', () => {
    it('fixed window: a limiter of 10 per second lets exactly 10 of 50 concurrent calls through', async () => {
      const s = await freshStore('ratelimit');
      const limiter = createRateLimiter(s, { limit: 10, windowMs: 1_000 });
      // Start well inside a window, so the 50 calls cannot straddle two of them.
      const left = 1_000 - (Date.now() % 1_000);
      if (left < 700) await new Promise((resolve) => setTimeout(resolve, left + 5));
      const results = await Promise.all(Array.from({ length: 50 }, () => limiter.limit('user:1')));
      const passed = results.filter((r) => r.success);
      expect(passed).toHaveLength(10);
      expect(passed.map((r) => r.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(results.filter((r) => !r.success).every((r) => r.remaining === 0)).toBe(true);
      expect(new Set(results.map((r) => r.resetAt)).size).toBe(1);
      expect(results[0]).toMatchObject({ limit: 10 });
      // Another identifier has its own count.
      expect((await limiter.limit('user:2')).success).toBe(true);
    });

    it('sliding window: the previous window counts by its overlap with the last windowMs', async () => {
      const s = await freshStore('ratelimit-sliding');
      const windowMs = 60_000;
      const start = (Math.floor(Date.now() / windowMs) + 1) * windowMs;
      let clock = start + windowMs / 2;
      const limiter = createRateLimiter(s, {
        limit: 10,
        windowMs,
        algorithm: 'sliding-window',
        now: () => clock,
      });
      const first: boolean[] = [];
      for (let i = 0; i < 11; i++) first.push((await limiter.limit('ip')).success);
      expect(first).toEqual([...Array(10).fill(true), false]);
      // Half of the previous window overlaps: floor(11 * 0.5) = 5 of the 10 are taken already.
      clock = start + windowMs + windowMs / 2;
      const second: boolean[] = [];
      for (let i = 0; i < 6; i++) second.push((await limiter.limit('ip')).success);
      expect(second).toEqual([true, true, true, true, true, false]);
      expect((await limiter.limit('ip')).resetAt).toBe(start + 2 * windowMs);
    });

    it('token bucket: a limiter of 10 per second lets exactly 10 of 50 concurrent calls through, then one per 100 ms', async () => {
      const s = await freshStore('ratelimit-bucket');
      // A fixed clock: the bucket refills by the limiter's clock, not by how long the 50 calls take.
      let clock = Date.now();
      const limiter = createRateLimiter(s, {
        limit: 10,
        windowMs: 1_000,
        algorithm: 'token-bucket',
        now: () => clock,
      });
      const results = await Promise.all(Array.from({ length: 50 }, () => limiter.limit('user:1')));
      const passed = results.filter((r) => r.success);
      expect(passed).toHaveLength(10);
      expect(passed.map((r) => r.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const refused = results.filter((r) => !r.success);
      expect(refused.every((r) => r.remaining === 0 && r.limit === 10)).toBe(true);
      // A refused call may come back when the next token is added: 100 ms later.
      expect(Math.min(...refused.map((r) => r.resetAt))).toBe(clock + 100);
      // Each refused call gave its interval back: the bucket holds what the 10 calls left (a TAT 1 s ahead).
      // (The key holds the TAT in units of 1 / refillRate ms since 2024-01-01: docs/protocol.md "Counters".)
      const units = (ms: number, refillRate: number) => (ms - Date.UTC(2024, 0, 1)) * refillRate;
      await expect.poll(() => s.get('ratelimit:user:1:bucket')).toBe(units(clock, 10) + 10 * 1_000);
      clock += 100;
      const next = await Promise.all(Array.from({ length: 5 }, () => limiter.limit('user:1')));
      expect(next.filter((r) => r.success)).toHaveLength(1);
      // The refunds of the 4 refused calls land (the one that passed took the token added at +100 ms).
      // They must land before the clock moves on: a refund slower than the whole bucket's refill time
      // gives a token back too late (docs/architecture.md, the token bucket decision).
      await expect.poll(() => s.get('ratelimit:user:1:bucket')).toBe(units(clock, 10) + 10 * 1_000);
      // A bucket left alone refills up to its size, no further.
      clock += 60_000;
      const later = [];
      for (let i = 0; i < 11; i++) later.push((await limiter.limit('user:1')).success);
      expect(later).toEqual([...Array(10).fill(true), false]);
      expect((await limiter.limit('user:2')).success).toBe(true);
    });

    it("token bucket in @upstash/ratelimit's terms: refillRate per intervalMs, bursts of maxTokens; refused calls cost nothing", async () => {
      const s = await freshStore('ratelimit-upstash');
      let clock = Date.now();
      const limiter = createRateLimiter(s, {
        algorithm: 'token-bucket',
        refillRate: 5,
        intervalMs: 1_000,
        maxTokens: 20,
        now: () => clock,
      });
      const burst: boolean[] = [];
      for (let i = 0; i < 21; i++) burst.push((await limiter.limit('ip')).success);
      expect(burst).toEqual([...Array(20).fill(true), false]);
      // Hammering while refused takes nothing away: 30 more refused calls, then after one interval the
      // 5 refilled tokens are all there.
      for (let i = 0; i < 30; i++) expect((await limiter.limit('ip')).success).toBe(false);
      const tat = (clock - Date.UTC(2024, 0, 1)) * 5 + 20 * 1_000;
      await expect.poll(() => s.get('ratelimit:ip:bucket')).toBe(tat);
      clock += 1_000;
      const refilled: boolean[] = [];
      for (let i = 0; i < 6; i++) refilled.push((await limiter.limit('ip')).success);
      expect(refilled).toEqual([true, true, true, true, true, false]);
      const ok = await limiter.limit('other');
      expect(ok).toMatchObject({ success: true, limit: 20, remaining: 19 });
      // The key expires once the bucket is full again (plus one interval): no key outlives its use.
      const entry = await s.getEntry('ratelimit:other:bucket');
      expect(Date.parse(entry?.expiresAt ?? '')).toBe(clock + 200 + 4_000);
    });

    it('refuses a bad limit, window, bucket or algorithm with ValidationError', () => {
      const s = ctx.client().store('c-unused');
      expect(() => createRateLimiter(s, { limit: 0, windowMs: 1_000 })).toThrow(ValidationError);
      expect(() => createRateLimiter(s, { limit: 1, windowMs: 0.5 })).toThrow(ValidationError);
      expect(() =>
        createRateLimiter(s, { limit: 1, windowMs: 1_000, algorithm: 'leaky-bucket' as 'fixed-window' }),
      ).toThrow(ValidationError);
      const bucket = { algorithm: 'token-bucket', refillRate: 1, intervalMs: 1_000, maxTokens: 1 } as const;
      expect(() => createRateLimiter(s, { ...bucket, refillRate: 0 })).toThrow(ValidationError);
      expect(() => createRateLimiter(s, { ...bucket, refillRate: 10_001 })).toThrow(ValidationError);
      expect(() => createRateLimiter(s, { ...bucket, intervalMs: 1.5 })).toThrow(ValidationError);
      expect(() => createRateLimiter(s, { ...bucket, maxTokens: 1_000_001 })).toThrow(ValidationError);
      expect(() =>
        createRateLimiter(s, { limit: 10_001, windowMs: 1_000, algorithm: 'token-bucket' }),
      ).toThrow(ValidationError);
    });
  });
}

async function kvStoreRevision(client: KvClient, store: string): Promise<number | undefined> {
  return (await client.stores.get(store))?.revision;
}

/** Each client increments `counter` of `store` `times` times, one call after the other. */
async function incrementAll(
  clients: KvClient[],
  store: string,
  times: number,
): Promise<Array<{ value: number; revision: number }>> {
  const results: Array<{ value: number; revision: number }> = [];
  await Promise.all(
    clients.map(async (c) => {
      const h = c.store(store);
      for (let i = 0; i < times; i++) results.push(await h.increment('counter'));
    }),
  );
  return results;
}

/**
 * A {@link LosingResponses} made on the client side, for targets that cannot drop a connection after
 * handling a request (a server process): every request is sent and answered, then the answer to a share
 * `lossRate` of the requests under `/v1/stores/{store}/` is thrown away and the client's `fetch` rejects
 * with a `TypeError`, as `fetch` does when the connection drops. What the implementation sees is the same
 * as with a lost response: the request, then its retry with the same `Idempotency-Key`.
 *
 * @param makeClient - makes a client of the target that sends its requests with the given `fetch` and
 *   retries at least 10 times
 */
export function losingResponsesOnClient<C extends KvClient>(
  store: string,
  lossRate: number,
  makeClient: (fetch: typeof globalThis.fetch) => C | Promise<C>,
): LosingResponses<C> {
  let requests = 0;
  let losing = true;
  const prefix = `/v1/stores/${encodeURIComponent(store)}/`;
  const losingFetch: typeof globalThis.fetch = async (input, init) => {
    requests += 1;
    const response = await globalThis.fetch(input, init);
    const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const url = new URL(href);
    if (losing && url.pathname.startsWith(prefix) && Math.random() < lossRate) {
      await response.body?.cancel();
      throw new TypeError('fetch failed (response lost on purpose by the conformance suite)');
    }
    return response;
  };
  return {
    createClient: () => makeClient(losingFetch),
    requests: () => requests,
    stop: () => {
      losing = false;
    },
  };
}

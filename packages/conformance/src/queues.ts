/**
 * The queue cases of the behaviour suite (docs/protocol.md "Queues"; Deno KV `enqueue`/`listenQueue`,
 * over the network): delivery once on success, delays, redelivery after a failed handler or a lost lease,
 * dead letters to `keysIfUndelivered`, one holder at a time across listeners (also for a handler that runs
 * longer than its lease: `listenQueue` extends it), retried enqueues, counts
 * and capabilities. Waits are short (ms-scale schedules) and bounded. Registered by `describeConformance`
 * inside its `describe`.
 *
 * @module
 */

import {
  type KvClient,
  type QueueMessageInfo,
  routes,
  type StoreHandle,
  StoreNotFoundError,
  UnauthorizedError,
  ValidationError,
  type WireLeaseResponse,
} from '@kv/core/protocol';
import { describe, expect, it } from 'vitest';
import type { ConformanceTarget } from './suite.js';
import { expectKvError } from './suite.js';

/** What the queue cases need from the suite that registers them (read inside `it` only). */
export interface QueueCasesContext<C extends KvClient> {
  /** The suite's admin client. */
  client(): C;
  /** The suite's target. */
  target(): ConformanceTarget<C>;
  /** A fresh store. */
  freshStore(label: string): Promise<ReturnType<C['store']>>;
  /** Whether the target runs with access control (`target.auth` set). */
  auth: boolean;
}

/** Polls `check` every 20 ms until it answers true; fails after `timeoutMs`. */
async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A running `listenQueue` and what it saw. */
interface Listening<T> {
  /** Each delivery, in the order the handler started. */
  seen: Array<{ value: T; info: QueueMessageInfo; at: number }>;
  /** Aborts the listener and waits for it to end. */
  stop(): Promise<void>;
  /** The `listenQueue` promise. */
  done: Promise<void>;
}

function listen<T>(
  store: Pick<StoreHandle, 'listenQueue'>,
  handler: (value: T, info: QueueMessageInfo) => unknown,
  options: { concurrency?: number; visibilityTimeoutMs?: number } = {},
): Listening<T> {
  const controller = new AbortController();
  const seen: Listening<T>['seen'] = [];
  const done = store.listenQueue<T>(
    async (value, info) => {
      seen.push({ value, info, at: Date.now() });
      return handler(value, info);
    },
    { ...options, signal: controller.signal },
  );
  return {
    seen,
    done,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

/** Registers the queue cases. */
export function queueCases<C extends KvClient>(ctx: QueueCasesContext<C>): void {
  const { freshStore } = ctx;

  /** Raw HTTP to the target (a lease the client never acknowledges). */
  async function raw(path: string, body: unknown): Promise<Response> {
    const doFetch = ctx.target().fetch ?? globalThis.fetch;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const auth = ctx.target().auth;
    if (ctx.auth && auth !== undefined) headers.authorization = `Bearer ${auth.adminToken}`;
    return doFetch(ctx.client().url + path, { method: 'POST', headers, body: JSON.stringify(body) });
  }

  describe('queues', () => {
    it('enqueue -> listenQueue handles the message once, with its value and attempt 1, and it is gone', async () => {
      const s = await freshStore('queue-once');
      const { id } = await s.enqueue({ job: 'email', to: 'a@example.com' });
      expect(typeof id).toBe('string');
      const text = await s.enqueue('plain text');
      const bytes = await s.enqueue(new Uint8Array([0, 1, 254, 255]));
      const l = listen<unknown>(s, () => undefined);
      try {
        await until(() => l.seen.length >= 3, 10_000, 'three deliveries');
        await until(async () => (await s.queueStats()).inFlight === 0, 10_000, 'the acks');
      } finally {
        await l.stop();
      }
      const byId = new Map(l.seen.map((d) => [d.info.id, d]));
      expect(byId.get(id)?.value).toEqual({ job: 'email', to: 'a@example.com' });
      expect(byId.get(text.id)?.value).toBe('plain text');
      expect(byId.get(bytes.id)?.value).toEqual(new Uint8Array([0, 1, 254, 255]));
      expect(l.seen.map((d) => d.info.attempt)).toEqual([1, 1, 1]);
      expect(l.seen).toHaveLength(3);
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    });

    it('delayMs is honoured: the message waits (counted delayed) and is not delivered before it passes', async () => {
      const s = await freshStore('queue-delay');
      const delayMs = 400;
      await s.enqueue('later', { delayMs });
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 1, inFlight: 0 });
      const l = listen<string>(s, () => undefined);
      try {
        await until(() => l.seen.length === 1, 10_000, 'the delayed delivery');
      } finally {
        await l.stop();
      }
      const [delivery] = l.seen;
      // The server and this test share the machine's clock: delivery is at or after enqueue + delay.
      expect(delivery!.at).toBeGreaterThanOrEqual(Date.parse(delivery!.info.enqueuedAt) + delayMs);
    });

    it('a handler that throws gets the message again after the backoff step; resolving then acknowledges it', async () => {
      const s = await freshStore('queue-retry');
      const { id } = await s.enqueue({ n: 1 }, { backoffScheduleMs: [50, 50] });
      const l = listen<unknown>(s, (_value, info) => {
        if (info.attempt === 1) throw new Error('first try fails');
      });
      try {
        await until(() => l.seen.length === 2, 10_000, 'the redelivery');
        await until(async () => (await s.queueStats()).inFlight === 0, 10_000, 'the ack');
      } finally {
        await l.stop();
      }
      expect(l.seen.map((d) => [d.info.id, d.info.attempt])).toEqual([
        [id, 1],
        [id, 2],
      ]);
      // The nack came after the first handler started; the redelivery at least one step (50 ms) after it.
      expect(l.seen[1]!.at - l.seen[0]!.at).toBeGreaterThanOrEqual(50);
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    });

    it('a handler that always throws: after the schedule the value lands in its keysIfUndelivered keys (value and content type)', async () => {
      const s = await freshStore('queue-dead');
      await s.enqueue(
        { order: 7 },
        { backoffScheduleMs: [50, 50], keysIfUndelivered: ['failed:7', 'audit/failed/7'] },
      );
      await s.enqueue(new Uint8Array([9, 8, 7]), {
        backoffScheduleMs: [],
        keysIfUndelivered: ['failed:bytes'],
        contentType: 'application/x-custom',
      });
      const l = listen<unknown>(s, () => {
        throw new Error('always fails');
      });
      try {
        await until(
          async () => (await s.getEntry('failed:bytes')) !== undefined,
          10_000,
          'the bytes dead letter',
        );
        await until(
          async () => (await s.getEntry('audit/failed/7')) !== undefined,
          10_000,
          'the dead letter',
        );
      } finally {
        await l.stop();
      }
      expect(await s.getEntry('failed:7')).toMatchObject({ value: { order: 7 } });
      expect((await s.getEntry('failed:7'))?.contentType).toMatch(/^application\/json/);
      expect(await s.getEntry('audit/failed/7')).toMatchObject({ value: { order: 7 } });
      expect(await s.getEntry('failed:bytes')).toMatchObject({
        value: new Uint8Array([9, 8, 7]),
        contentType: 'application/x-custom',
      });
      const attempts = l.seen.map((d) => d.info.attempt);
      // Three deliveries of the first (one plus two redeliveries), one of the second.
      expect(attempts.filter((a) => a === 1)).toHaveLength(2);
      expect(attempts.filter((a) => a === 2)).toHaveLength(1);
      expect(attempts.filter((a) => a === 3)).toHaveLength(1);
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    });

    it('a lease held without an ack is redelivered once it ends (visibility timeout)', async () => {
      const s = await freshStore('queue-lease');
      const { id } = await s.enqueue('held', { backoffScheduleMs: [0] });
      const response = await raw(routes.queueLease(s.name), { visibilityTimeoutMs: 1_000 });
      expect(response.status).toBe(200);
      const leased = (await response.json()) as WireLeaseResponse;
      expect(leased.messages.map((m) => [m.id, m.attempt])).toEqual([[id, 1]]);
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 0, inFlight: 1 });
      const l = listen<string>(s, () => undefined);
      try {
        await until(() => l.seen.length === 1, 10_000, 'the redelivery');
      } finally {
        await l.stop();
      }
      expect(l.seen[0]).toMatchObject({ value: 'held', info: { id, attempt: 2 } });
      expect(l.seen[0]!.at).toBeGreaterThanOrEqual(Date.parse(leased.messages[0]!.leaseExpiresAt));
      // The stale lease can no longer acknowledge.
      const stale = await raw(routes.queueAck(s.name, id), { leaseId: leased.messages[0]!.leaseId });
      expect(stale.status).toBe(404);
    });

    it('two listeners never hold the same message at once, and each of 100 messages is handled', {
      timeout: 60_000,
    }, async () => {
      const s = await freshStore('queue-many');
      const other = (await ctx.target().createClient()).store(s.name);
      const holding = new Set<string>();
      const overlaps: string[] = [];
      const handle = async (_value: unknown, info: QueueMessageInfo) => {
        if (holding.has(info.id)) overlaps.push(info.id);
        holding.add(info.id);
        await new Promise((resolve) => setTimeout(resolve, 2));
        holding.delete(info.id);
      };
      const a = listen<unknown>(s, handle, { concurrency: 4 });
      const b = listen<unknown>(other, handle, { concurrency: 4 });
      const ids: string[] = [];
      try {
        for (let i = 0; i < 100; i++) ids.push((await s.enqueue({ i })).id);
        const handled = () => new Set([...a.seen, ...b.seen].map((d) => d.info.id));
        await until(() => handled().size === 100, 30_000, '100 handled messages');
        await until(async () => (await s.queueStats()).inFlight === 0, 10_000, 'the acks');
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
      expect(overlaps).toEqual([]);
      expect(new Set([...a.seen, ...b.seen].map((d) => d.info.id))).toEqual(new Set(ids));
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    });

    it('a handler that runs longer than visibilityTimeoutMs keeps its lease: run once, the other listener never gets it, then gone', {
      timeout: 30_000,
    }, async () => {
      const s = await freshStore('queue-extend');
      const other = (await ctx.target().createClient()).store(s.name);
      // With a [0] schedule a lost lease (ending 1 s after delivery) would be redelivered at once.
      const { id } = await s.enqueue({ long: true }, { backoffScheduleMs: [0] });
      const handle = () => new Promise((resolve) => setTimeout(resolve, 2_500));
      const a = listen<unknown>(s, handle, { visibilityTimeoutMs: 1_000 });
      const b = listen<unknown>(other, handle, { visibilityTimeoutMs: 1_000 });
      try {
        await until(() => a.seen.length + b.seen.length >= 1, 10_000, 'the delivery');
        // The handler holds the message 2.5 s, past two 1 s leases: in flight until its ack.
        await until(async () => (await s.queueStats()).inFlight === 0, 15_000, 'the ack');
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
      expect([...a.seen, ...b.seen].map((d) => [d.info.id, d.info.attempt])).toEqual([[id, 1]]);
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
      // Acknowledged, so there is no lease left to extend.
      const response = await raw(routes.queueExtend(s.name, id), { leaseId: 'any' });
      expect(response.status).toBe(404);
    });

    it('a retried enqueue (responses lost) adds one message per call', async (test) => {
      const losing = ctx.target().losingResponses;
      if (losing === undefined) {
        test.skip('the target cannot lose responses');
        return;
      }
      const s = await freshStore('queue-retried');
      const faults = await losing.call(ctx.target(), s.name, 0.3);
      try {
        const client = (await faults.createClient()).store(s.name);
        for (let i = 0; i < 30; i++) await client.enqueue({ i }, { delayMs: 60_000 });
        expect(faults.requests()).toBeGreaterThan(30);
      } finally {
        await faults.stop();
      }
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 30, inFlight: 0 });
    });

    it('queueStats counts ready, delayed and in-flight messages', async () => {
      const s = await freshStore('queue-stats');
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
      await s.enqueue('a');
      await s.enqueue('b');
      await s.enqueue('c', { delayMs: 60_000 });
      expect(await s.queueStats()).toEqual({ ready: 2, delayed: 1, inFlight: 0 });
      const response = await raw(routes.queueLease(s.name), { limit: 1 });
      expect(((await response.json()) as WireLeaseResponse).messages).toHaveLength(1);
      expect(await s.queueStats()).toEqual({ ready: 1, delayed: 1, inFlight: 1 });
    });

    it('bad options are refused before sending (ValidationError); a value over 64 KiB is too large; a missing store is StoreNotFoundError', async () => {
      const s = await freshStore('queue-refused');
      await expectKvError(s.enqueue('x', { delayMs: -1 }), ValidationError);
      await expectKvError(s.enqueue('x', { delayMs: 31 * 24 * 3_600_000 }), ValidationError);
      await expectKvError(s.enqueue('x', { backoffScheduleMs: [1, 2, 3, 4, 5, 6] }), ValidationError);
      await expectKvError(s.enqueue('x', { backoffScheduleMs: [0.5] }), ValidationError);
      await expectKvError(
        s.enqueue('x', { keysIfUndelivered: Array.from({ length: 11 }, (_, i) => `k${i}`) }),
        ValidationError,
      );
      await expectKvError(s.enqueue('x', { keysIfUndelivered: [''] }), ValidationError);
      const tooLarge = await s.enqueue(new Uint8Array(65_537)).catch((e: unknown) => e);
      expect(tooLarge).toMatchObject({ code: 'payload_too_large' });
      await expectKvError(
        s.listenQueue(() => undefined, { concurrency: 0 }),
        ValidationError,
      );
      await expectKvError(
        s.listenQueue(() => undefined, { visibilityTimeoutMs: 10 }),
        ValidationError,
      );
      expect(await s.queueStats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
      const missing = ctx.client().store('c-no-such-store-queue');
      await expectKvError(missing.enqueue('x'), StoreNotFoundError);
      await expectKvError(missing.queueStats(), StoreNotFoundError);
      await expectKvError(
        missing.listenQueue(() => undefined),
        StoreNotFoundError,
      );
    });

    it.skipIf(!ctx.auth)(
      'capabilities: enqueue without dequeue cannot listen; a scoped token cannot enqueue',
      async () => {
        const s = await freshStore('queue-auth');
        const auth = ctx.target().auth;
        if (auth === undefined) throw new Error('the target has no auth');
        const producerToken = await ctx.client().tokens.create({ capabilities: [`kv[${s.name}]:enqueue`] });
        const producer = (await auth.clientWithToken(producerToken.token)).store(s.name);
        await producer.enqueue('job');
        expect(await producer.queueStats()).toMatchObject({ ready: 1 });
        await expectKvError(
          producer.listenQueue(() => undefined),
          UnauthorizedError,
          'forbidden',
        );
        // keysIfUndelivered needs set on the store too.
        await expectKvError(
          producer.enqueue('job', { keysIfUndelivered: ['dead'] }),
          UnauthorizedError,
          'forbidden',
        );
        const scopedToken = await ctx.client().tokens.create({ capabilities: [`kv[${s.name}:team]:*`] });
        const scoped = (await auth.clientWithToken(scopedToken.token)).store(s.name);
        await expectKvError(scoped.enqueue('job'), UnauthorizedError, 'forbidden');
        await expectKvError(scoped.queueStats(), UnauthorizedError, 'forbidden');
        const consumerToken = await ctx.client().tokens.create({ capabilities: [`kv[${s.name}]:dequeue`] });
        const consumer = (await auth.clientWithToken(consumerToken.token)).store(s.name);
        await expectKvError(consumer.enqueue('job'), UnauthorizedError, 'forbidden');
        const l = listen<string>(consumer, () => undefined);
        try {
          await until(() => l.seen.length === 1, 10_000, 'the delivery');
        } finally {
          await l.stop();
        }
        expect(l.seen[0]?.value).toBe('job');
      },
    );
  });
}

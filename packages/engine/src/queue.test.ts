/**
 * The queue rules of `queue.ts` through the engine's HTTP handlers (docs/protocol.md "Queues"), on the
 * memory storage with a controlled clock: enqueue, lease, ack, nack with backoff, redelivery after a lost
 * lease, lease extension, dead letters through the commit rules, idempotent enqueue, the long-poll's wake-ups and its
 * bounds, limits and capabilities.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createToken, MemoryTokenStore } from './auth.js';
import { createEngine, type Engine } from './engine.js';
import { MemoryStorage } from './memory-storage.js';
import { T0 } from './testing/helpers.js';

const BASE = 'http://kv.test/v1/stores/q';
const b64 = (text: string): string => btoa(text);
const unb64 = (value: string): string => atob(value);

let now = T0;
let engine: Engine;

beforeEach(async () => {
  now = T0;
  engine = createEngine({ storage: new MemoryStorage(), clock: () => now });
  await call('POST', 'http://kv.test/v1/stores', { name: 'q' });
});

afterEach(async () => {
  await engine.close();
});

async function call(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
  // biome-ignore lint/suspicious/noExplicitAny: response JSON of many shapes, read field by field in the tests.
): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  if (signal !== undefined) init.signal = signal;
  const res = await engine.fetch(new Request(url, init));
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

const enqueue = (body: Record<string, unknown>, headers?: Record<string, string>) =>
  call('POST', `${BASE}/queue`, body, headers);
const lease = (body: Record<string, unknown> = {}, signal?: AbortSignal) =>
  call('POST', `${BASE}/queue/lease`, body, {}, signal);
const ack = (id: string, leaseId: string) => call('POST', `${BASE}/queue/${id}/ack`, { leaseId });
const nack = (id: string, leaseId: string) =>
  call('POST', `${BASE}/queue/${id}/nack`, { leaseId, error: 'handler failed' });
const extend = (id: string, leaseId: string, visibilityTimeoutMs?: number) =>
  call(
    'POST',
    `${BASE}/queue/${id}/extend`,
    visibilityTimeoutMs === undefined ? { leaseId } : { leaseId, visibilityTimeoutMs },
  );
const stats = async () => (await call('GET', `${BASE}/queue`)).body;

describe('queue rules', () => {
  it('enqueue -> lease -> ack: delivered once with its value, then gone', async () => {
    const { status, body } = await enqueue({ value: b64('{"job":1}'), contentType: 'application/json' });
    expect(status).toBe(201);
    expect(await stats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
    const leased = await lease({ visibilityTimeoutMs: 5000 });
    expect(leased.status).toBe(200);
    const [m] = leased.body.messages;
    expect(m).toMatchObject({
      id: body.id,
      encoding: 'base64',
      contentType: 'application/json',
      attempt: 1,
      enqueuedAt: new Date(T0).toISOString(),
      leaseExpiresAt: new Date(T0 + 5000).toISOString(),
    });
    expect(unb64(m.value)).toBe('{"job":1}');
    expect(await stats()).toEqual({ ready: 0, delayed: 0, inFlight: 1 });
    expect((await lease()).body.messages).toEqual([]);
    expect((await ack(m.id, m.leaseId)).status).toBe(204);
    expect(await stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    // A repeated ack: the lease is no longer held.
    const again = await ack(m.id, m.leaseId);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('not_found');
  });

  it('delayMs: not delivered before it passes', async () => {
    await enqueue({ value: b64('later'), delayMs: 10_000 });
    expect(await stats()).toEqual({ ready: 0, delayed: 1, inFlight: 0 });
    now = T0 + 9_999;
    expect((await lease()).body.messages).toEqual([]);
    now = T0 + 10_000;
    expect((await lease()).body.messages).toHaveLength(1);
  });

  it('nack: redelivered after the backoff step of the attempt; a stale lease cannot settle', async () => {
    await enqueue({ value: b64('x'), backoffScheduleMs: [100, 200] });
    const first = (await lease()).body.messages[0];
    expect((await nack(first.id, first.leaseId)).status).toBe(204);
    expect(await stats()).toEqual({ ready: 0, delayed: 1, inFlight: 0 });
    now = T0 + 99;
    expect((await lease()).body.messages).toEqual([]);
    now = T0 + 100;
    const second = (await lease()).body.messages[0];
    expect(second).toMatchObject({ id: first.id, attempt: 2 });
    expect(second.leaseId).not.toBe(first.leaseId);
    expect((await ack(first.id, first.leaseId)).status).toBe(404);
    expect((await nack(second.id, second.leaseId)).status).toBe(204);
    now = T0 + 299;
    expect((await lease()).body.messages).toEqual([]);
    now = T0 + 300;
    expect((await lease()).body.messages[0]).toMatchObject({ id: first.id, attempt: 3 });
  });

  it('a lease that ends without an ack is redelivered after the visibility timeout plus the backoff step', async () => {
    await enqueue({ value: b64('x'), backoffScheduleMs: [500] });
    const first = (await lease({ visibilityTimeoutMs: 1000 })).body.messages[0];
    now = T0 + 1000;
    expect(await stats()).toEqual({ ready: 0, delayed: 1, inFlight: 0 });
    expect((await lease()).body.messages).toEqual([]);
    now = T0 + 1500;
    const second = (await lease({ visibilityTimeoutMs: 1000 })).body.messages[0];
    expect(second).toMatchObject({ id: first.id, attempt: 2 });
    // Its schedule is exhausted: a second lost lease dead-letters it (no keys: just dropped).
    now = T0 + 1500 + 1000;
    expect((await lease()).body.messages).toEqual([]);
    expect(await stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
  });

  it('extend: the message is not leased again past the old expiry; it ends visibilityTimeoutMs after the extension', async () => {
    await enqueue({ value: b64('x'), backoffScheduleMs: [500] });
    const m = (await lease({ visibilityTimeoutMs: 1000 })).body.messages[0];
    now = T0 + 800;
    const extended = await extend(m.id, m.leaseId, 2000);
    expect(extended).toEqual({ status: 200, body: { leaseExpiresAt: new Date(T0 + 2800).toISOString() } });
    // Past the old expiry and its backoff step (T0 + 1500): still held.
    now = T0 + 2000;
    expect((await lease()).body.messages).toEqual([]);
    expect(await stats()).toEqual({ ready: 0, delayed: 0, inFlight: 1 });
    // Without a visibilityTimeoutMs, the lease's default (30 s).
    now = T0 + 2500;
    expect((await extend(m.id, m.leaseId)).body.leaseExpiresAt).toBe(new Date(T0 + 32_500).toISOString());
    expect((await ack(m.id, m.leaseId)).status).toBe(204);
    expect(await stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    // Acknowledged: nothing left to extend.
    const gone = await extend(m.id, m.leaseId);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('not_found');
  });

  it('extend after the lease ended: held while no other lease took it; after extension the backoff formula holds', async () => {
    await enqueue({ value: b64('x'), backoffScheduleMs: [500, 700] });
    const first = (await lease({ visibilityTimeoutMs: 1000 })).body.messages[0];
    // The lease ended (T0 + 1000) but the message is not due again before T0 + 1500: still extendable.
    now = T0 + 1200;
    expect((await extend(first.id, first.leaseId, 1000)).status).toBe(200);
    // New expiry T0 + 2200, visible again at T0 + 2200 + 500 (the step of attempt 1), as a lease.
    now = T0 + 2200;
    expect(await stats()).toEqual({ ready: 0, delayed: 1, inFlight: 0 });
    now = T0 + 2699;
    expect((await lease()).body.messages).toEqual([]);
    now = T0 + 2700;
    const second = (await lease({ visibilityTimeoutMs: 1000 })).body.messages[0];
    expect(second).toMatchObject({ id: first.id, attempt: 2 });
    // The first lease is stale now: 404, and the second lease is unchanged by it.
    const stale = await extend(first.id, first.leaseId, 5000);
    expect(stale.status).toBe(404);
    expect(stale.body.error.code).toBe('not_found');
    // Second attempt: expiry now + 1000, visible again 700 (its step) after.
    now = T0 + 3000;
    expect((await extend(second.id, second.leaseId, 1000)).body.leaseExpiresAt).toBe(
      new Date(T0 + 4000).toISOString(),
    );
    now = T0 + 4699;
    expect((await lease()).body.messages).toEqual([]);
    now = T0 + 4700;
    expect((await lease()).body.messages[0]).toMatchObject({ id: first.id, attempt: 3 });
  });

  it('extend refuses a nacked delivery (404), bad input (400, nothing changed) and an unknown message (404)', async () => {
    await enqueue({ value: b64('x'), backoffScheduleMs: [100] });
    const m = (await lease({ visibilityTimeoutMs: 1000 })).body.messages[0];
    for (const body of [
      {},
      { leaseId: '' },
      { leaseId: m.leaseId, visibilityTimeoutMs: 999 },
      { leaseId: m.leaseId, visibilityTimeoutMs: 43_200_001 },
      { leaseId: m.leaseId, visibilityTimeoutMs: 1500.5 },
      { leaseId: m.leaseId, other: 1 },
    ]) {
      const res = await call('POST', `${BASE}/queue/${m.id}/extend`, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
    }
    expect((await extend('no-such-message', m.leaseId)).status).toBe(404);
    // Unchanged by the refused calls: due again at T0 + 1000 + 100.
    now = T0 + 1100;
    expect(await stats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
    now = T0;
    expect((await nack(m.id, m.leaseId)).status).toBe(204);
    // Given back: the lease no longer holds, and the nack's backoff (T0 + 100) stands.
    expect((await extend(m.id, m.leaseId, 5000)).status).toBe(404);
    now = T0 + 100;
    expect((await lease()).body.messages[0]).toMatchObject({ id: m.id, attempt: 2 });
    const missing = await call('POST', 'http://kv.test/v1/stores/none/queue/x/extend', { leaseId: 'l' });
    expect(missing.body.error.code).toBe('store_not_found');
  });

  it('a message that always fails lands in its keysIfUndelivered keys after the schedule (value, content type, revisions)', async () => {
    await enqueue({
      value: b64('{"order":7}'),
      contentType: 'application/json',
      keysIfUndelivered: ['dead:a', 'dead:b'],
      backoffScheduleMs: [10],
    });
    const first = (await lease()).body.messages[0];
    await nack(first.id, first.leaseId);
    now += 10;
    const second = (await lease()).body.messages[0];
    expect(second.attempt).toBe(2);
    expect(await call('GET', `${BASE}/entries/dead%3Aa`)).toMatchObject({ status: 404 });
    await nack(second.id, second.leaseId);
    for (const key of ['dead:a', 'dead:b']) {
      const res = await engine.fetch(new Request(`${BASE}/entries/${encodeURIComponent(key)}`));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.text()).toBe('{"order":7}');
    }
    // One atomic commit: consecutive revisions, and the message is gone.
    const store = (await call('GET', BASE)).body;
    expect(store.revision).toBe(2);
    expect(await stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
  });

  it('the default schedule is [1000, 5000, 10000]: four deliveries', async () => {
    await enqueue({ value: b64('x') });
    const seen: number[] = [];
    for (const step of [0, 1000, 5000, 10_000]) {
      now += step;
      const m = (await lease()).body.messages[0];
      seen.push(m.attempt);
      await nack(m.id, m.leaseId);
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(await stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
  });

  it('leases in visibleAt order, at most limit', async () => {
    await enqueue({ value: b64('b'), delayMs: 20 });
    await enqueue({ value: b64('a'), delayMs: 10 });
    await enqueue({ value: b64('c'), delayMs: 30 });
    now = T0 + 30;
    const two = (await lease({ limit: 2 })).body.messages.map((m: { value: string }) => unb64(m.value));
    expect(two).toEqual(['a', 'b']);
    expect((await lease({ limit: 100 })).body.messages).toHaveLength(1);
  });

  it('a retried enqueue with the same Idempotency-Key adds one message and answers the same id', async () => {
    const headers = { 'idempotency-key': 'enq-1' };
    const first = await enqueue({ value: b64('x') }, headers);
    const second = await enqueue({ value: b64('x') }, headers);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(await stats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
    const reused = await enqueue({ value: b64('other') }, headers);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
  });

  it('refuses bad input with 400 and changes nothing; 413 over 64 KiB; 404 for a missing store', async () => {
    const bad = [
      { value: b64('x'), delayMs: -1 },
      { value: b64('x'), delayMs: 30 * 24 * 3600 * 1000 + 1 },
      { value: b64('x'), backoffScheduleMs: [1, 2, 3, 4, 5, 6] },
      { value: b64('x'), backoffScheduleMs: [3_600_001] },
      { value: b64('x'), keysIfUndelivered: Array.from({ length: 11 }, (_, i) => `k${i}`) },
      { value: b64('x'), keysIfUndelivered: [''] },
      { value: b64('x'), contentType: 'not a type' },
      { value: 'not base64!' },
      { value: b64('x'), encoding: 'utf8' },
    ];
    for (const body of bad) expect((await enqueue(body)).status).toBe(400);
    for (const body of [{ limit: 0 }, { limit: 101 }, { visibilityTimeoutMs: 999 }, { waitMs: 30_001 }]) {
      expect((await lease(body)).status).toBe(400);
    }
    const big = await enqueue({ value: btoa('x'.repeat(65_537)) });
    expect(big.status).toBe(413);
    expect(await stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    const missing = await call('POST', 'http://kv.test/v1/stores/none/queue', { value: b64('x') });
    expect(missing.body.error.code).toBe('store_not_found');
    expect((await call('GET', 'http://kv.test/v1/stores/none/queue')).status).toBe(404);
  });

  it('deleting the store deletes its messages', async () => {
    await enqueue({ value: b64('x') });
    await call('DELETE', BASE);
    await call('POST', 'http://kv.test/v1/stores', { name: 'q' });
    expect(await stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
  });
});

describe('lease long-poll', () => {
  it('waits for an enqueue and answers it at once', async () => {
    const waiting = lease({ waitMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await enqueue({ value: b64('wake') });
    const { body } = await waiting;
    expect(body.messages.map((m: { value: string }) => unb64(m.value))).toEqual(['wake']);
  });

  it('answers no messages after waitMs when nothing comes', async () => {
    // The engine clock stands still here: the wait is measured in real time.
    const { status, body } = await lease({ waitMs: 50 });
    expect(status).toBe(200);
    expect(body.messages).toEqual([]);
  });

  it('wakes at the next visibleAt (a delayed message becoming due)', async () => {
    engine = createEngine({ storage: new MemoryStorage() });
    await call('POST', 'http://kv.test/v1/stores', { name: 'q' });
    await enqueue({ value: b64('soon'), delayMs: 40 });
    const { body } = await lease({ waitMs: 5_000 });
    expect(body.messages).toHaveLength(1);
  });

  it('an aborted request stops waiting', async () => {
    const controller = new AbortController();
    const waiting = lease({ waitMs: 30_000 }, controller.signal).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await waiting;
    // The waiter is gone: a later enqueue stays in the queue for the next lease.
    await enqueue({ value: b64('x') });
    expect(await stats()).toEqual({ ready: 1, delayed: 0, inFlight: 0 });
  });

  it('is woken by the storage change hints of other instances (Storage.onChange)', async () => {
    const listeners = new Set<(store: string) => void>();
    const storage = Object.assign(new MemoryStorage(), {
      onChange(listener: (store: string) => void): () => void {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    });
    const a = createEngine({ storage });
    const b = createEngine({ storage });
    engine = a;
    await call('POST', 'http://kv.test/v1/stores', { name: 'q' });
    const waiting = lease({ waitMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    engine = b;
    await enqueue({ value: b64('from b') });
    // b's commit reaches a only through the hint.
    for (const listener of listeners) listener('q');
    engine = a;
    expect((await waiting).body.messages).toHaveLength(1);
    await b.close();
  });
});

describe('queue capabilities', () => {
  async function withTokens(): Promise<(capabilities: string[]) => Promise<Record<string, string>>> {
    const tokens = new MemoryTokenStore();
    engine = createEngine({ storage: new MemoryStorage(), auth: { tokens }, clock: () => now });
    const bearer = async (capabilities: string[]) => {
      const created = await createToken(tokens, { capabilities }, now);
      return { authorization: `Bearer ${created.token}` };
    };
    await call('POST', 'http://kv.test/v1/stores', { name: 'q' }, await bearer(['*']));
    return bearer;
  }

  it('enqueue needs enqueue; lease, ack, nack and extend need dequeue; stats either; set on keysIfUndelivered', async () => {
    const token = await withTokens();
    const producer = await token(['kv[q]:enqueue']);
    const consumer = await token(['kv[q]:dequeue']);
    const auth = (h: Record<string, string>) => h;
    expect((await call('POST', `${BASE}/queue`, { value: b64('x') }, auth(consumer))).status).toBe(403);
    const sent = await call('POST', `${BASE}/queue`, { value: b64('x') }, auth(producer));
    expect(sent.status).toBe(201);
    expect((await call('POST', `${BASE}/queue/lease`, {}, auth(producer))).status).toBe(403);
    expect((await call('GET', `${BASE}/queue`, undefined, auth(producer))).status).toBe(200);
    expect((await call('GET', `${BASE}/queue`, undefined, auth(consumer))).status).toBe(200);
    const leased = await call('POST', `${BASE}/queue/lease`, {}, auth(consumer));
    const m = leased.body.messages[0];
    expect(
      (await call('POST', `${BASE}/queue/${m.id}/ack`, { leaseId: m.leaseId }, auth(producer))).status,
    ).toBe(403);
    expect(
      (await call('POST', `${BASE}/queue/${m.id}/extend`, { leaseId: m.leaseId }, auth(producer))).status,
    ).toBe(403);
    expect(
      (await call('POST', `${BASE}/queue/${m.id}/extend`, { leaseId: m.leaseId }, auth(consumer))).status,
    ).toBe(200);
    expect(
      (await call('POST', `${BASE}/queue/${m.id}/ack`, { leaseId: m.leaseId }, auth(consumer))).status,
    ).toBe(204);
    const deadLetter = { value: b64('x'), keysIfUndelivered: ['dead'] };
    expect((await call('POST', `${BASE}/queue`, deadLetter, auth(producer))).status).toBe(403);
    const both = await token(['kv[q]:enqueue', 'kv[q]:set']);
    expect((await call('POST', `${BASE}/queue`, deadLetter, auth(both))).status).toBe(201);
  });

  it('a scoped grant allows no queue action; a scoped queue capability is refused at creation', async () => {
    const token = await withTokens();
    const scoped = await token(['kv[q:team]:*']);
    expect((await call('POST', `${BASE}/queue`, { value: b64('x') }, scoped)).status).toBe(403);
    expect((await call('POST', `${BASE}/queue/lease`, {}, scoped)).status).toBe(403);
    expect((await call('POST', `${BASE}/queue/m/extend`, { leaseId: 'l' }, scoped)).status).toBe(403);
    expect((await call('GET', `${BASE}/queue`, undefined, scoped)).status).toBe(403);
    await expect(token(['kv[q:team]:enqueue'])).rejects.toMatchObject({ code: 'validation_error' });
  });
});

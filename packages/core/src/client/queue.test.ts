/**
 * `listenQueue`'s loop (`queue.ts`) against a scripted `fetch`: what it sends, which lease failures it
 * retries, which end it, how it extends a running handler's lease, and how an abort ends it. The delivery rules themselves are the engine's and are
 * tested against it (engine `queue.test.ts`, the conformance suite).
 */
import { describe, expect, it } from 'vitest';
import { isKvError } from '../errors.js';
import { createHttpClient, type FetchLike } from './index.js';

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const message = {
  id: 'm1',
  leaseId: 'l1',
  value: btoa('"hello"'),
  encoding: 'base64',
  contentType: 'application/json',
  attempt: 1,
  enqueuedAt: '2026-01-01T00:00:00.000Z',
  leaseExpiresAt: '2026-01-01T00:00:30.000Z',
};

/** A client whose requests go to `answer`, recorded as `METHOD path body`. */
function scripted(
  answer: (path: string, body: unknown, signal: AbortSignal) => Response | Promise<Response>,
) {
  const sent: string[] = [];
  const fetch: FetchLike = async (input, init) => {
    const req = new Request(input, init);
    const path = new URL(req.url).pathname;
    const text = await req.text();
    sent.push(`${req.method} ${path} ${text}`);
    return answer(path, text === '' ? undefined : JSON.parse(text), req.signal);
  };
  const client = createHttpClient({ url: 'http://kv.test', fetch, retry: { limit: 0 } });
  return { store: client.store('s'), sent };
}

describe('listenQueue', () => {
  it('leases with the long-poll wait and free slots, runs the handler, acks on success and nacks on a throw', async () => {
    const controller = new AbortController();
    let leases = 0;
    const { store, sent } = scripted((path) => {
      if (path.endsWith('/lease')) {
        leases += 1;
        if (leases === 1) return json(200, { messages: [message, { ...message, id: 'm2', leaseId: 'l2' }] });
        controller.abort();
        return json(200, { messages: [] });
      }
      return new Response(null, { status: 204 });
    });
    const seen: unknown[] = [];
    await store.listenQueue(
      (value, info) => {
        seen.push([value, info]);
        if (info.id === 'm2') throw new Error('boom');
      },
      { concurrency: 2, visibilityTimeoutMs: 5000, signal: controller.signal },
    );
    expect(seen).toEqual([
      ['hello', { id: 'm1', attempt: 1, enqueuedAt: message.enqueuedAt }],
      ['hello', { id: 'm2', attempt: 1, enqueuedAt: message.enqueuedAt }],
    ]);
    expect(sent[0]).toBe(
      'POST /v1/stores/s/queue/lease {"limit":2,"waitMs":20000,"visibilityTimeoutMs":5000}',
    );
    expect(sent).toContain('POST /v1/stores/s/queue/m1/ack {"leaseId":"l1"}');
    expect(sent).toContain('POST /v1/stores/s/queue/m2/nack {"leaseId":"l2","error":"boom"}');
  });

  it('retries a lease after a 503 and ends on a 501 (no queue on the storage) or a 404 store', async () => {
    let calls = 0;
    const retrying = scripted(() => {
      calls += 1;
      if (calls === 1) return json(503, { error: { code: 'unavailable', message: 'busy' } });
      return json(501, { error: { code: 'not_implemented', message: 'no queues here' } });
    });
    const error = await retrying.store.listenQueue(() => undefined).catch((e: unknown) => e);
    expect(isKvError(error) && error.code).toBe('not_implemented');
    expect(calls).toBe(2);
    const missing = scripted(() => json(404, { error: { code: 'store_not_found', message: 'no store' } }));
    const notFound = await missing.store.listenQueue(() => undefined).catch((e: unknown) => e);
    expect(isKvError(notFound) && notFound.code).toBe('store_not_found');
  });

  it('an abort during the long-poll ends it at once, and a signal already aborted sends nothing', async () => {
    const controller = new AbortController();
    const { store, sent } = scripted(
      (_path, _body, signal) =>
        // Never answers: like a fetch, it fails only when the request is aborted.
        new Promise<Response>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          setTimeout(() => controller.abort(), 10);
        }),
    );
    await store.listenQueue(() => undefined, { signal: controller.signal });
    expect(sent).toHaveLength(1);
    const idle = scripted(() => json(200, { messages: [] }));
    await idle.store.listenQueue(() => undefined, { signal: AbortSignal.abort() });
    expect(idle.sent).toEqual([]);
  });

  it("extends a running handler's lease every half visibilityTimeoutMs, past a 503, until a 404; then acks", {
    timeout: 20_000,
  }, async () => {
    const controller = new AbortController();
    let leases = 0;
    let extends_ = 0;
    let lost!: () => void;
    const leaseLost = new Promise<void>((resolve) => {
      lost = resolve;
    });
    const { store, sent } = scripted((path) => {
      if (path.endsWith('/lease')) {
        leases += 1;
        if (leases === 1) return json(200, { messages: [message] });
        controller.abort();
        return json(200, { messages: [] });
      }
      if (path.endsWith('/extend')) {
        extends_ += 1;
        if (extends_ === 1) return json(503, { error: { code: 'unavailable', message: 'busy' } });
        if (extends_ === 2) return json(200, { leaseExpiresAt: '2026-01-01T00:00:31.000Z' });
        lost();
        return json(404, { error: { code: 'not_found', message: 'lease lost' } });
      }
      return json(404, { error: { code: 'not_found', message: 'lease lost' } });
    });
    await store.listenQueue(
      async () => {
        await leaseLost;
        // Over two periods more: a listener that kept extending after the 404 would send more.
        await new Promise((resolve) => setTimeout(resolve, 1200));
      },
      { visibilityTimeoutMs: 1000, signal: controller.signal },
    );
    const extension = 'POST /v1/stores/s/queue/m1/extend {"leaseId":"l1","visibilityTimeoutMs":1000}';
    expect(sent.filter((line) => line.includes('/extend'))).toEqual([extension, extension, extension]);
    // The ack (answered 404: the lease was lost) comes after them, and ends nothing.
    expect(sent.filter((line) => !line.includes('/lease')).at(-1)).toBe(
      'POST /v1/stores/s/queue/m1/ack {"leaseId":"l1"}',
    );
  });

  it('sends no extension for a handler that settles within half the lease', async () => {
    const controller = new AbortController();
    const { store, sent } = scripted((path) => {
      if (path.endsWith('/lease')) {
        if (sent.length === 1) return json(200, { messages: [message] });
        controller.abort();
        return json(200, { messages: [] });
      }
      return new Response(null, { status: 204 });
    });
    await store.listenQueue(() => undefined, { signal: controller.signal });
    // The default lease is 30 s: its first extension would be at 15 s.
    expect(sent.filter((line) => line.includes('/extend'))).toEqual([]);
    expect(sent).toContain('POST /v1/stores/s/queue/m1/ack {"leaseId":"l1"}');
  });
});

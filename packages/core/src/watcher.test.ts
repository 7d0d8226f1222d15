import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type KvError,
  NetworkError,
  RevisionCompactedError,
  ServerError,
  UnauthenticatedError,
  UnauthorizedError,
} from './errors.js';
import type { WatchEvent } from './types.js';
import { startWatch, type WatchTransport } from './watcher.js';

/** One step of the scripted server: an SSE body (kept open with `hold`), an HTTP error, or a throw. */
type Step =
  | { sse: string; hold?: boolean }
  | { status: number; body?: unknown }
  | { fail: Error }
  | { hang: true };

/** A call the watcher made: the URL, its headers, and the (fake) time it was made at. */
interface Call {
  url: URL;
  headers: Record<string, string>;
  at: number;
}

/**
 * A scripted `fetch` for the watch route: each call takes the next step. Like a real `fetch`, an abort
 * of the request's signal rejects a pending call and errors a body still being streamed. With no steps
 * left, the call hangs until aborted.
 */
function scriptedWatch(steps: Step[]): { transport: WatchTransport; calls: Call[] } {
  const calls: Call[] = [];
  const watchFetch = (async (input: URL | string, init?: RequestInit): Promise<Response> => {
    const signal = init?.signal ?? undefined;
    calls.push({
      url: new URL(String(input)),
      headers: { ...(init?.headers as Record<string, string>) },
      at: Date.now(),
    });
    const aborted = (): Promise<never> =>
      new Promise((_resolve, reject) => {
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    const step = steps.shift() ?? { hang: true };
    if ('hang' in step) return aborted();
    if ('fail' in step) throw step.fail;
    if ('status' in step) {
      return new Response(step.body === undefined ? null : JSON.stringify(step.body), {
        status: step.status,
        headers: { 'content-type': 'application/json' },
      });
    }
    const bytes = new TextEncoder().encode(step.sse);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes);
        if (!step.hold) {
          controller.close();
          return;
        }
        aborted().catch((reason: unknown) => controller.error(reason));
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  }) as typeof fetch;
  return {
    transport: {
      url: 'http://kv.test/v1/stores/s/watch',
      fetch: watchFetch,
      headers: { authorization: 'Bearer t' },
    },
    calls,
  };
}

/** The SSE text of a `put` event at `revision` with a JSON value. */
function put(key: string, revision: number, value: unknown): string {
  const data = {
    type: 'put',
    store: 's',
    key,
    id: `id-${key}`,
    revision,
    contentType: 'application/json',
    metadata: null,
    scopes: [],
    createdAt: '2030-01-01T00:00:00.000Z',
    updatedAt: '2030-01-01T00:00:00.000Z',
    expiresAt: null,
    resume: false,
    size: 1,
    value: btoa(JSON.stringify(value)),
  };
  return `id: ${revision}\nevent: put\ndata: ${JSON.stringify(data)}\n\n`;
}

const ready = (revision: number): string =>
  `id: ${revision}\nevent: ready\ndata: {"revision":${revision}}\n\n`;

const errorEvent = (code: string): string =>
  `event: error\ndata: ${JSON.stringify({ error: { code, message: `${code} happened` } })}\n\n`;

/** Resolves after pending I/O callbacks and microtasks (real timers). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('startWatch: ending a watch', () => {
  it('an AbortSignal ends it: the iterator completes, onClose is called once, nothing reconnects', async () => {
    const { transport, calls } = scriptedWatch([{ sse: ready(1) + put('a', 2, 'x'), hold: true }]);
    const abort = new AbortController();
    let closes = 0;
    const watch = startWatch(
      transport,
      { signal: abort.signal, reconnectBaseMs: 1 },
      {
        onClose: () => {
          closes++;
        },
      },
    );
    const seen: Array<[string, number]> = [];
    for await (const event of watch) {
      seen.push([event.key, event.revision]);
      abort.abort();
    }
    await watch.closed;
    await settle();
    expect(seen).toEqual([['a', 2]]);
    expect(closes).toBe(1);
    expect(calls).toHaveLength(1);
    expect(watch.lastRevision).toBe(2);
  });

  it('an AbortSignal ends a callback watch whose stream is idle', async () => {
    const { transport, calls } = scriptedWatch([{ sse: ready(1), hold: true }]);
    const abort = new AbortController();
    const errors: KvError[] = [];
    let closes = 0;
    const watch = startWatch(
      transport,
      { signal: abort.signal, reconnectBaseMs: 1 },
      {
        onUpdate: () => {},
        onError: (e) => errors.push(e),
        onClose: () => {
          closes++;
        },
      },
    );
    await settle();
    expect(calls).toHaveLength(1);
    abort.abort();
    await watch.closed;
    await settle();
    expect(closes).toBe(1);
    expect(errors).toEqual([]);
    expect(calls).toHaveLength(1);
  });

  it('a signal aborted before the watch starts sends nothing', async () => {
    const { transport, calls } = scriptedWatch([]);
    let closes = 0;
    const watch = startWatch(
      transport,
      { signal: AbortSignal.abort() },
      {
        onClose: () => {
          closes++;
        },
      },
    );
    const events: WatchEvent[] = [];
    for await (const event of watch) events.push(event);
    await watch.closed;
    expect(events).toEqual([]);
    expect(calls).toHaveLength(0);
    expect(closes).toBe(1);
  });

  it('stop() ends it while a connection is pending, delivers nothing more, and is safe twice', async () => {
    const { transport, calls } = scriptedWatch([{ sse: ready(3) + put('a', 4, 1), hold: true }]);
    const updates: number[] = [];
    let closes = 0;
    const watch = startWatch(
      transport,
      { reconnectBaseMs: 1 },
      {
        onUpdate: (e) => updates.push(e.revision),
        onClose: () => {
          closes++;
        },
      },
    );
    await settle();
    expect(updates).toEqual([4]);
    watch.stop();
    watch.stop();
    await watch.closed;
    await settle();
    expect(closes).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it('breaking out of a for await loop stops the watch', async () => {
    const { transport, calls } = scriptedWatch([{ sse: put('a', 1, 1) + put('b', 2, 2), hold: true }]);
    const watch = startWatch(transport, { reconnectBaseMs: 1 });
    for await (const event of watch) {
      expect(event.key).toBe('a');
      break;
    }
    await watch.closed;
    await settle();
    expect(calls).toHaveLength(1);
  });
});

describe('startWatch: reconnecting', () => {
  it('backs off exponentially from reconnectBaseMs, capped at reconnectMaxMs', async () => {
    vi.useFakeTimers({ now: 0 });
    vi.spyOn(Math, 'random').mockReturnValue(1); // jitter factor 0.5 + 1 / 2 = 1: the full delay
    const fail = (): Step => ({ fail: new TypeError('fetch failed') });
    const { transport, calls } = scriptedWatch([fail(), fail(), fail(), fail(), fail(), fail()]);
    const retried: boolean[] = [];
    const watch = startWatch(
      transport,
      { reconnectBaseMs: 100, reconnectMaxMs: 500 },
      { onUpdate: () => {}, onError: (_e, info) => retried.push(info.willRetry) },
    );
    await vi.advanceTimersByTimeAsync(3_000);
    const gaps = calls.slice(1).map((call, i) => call.at - (calls[i] as Call).at);
    expect(gaps).toEqual([100, 200, 400, 500, 500, 500]);
    expect(retried).toEqual([true, true, true, true, true, true]);
    watch.stop();
    await watch.closed;
  });

  it('jitters each delay down to half, never above the computed delay', async () => {
    vi.useFakeTimers({ now: 0 });
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const { transport, calls } = scriptedWatch([
      { fail: new TypeError('fetch failed') },
      { fail: new TypeError('fetch failed') },
    ]);
    const watch = startWatch(transport, { reconnectBaseMs: 100 }, { onUpdate: () => {} });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls.map((c) => c.at)).toEqual([0, 50, 150]);
    watch.stop();
    await watch.closed;
  });

  it('reconnects at once after a stream that made progress, and resets the backoff', async () => {
    vi.useFakeTimers({ now: 0 });
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { transport, calls } = scriptedWatch([
      { fail: new TypeError('fetch failed') },
      { sse: put('a', 1, 1) },
      { fail: new TypeError('fetch failed') },
    ]);
    const watch = startWatch(transport, { reconnectBaseMs: 100 }, { onUpdate: () => {} });
    await vi.advanceTimersByTimeAsync(1_000);
    // 100: first backoff; +1: the next timer tick (a zero delay); +100: the backoff starts over.
    expect(calls.map((c) => c.at)).toEqual([0, 100, 101, 201]);
    watch.stop();
    await watch.closed;
  });

  it('resumes with fromRevision = the last revision seen, and sends the first-connection options once', async () => {
    const { transport, calls } = scriptedWatch([
      { sse: ready(4) + put('user.1', 5, 'a') + put('user.2', 7, 'b') },
      { sse: put('user.3', 8, 'c'), hold: true },
    ]);
    const events: Array<[string, number, unknown]> = [];
    const watch = startWatch(
      transport,
      { match: 'user.*', includeHistory: true, updatesOnly: true, resume: true, reconnectBaseMs: 1 },
      { onUpdate: (e) => events.push([e.key, e.revision, e.value]) },
    );
    while (events.length < 3) await settle();
    watch.stop();
    await watch.closed;
    expect(events).toEqual([
      ['user.1', 5, 'a'],
      ['user.2', 7, 'b'],
      ['user.3', 8, 'c'],
    ]);
    expect(calls).toHaveLength(2);
    const [first, second] = calls as [Call, Call];
    expect(first.url.searchParams.get('fromRevision')).toBeNull();
    expect(first.url.searchParams.get('includeHistory')).toBe('true');
    expect(first.url.searchParams.get('updatesOnly')).toBe('true');
    expect(first.url.searchParams.get('resume')).toBe('true');
    expect(second.url.searchParams.get('fromRevision')).toBe('7');
    expect(second.url.searchParams.get('match')).toBe('user.*');
    expect(second.url.searchParams.has('includeHistory')).toBe(false);
    expect(second.url.searchParams.has('updatesOnly')).toBe(false);
    expect(second.url.searchParams.has('resume')).toBe(false);
    expect(second.headers.authorization).toBe('Bearer t');
    expect(second.headers.accept).toBe('text/event-stream');
    expect(watch.lastRevision).toBe(8);
  });

  it('resumes from the ready revision when no change came before the drop', async () => {
    const { transport, calls } = scriptedWatch([{ sse: ready(9) }, { sse: '', hold: true }]);
    const watch = startWatch(transport, { reconnectBaseMs: 1 }, { onUpdate: () => {} });
    while (calls.length < 2) await settle();
    watch.stop();
    await watch.closed;
    expect(calls[1]?.url.searchParams.get('fromRevision')).toBe('9');
  });

  it('reconnects after a 503 answer, reporting it with willRetry: true', async () => {
    const { transport, calls } = scriptedWatch([
      { status: 503, body: { error: { code: 'unavailable', message: 'busy' } } },
      { sse: put('a', 1, 1), hold: true },
    ]);
    const errors: Array<[KvError, boolean]> = [];
    const updates: number[] = [];
    const watch = startWatch(
      transport,
      { reconnectBaseMs: 1 },
      { onUpdate: (e) => updates.push(e.revision), onError: (e, i) => errors.push([e, i.willRetry]) },
    );
    while (updates.length < 1) await settle();
    watch.stop();
    await watch.closed;
    expect(calls).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[0]).toBeInstanceOf(ServerError);
    expect(errors[0]?.[1]).toBe(true);
  });
});

describe('startWatch: errors', () => {
  it.each([
    ['unauthenticated', UnauthenticatedError, 401],
    ['forbidden', UnauthorizedError, 403],
    ['revision_compacted', RevisionCompactedError, 410],
    ['internal', ServerError, 500],
  ] as const)(
    'maps an error event %s to its class and status, and ends the watch',
    async (code, Ctor, status) => {
      const { transport, calls } = scriptedWatch([{ sse: put('a', 1, 1) + errorEvent(code) }]);
      const errors: Array<[KvError, boolean]> = [];
      let closes = 0;
      const watch = startWatch(
        transport,
        { reconnectBaseMs: 1 },
        {
          onError: (e, i) => errors.push([e, i.willRetry]),
          onClose: () => {
            closes++;
          },
        },
      );
      const keys: string[] = [];
      const thrown = await (async () => {
        for await (const event of watch) keys.push(event.key);
      })().catch((e: unknown) => e);
      await watch.closed;
      await settle();
      expect(keys).toEqual(['a']);
      expect(thrown).toBeInstanceOf(Ctor);
      expect((thrown as KvError).code).toBe(code);
      expect((thrown as KvError).status).toBe(status);
      expect((thrown as KvError).message).toBe(`${code} happened`);
      expect(errors).toEqual([[thrown, false]]);
      expect(closes).toBe(1);
      expect(calls).toHaveLength(1);
    },
  );

  it('maps an error event with an unknown code or unreadable data to a 500', async () => {
    for (const sse of [errorEvent('brand_new_code'), 'event: error\ndata: not json\n\n']) {
      const { transport } = scriptedWatch([{ sse }]);
      const errors: KvError[] = [];
      const watch = startWatch(transport, {}, { onUpdate: () => {}, onError: (e) => errors.push(e) });
      await watch.closed;
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(ServerError);
      expect(errors[0]?.status).toBe(500);
    }
  });

  it('ends on a 4xx answer to the request with that error', async () => {
    const { transport, calls } = scriptedWatch([
      { status: 410, body: { error: { code: 'revision_compacted', message: 'too old' } } },
    ]);
    const errors: Array<[KvError, boolean]> = [];
    const watch = startWatch(
      transport,
      { fromRevision: 1, reconnectBaseMs: 1 },
      { onUpdate: () => {}, onError: (e, i) => errors.push([e, i.willRetry]) },
    );
    await watch.closed;
    await settle();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[0]).toBeInstanceOf(RevisionCompactedError);
    expect(errors[0]?.[1]).toBe(false);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url.searchParams.get('fromRevision')).toBe('1');
  });

  it('reports a network failure as a NetworkError that will be retried', async () => {
    const { transport } = scriptedWatch([{ fail: new TypeError('fetch failed') }, { sse: '', hold: true }]);
    const errors: Array<[KvError, boolean]> = [];
    const watch = startWatch(
      transport,
      { reconnectBaseMs: 1 },
      { onUpdate: () => {}, onError: (e, i) => errors.push([e, i.willRetry]) },
    );
    while (errors.length < 1) await settle();
    watch.stop();
    await watch.closed;
    expect(errors[0]?.[0]).toBeInstanceOf(NetworkError);
    expect(errors[0]?.[1]).toBe(true);
  });
});

/**
 * The client side of watch (see "Watch"): opens `GET /v1/stores/{store}/watch`, parses the Server-Sent
 * Events, and reconnects with backoff after a network failure, resuming with the `fromRevision` query
 * parameter set to the last revision it saw (the server also accepts the `Last-Event-ID` header; this
 * client does not send it), so the consumer gets every write once, in order, with no gap
 * (docs/protocol.md "Watch"). Used by `@kv/node` and `@kv/browser` through the shared client; works wherever `fetch`
 * streams response bodies.
 *
 * @module
 */
import { base64ToBytes, decodeValue } from './encoding.js';
import {
  ERROR_CODES,
  errorFromWire,
  isKvError,
  type KvError,
  type KvErrorCode,
  NetworkError,
} from './errors.js';
import { HEADERS, type WireEntry } from './protocol.js';
import { parseSse } from './sse.js';
import type { WatchEvent, WatchOptions } from './types.js';

/** Callbacks accepted by `watch` (Ironflow's `{ onUpdate, onError, onClose }`). */
export interface WatchCallbacks<T = unknown> {
  /** Called for every event, in order. */
  onUpdate?: (event: WatchEvent<T>) => void;
  /** Called with a fatal error (the watch then closes) or, with `willRetry: true`, a transient one. */
  onError?: (error: KvError, info: { willRetry: boolean }) => void;
  /** Called once when the watch ends (stopped, aborted or failed). */
  onClose?: () => void;
}

/** Options of a watch subscription: the filter/resume options plus client-side behaviour. */
export interface WatchSubscriptionOptions extends WatchOptions {
  /** Stops the watch when aborted. */
  signal?: AbortSignal;
  /**
   * First reconnect delay in ms; doubles per further attempt that delivers nothing. Each delay is
   * jittered to 50-100% of its value. A connection that delivered a change reconnects at once.
   * @default 250
   * @example { reconnectBaseMs: 1_000 }
   */
  reconnectBaseMs?: number;
  /**
   * Longest reconnect delay in ms (before jitter).
   * @default 10000
   * @example { reconnectMaxMs: 30_000 }
   */
  reconnectMaxMs?: number;
  /** Events buffered for a slow async-iterator consumer before the client stops reading the stream. @default 256 */
  bufferSize?: number;
}

/** A running watch: an async iterator of events, with `stop()`. */
export interface WatchSubscription<T = unknown> extends AsyncIterable<WatchEvent<T>> {
  /** Ends the watch; pending iteration finishes. Safe to call twice. */
  stop(): void;
  /** Revision of the last change delivered (or the `ready` revision), the point a reconnect resumes after. */
  readonly lastRevision: number | undefined;
  /** Resolves when the watch has ended (rejects never; errors go to `onError` / the iterator). */
  readonly closed: Promise<void>;
}

/** What the watcher needs from the HTTP client. */
export interface WatchTransport {
  /** Absolute URL of the watch route (without query). */
  url: string;
  /** `fetch` to use (injected or global). */
  fetch: typeof fetch;
  /** Headers to send (Authorization, ...). */
  headers: Record<string, string>;
}

type WireWatchEvent = WireEntry & { type: WatchEvent['type']; store: string };

function decodeEvent<T>(wire: WireWatchEvent): WatchEvent<T> {
  const { value, ...meta } = wire;
  const decoded =
    value === undefined ? undefined : (decodeValue(base64ToBytes(value), wire.contentType) as T);
  return { ...meta, metadata: meta.metadata as WatchEvent['metadata'], value: decoded };
}

/**
 * The error of an `error` event (`data: {"error": {code, message, details}}`): the class and status
 * come from the wire code through the error table ({@link ERROR_CODES}), e.g. `revision_compacted` ->
 * `RevisionCompactedError` 410, `unauthenticated` -> `UnauthenticatedError` 401. An unknown code or
 * unreadable data is a `ServerError` 500.
 */
function streamError(data: string): KvError {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    body = undefined;
  }
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  const status =
    typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? ERROR_CODES[code as KvErrorCode] : 500;
  return errorFromWire(status, body);
}

/**
 * Starts a watch. Fatal errors (4xx: unknown store, bad options, 401/403, 410 `revision_compacted`, or
 * an `error` event in the stream, whose class and status follow its code) end it; network failures,
 * 429, 5xx and dropped streams reconnect with exponential backoff, sending `fromRevision` =
 * {@link WatchSubscription.lastRevision}. `options.signal`, {@link WatchSubscription.stop} and leaving a
 * `for await` loop end it without a reconnect; `onClose` is then called once.
 *
 * @param transport - the watch route's URL, `fetch` and headers
 * @param options - filters, resume point, `signal`, reconnect delays (ms) and iterator buffer size
 * @param callbacks - `onUpdate` (when given, events go there instead of the iterator), `onError`,
 *   `onClose`
 * @returns the running subscription; it never throws synchronously, errors go to `onError` and the
 *   iterator
 */
export function startWatch<T = unknown>(
  transport: WatchTransport,
  options: WatchSubscriptionOptions = {},
  callbacks: WatchCallbacks<T> = {},
): WatchSubscription<T> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) controller.abort();
  const bufferSize = options.bufferSize ?? 256;
  const queue: WatchEvent<T>[] = [];
  let lastRevision: number | undefined = options.fromRevision;
  let failure: KvError | undefined;
  let finished = false;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const iterate = callbacks.onUpdate === undefined;

  const notifyConsumer = (): void => {
    wakeConsumer?.();
    wakeConsumer = undefined;
  };

  const deliver = async (event: WatchEvent<T>): Promise<void> => {
    if (!iterate) {
      callbacks.onUpdate?.(event);
      return;
    }
    queue.push(event);
    notifyConsumer();
    while (queue.length >= bufferSize && !controller.signal.aborted) {
      await new Promise<void>((resolve) => {
        wakeProducer = resolve;
      });
    }
  };

  const connect = async (): Promise<'ended' | 'retry'> => {
    const url = new URL(transport.url);
    if (options.match !== undefined) url.searchParams.set('match', options.match);
    if (options.prefix !== undefined) url.searchParams.set('prefix', options.prefix);
    if (options.key !== undefined) url.searchParams.set('key', options.key);
    const headers: Record<string, string> = { ...transport.headers, accept: 'text/event-stream' };
    if (lastRevision !== undefined) {
      url.searchParams.set('fromRevision', String(lastRevision));
    } else {
      if (options.includeHistory) url.searchParams.set('includeHistory', 'true');
      if (options.updatesOnly) url.searchParams.set('updatesOnly', 'true');
    }
    // Resume events belong to the first connection only: a reconnect continues the change stream.
    if (options.resume && lastRevision === options.fromRevision) url.searchParams.set('resume', 'true');
    let response: Response;
    try {
      response = await transport.fetch(url, { headers, signal: controller.signal });
    } catch (cause) {
      if (controller.signal.aborted) return 'ended';
      throw new NetworkError('Watch connection failed', { cause });
    }
    if (!response.ok || !response.body) {
      const body: unknown = await response.json().catch(() => undefined);
      const error = errorFromWire(response.status, body, {
        requestId: response.headers.get(HEADERS.requestId) ?? undefined,
      });
      if (response.status >= 500 || response.status === 429) throw error;
      failure = error;
      return 'ended';
    }
    try {
      for await (const message of parseSse(response.body)) {
        if (message.event === 'error') {
          failure = streamError(message.data);
          return 'ended';
        }
        if (message.event === 'ready') {
          if (message.id !== undefined) lastRevision = Number(message.id);
          continue;
        }
        const wire = JSON.parse(message.data) as WireWatchEvent;
        await deliver(decodeEvent<T>(wire));
        if (message.id !== undefined) lastRevision = Number(message.id);
        if (controller.signal.aborted) return 'ended';
      }
    } catch (cause) {
      if (controller.signal.aborted) return 'ended';
      throw new NetworkError('Watch stream interrupted', { cause });
    }
    return controller.signal.aborted ? 'ended' : 'retry';
  };

  const run = async (): Promise<void> => {
    let attempt = 0;
    const base = options.reconnectBaseMs ?? 250;
    const max = options.reconnectMaxMs ?? 10_000;
    while (!controller.signal.aborted) {
      let outcome: 'ended' | 'retry';
      const before = lastRevision;
      try {
        outcome = await connect();
      } catch (error) {
        const kvError = isKvError(error) ? error : new NetworkError('Watch failed', { cause: error });
        callbacks.onError?.(kvError, { willRetry: true });
        outcome = 'retry';
      }
      if (outcome === 'ended') break;
      attempt = lastRevision !== before ? 0 : attempt + 1;
      const delayMs =
        attempt === 0 ? 0 : Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      // One abort listener per wait, removed when the wait ends (reconnects must not pile them up).
      await new Promise<void>((resolve) => {
        const onAbortWait = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          controller.signal.removeEventListener('abort', onAbortWait);
          resolve();
        }, delayMs);
        controller.signal.addEventListener('abort', onAbortWait, { once: true });
      });
    }
    finished = true;
    options.signal?.removeEventListener('abort', onAbort);
    if (failure) callbacks.onError?.(failure, { willRetry: false });
    callbacks.onClose?.();
    notifyConsumer();
  };

  const closed = run();

  return {
    stop() {
      controller.abort();
      wakeProducer?.();
    },
    get lastRevision() {
      return lastRevision;
    },
    closed,
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const next = queue.shift();
          if (next !== undefined) {
            wakeProducer?.();
            wakeProducer = undefined;
            yield next;
            continue;
          }
          if (finished) {
            if (failure) throw failure;
            return;
          }
          await new Promise<void>((resolve) => {
            wakeConsumer = resolve;
          });
        }
      } finally {
        controller.abort();
        wakeProducer?.();
      }
    },
  };
}

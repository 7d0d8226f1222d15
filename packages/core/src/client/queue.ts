/**
 * The queue methods of the store handle (docs/protocol.md "Queues"; Deno KV `enqueue` / `listenQueue`,
 * over the network): `enqueue`, `listenQueue` (the lease -> handle -> ack/nack loop, extending each
 * running handler's lease as SQS consumers do with `ChangeMessageVisibility`) and `queueStats`.
 * Internal; the public shapes are in `./types.ts`.
 *
 * @module
 */
import { base64ToBytes, encodeValue } from '../encoding.js';
import {
  isKvError,
  type KvError,
  PayloadTooLargeError,
  RateLimitedError,
  ValidationError,
} from '../errors.js';
import { LIMITS } from '../limits.js';
import {
  routes,
  type WireEnqueueBody,
  type WireEnqueueResponse,
  type WireLeasedMessage,
  type WireLeaseResponse,
  type WireQueueStats,
} from '../protocol.js';
import {
  DEFAULT_VISIBILITY_TIMEOUT_MS,
  validateBackoffSchedule,
  validateDelayMs,
  validateKeysIfUndelivered,
  validateVisibilityTimeoutMs,
} from '../queue.js';
import type { Transport } from './transport.js';
import type {
  EnqueueOptions,
  EnqueueResult,
  KvBulkValue,
  KvValue,
  ListenQueueOptions,
  QueueHandler,
  QueueStats,
  StoreHandle,
} from './types.js';
import { decode, isBlob, isReadableStream, toBase64 } from './values.js';

/**
 * How long one lease request of `listenQueue` waits on the server for a message, in ms. Below common
 * proxy idle timeouts (30-60 s); the request's own timeout is the client's `timeoutMs` on top of it.
 */
export const LISTEN_WAIT_MS = 20_000;
/** First and longest pause of `listenQueue` after a failed lease request, in ms (doubling in between). */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

/**
 * Checks an enqueue and builds its JSON body: the value encoded as `set` encodes it (a `Blob` read,
 * a stream refused), at most 64 KiB, and the checked options.
 *
 * @throws {ValidationError} a value that cannot be encoded, or a bad option (`details.field` names it)
 * @throws {PayloadTooLargeError} a value over 64 KiB
 */
export async function prepareEnqueue(
  value: KvBulkValue,
  options: EnqueueOptions = {},
): Promise<WireEnqueueBody> {
  let bytes: Uint8Array;
  let contentType: string;
  if (isReadableStream(value)) {
    throw new ValidationError('A queue message cannot be a stream; pass bytes, text or JSON', {
      details: { field: 'value', reason: 'type' },
    });
  }
  if (isBlob(value)) {
    bytes = new Uint8Array(await value.arrayBuffer());
    contentType = options.contentType ?? (value.type || 'application/octet-stream');
  } else {
    ({ bytes, contentType } = encodeValue(value, options.contentType));
  }
  if (bytes.byteLength > LIMITS.maxQueueValueBytes) {
    throw new PayloadTooLargeError(
      `A queue message is at most ${LIMITS.maxQueueValueBytes} bytes; this one is ${bytes.byteLength}`,
      { details: { field: 'value', limitBytes: LIMITS.maxQueueValueBytes } },
    );
  }
  const body: WireEnqueueBody = { value: toBase64(bytes), contentType };
  if (options.delayMs !== undefined) body.delayMs = validateDelayMs(options.delayMs);
  if (options.keysIfUndelivered !== undefined)
    body.keysIfUndelivered = validateKeysIfUndelivered(options.keysIfUndelivered);
  if (options.backoffScheduleMs !== undefined)
    body.backoffScheduleMs = validateBackoffSchedule(options.backoffScheduleMs);
  return body;
}

/**
 * Whether a failed lease request is worth repeating: network, timeout, 408, 429 and 5xx, but not 501
 * (`not_implemented`: a server whose storage has no queue answers it every time).
 */
function isTransient(error: unknown): boolean {
  if (!isKvError(error)) return false;
  const { status } = error;
  return status === 0 || status === 408 || status === 429 || (status >= 500 && status !== 501);
}

/** Whether `signal` has aborted (read through a call: the compiler would narrow a property read). */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Lets a timer not keep the process alive where the runtime allows it (Node's `unref`). */
function unref(timer: unknown): void {
  const t = timer as { unref?: () => void } | null;
  if (t !== null && typeof t === 'object' && typeof t.unref === 'function') t.unref();
}

function checkConcurrency(value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > LIMITS.maxLeaseLimit
  ) {
    throw new ValidationError(`\`concurrency\` must be an integer from 1 to ${LIMITS.maxLeaseLimit}`, {
      details: { field: 'concurrency', reason: 'out_of_range', min: 1, max: LIMITS.maxLeaseLimit },
    });
  }
  return value;
}

/** The queue methods of the handle on store `name`. */
export function createQueueMethods(
  transport: Transport,
  name: string,
): Pick<StoreHandle, 'enqueue' | 'listenQueue' | 'queueStats'> {
  const { send, guard } = transport;

  /** Acknowledges (`ack`) or gives back (`nack`) a delivery; answers the error that must end listening. */
  async function settle(
    message: WireLeasedMessage,
    outcome: 'ack' | 'nack',
    reason?: string,
  ): Promise<KvError | undefined> {
    const path = outcome === 'ack' ? routes.queueAck(name, message.id) : routes.queueNack(name, message.id);
    const body: { leaseId: string; error?: string } = { leaseId: message.leaseId };
    if (reason !== undefined) body.error = reason.slice(0, 1000);
    try {
      // Settling the same lease twice is harmless (the second answers 204 or 404), so it is retried.
      const response = await send({ method: 'POST', path, json: body, retry: 'read' });
      await response.arrayBuffer();
      return undefined;
    } catch (error) {
      // A lease that ended (404 not_found): the message was or will be delivered again; at least once.
      if (isKvError(error) && error.code === 'not_found') return undefined;
      if (isTransient(error)) return undefined;
      return error as KvError;
    }
  }

  /**
   * Keeps extending `message`'s lease, every half `visibilityTimeoutMs` (or of the 30 s default), until the
   * returned stop function is called (the handler settled). A 404 (the lease was lost: leased again after
   * a pause longer than the lease) or any other lasting error ends the extensions silently (the ack will
   * answer 404 too); a transient failure is left to the next tick. Its timers never keep a process alive.
   */
  function keepLease(message: WireLeasedMessage, visibilityTimeoutMs: number | undefined): () => void {
    const periodMs = (visibilityTimeoutMs ?? DEFAULT_VISIBILITY_TIMEOUT_MS) / 2;
    const request = new AbortController();
    const body: { leaseId: string; visibilityTimeoutMs?: number } = { leaseId: message.leaseId };
    if (visibilityTimeoutMs !== undefined) body.visibilityTimeoutMs = visibilityTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const schedule = (delayMs: number): void => {
      if (stopped) return;
      timer = setTimeout(tick, delayMs);
      unref(timer);
    };
    const tick = async (): Promise<void> => {
      const started = Date.now();
      try {
        const response = await send({
          method: 'POST',
          path: routes.queueExtend(name, message.id),
          json: body,
          // The next tick is the retry; a resent extension could land after the ack.
          retry: 'never',
          signal: request.signal,
        });
        await response.arrayBuffer();
      } catch (error) {
        if (stopped || !isTransient(error)) return;
      }
      // Ticks keep their period from their start, without overlapping.
      schedule(Math.max(0, periodMs - (Date.now() - started)));
    };
    schedule(periodMs);
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      request.abort();
    };
  }

  async function listenQueue<T = KvValue>(
    handler: QueueHandler<T>,
    options: ListenQueueOptions = {},
  ): Promise<void> {
    if (typeof handler !== 'function') {
      throw transport.fail(
        new ValidationError('`handler` must be a function', {
          details: { field: 'handler', reason: 'type' },
        }),
      );
    }
    let concurrency: number;
    let visibilityTimeoutMs: number | undefined;
    try {
      concurrency = checkConcurrency(options.concurrency ?? 1);
      if (options.visibilityTimeoutMs !== undefined)
        visibilityTimeoutMs = validateVisibilityTimeoutMs(options.visibilityTimeoutMs);
    } catch (error) {
      throw transport.fail(error);
    }
    const signal = options.signal;
    const running = new Set<Promise<void>>();
    let fatal: KvError | undefined;
    /** Wakes the loop when a handler finishes (a slot is free) or listening must end. */
    let wake: (() => void) | undefined;
    const onAbort = (): void => wake?.();
    signal?.addEventListener('abort', onAbort);

    const run = async (message: WireLeasedMessage): Promise<void> => {
      let failed = false;
      let reason: string | undefined;
      // The handler may run longer than the lease: it is extended until the handler settles.
      const stopExtending = keepLease(message, visibilityTimeoutMs);
      try {
        const value = decode(base64ToBytes(message.value), message.contentType) as T;
        await handler(value, { id: message.id, attempt: message.attempt, enqueuedAt: message.enqueuedAt });
      } catch (error) {
        failed = true;
        reason = error instanceof Error ? error.message : String(error);
      } finally {
        stopExtending();
      }
      const error = await settle(message, failed ? 'nack' : 'ack', reason);
      if (error !== undefined && fatal === undefined) fatal = error;
    };

    let retryMs = 0;
    try {
      while (signal?.aborted !== true && fatal === undefined) {
        const free = concurrency - running.size;
        if (free <= 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        let messages: WireLeasedMessage[];
        // One controller per request, linked to `signal` while the request runs: what the HTTP layer
        // hangs on a request's signal goes away with it, not onto the caller's long-lived signal.
        const request = new AbortController();
        const forward = (): void => request.abort();
        signal?.addEventListener('abort', forward, { once: true });
        try {
          const body: { limit: number; waitMs: number; visibilityTimeoutMs?: number } = {
            limit: free,
            waitMs: LISTEN_WAIT_MS,
          };
          if (visibilityTimeoutMs !== undefined) body.visibilityTimeoutMs = visibilityTimeoutMs;
          const response = await send({
            method: 'POST',
            path: routes.queueLease(name),
            json: body,
            // A lease is not repeatable as is (it leases); this loop asks again instead.
            retry: 'never',
            waitMs: LISTEN_WAIT_MS,
            signal: request.signal,
          });
          messages = ((await response.json()) as WireLeaseResponse).messages;
          retryMs = 0;
        } catch (error) {
          if (isAborted(signal)) break;
          if (!isTransient(error)) {
            fatal = error as KvError;
            break;
          }
          const after = error instanceof RateLimitedError ? error.retryAfterMs : undefined;
          retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, retryMs * 2));
          await pause(after ?? retryMs, signal);
          continue;
        } finally {
          signal?.removeEventListener('abort', forward);
        }
        for (const message of messages) {
          const task = run(message).finally(() => {
            running.delete(task);
            wake?.();
          });
          running.add(task);
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Handlers already running finish and are settled before the promise resolves.
      await Promise.all(running);
    }
    if (fatal !== undefined) throw transport.fail(fatal);
  }

  return {
    enqueue: (value, options) =>
      guard(async (): Promise<EnqueueResult> => {
        const body = await prepareEnqueue(value, options);
        const response = await send({
          method: 'POST',
          path: routes.queue(name),
          json: body,
          retry: 'idempotency-key',
        });
        return { id: ((await response.json()) as WireEnqueueResponse).id };
      }),

    listenQueue: listenQueue as StoreHandle['listenQueue'],

    queueStats: () =>
      guard(async (): Promise<QueueStats> => {
        const response = await send({ method: 'GET', path: routes.queue(name), retry: 'read' });
        const wire = (await response.json()) as WireQueueStats;
        return { ready: wire.ready, delayed: wire.delayed, inFlight: wire.inFlight };
      }),
  };
}

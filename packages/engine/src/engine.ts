/**
 * `createEngine`: the whole kv protocol (docs/protocol.md) as one request pipeline (`pipeline.ts`) over
 * a {@link Storage}, with two transports: `engine.handle` (a plain request in, a plain result out; the
 * Node server's `node:http` transport calls it) and `engine.fetch` (Web `Request -> Response`: the msw
 * mock, edge runtimes). The Node server and the mock run exactly this code (docs/architecture.md).
 *
 * The pipeline holds the cross-cutting behaviour (request ids, authentication, routing from core's
 * table, body limits, validation, error bodies); this module wires the services (storage, watch hub,
 * idempotency guard, cursors) and the expiry sweeper.
 *
 * @module
 */
import { LIMITS } from '@kv/core/protocol';
import type { TokenStore } from './auth.js';
import { commit as commitTo, sweepExpired as sweepRound } from './commit.js';
import type { Authorize, EngineContext } from './context.js';
import { CursorSealer } from './cursor.js';
import { handlerTable } from './handlers/index.js';
import { errorResult, pickRequestId } from './http.js';
import { IdempotencyGuard } from './idempotency.js';
import { createPipeline, type EngineRequest, type EngineResult } from './pipeline.js';
import { QueueService } from './queue.js';
import { WindowCounter } from './rate-limit.js';
import type { Storage } from './storage.js';
import { WatchHub, type WatchOptions } from './watch.js';
import { requestFromFetch, responseFromResult } from './web.js';

export type { Grant } from './access.js';
export type { Authorize, AuthorizeContext, EngineAction, HookRequest } from './context.js';
export type {
  EngineRequest,
  EngineResult,
  RequestContext,
  ResultBody,
} from './pipeline.js';
export { requestFromFetch, responseFromResult } from './web.js';

/** Options of {@link createEngine}. */
export interface EngineOptions {
  /** Where data lives (`MemoryStorage`, `SqliteStorage`, PostgreSQL). */
  storage: Storage;
  /**
   * "Now", in epoch milliseconds; tests inject a fake clock to drive expiry.
   * @default Date.now
   * @example createEngine({ storage, clock: () => fakeNow })
   */
  clock?: () => number;
  /**
   * Server-wide cap on a value's size, in bytes. A store's own `maxValueBytes` cannot exceed it.
   * @default 26214400 (25 MiB, LIMITS.defaultMaxValueBytes)
   */
  maxValueBytes?: number;
  /**
   * Largest request body of a raw write or a small JSON route (store settings, expiry), in bytes.
   * Bodies over it are refused with 413 without being buffered whole.
   * @default maxValueBytes + 1 MiB
   */
  maxBodyBytes?: number;
  /**
   * Largest JSON body of a bulk call or atomic commit, in bytes (10,000 base64 values need room).
   * @default 67108864 (64 MiB)
   */
  maxJsonBodyBytes?: number;
  /**
   * New entry ids (opaque strings, stable for the life of a key; AntiRaid `id`).
   * @default crypto.randomUUID
   */
  generateId?: () => string;
  /**
   * Entries expired per sweep round (one `expiredEntries` read, then a transaction per store) by
   * {@link Engine.sweepExpired}.
   * @default 1000
   */
  sweepBatchSize?: number;
  /**
   * Access control with tokens (docs/security.md). When given, every route but `/healthz`,
   * `/openapi.json` and signed URLs needs `Authorization: Bearer <token>` for a live token of
   * `auth.tokens` (401 `unauthenticated` otherwise) whose capabilities allow the request (403
   * `forbidden` otherwise); `/v1/tokens` manages the tokens. Without it every request is allowed (tests,
   * the mock without a token); signed URLs are verified either way.
   * @default undefined (no access control)
   * @example createEngine({ storage, auth: { tokens: new MemoryTokenStore() } })
   */
  auth?: { tokens: TokenStore };
  /**
   * An extra access-control hook, called before any work with the action, store, key(s), scopes and
   * principal of the request, before the engine's capability checks; it can only refuse more.
   * @default allow everything
   */
  authorize?: Authorize;
  /**
   * Called with every unexpected (non-`KvError`) error, which the client sees as a 500 `internal` with a
   * generic message, and with sweeper failures. Use it to log.
   * @default ignore
   */
  onError?: (error: unknown, req: EngineRequest | undefined) => void;
  /**
   * The public base URL the `url` of a signed URL is built from (docs/security.md "Signed URLs"): an
   * absolute `http`/`https` URL, optionally with the path prefix under which a proxy serves the engine
   * (`https://example.com/kv` gives `https://example.com/kv/v1/...`). Never taken from the request's
   * `Host` header, which a client chooses. A function is read at each signing (a server learns its port
   * once listening).
   * @default 'http://localhost'
   * @example createEngine({ storage, publicUrl: 'https://kv.example.com' })
   * @throws {TypeError} from {@link createEngine} (or at signing, for a function) when not such a URL
   */
  publicUrl?: string | (() => string);
  /**
   * Watch tuning: heartbeat interval, cross-instance poll interval, batch size (docs/protocol.md "Watch").
   * @default { heartbeatMs: 15000, pollIntervalMs: 1000, batchSize: 256 }
   */
  watch?: WatchOptions;
  /**
   * Queue tuning: the longest a lease long-poll waits (a larger `waitMs` is cut to it: a server keeps it
   * below its socket idle timeout) and, on a storage with change hints, how often a waiting lease looks
   * again in case a hint was lost (docs/protocol.md "Queues").
   * @default { maxWaitMs: 30000, pollIntervalMs: the watch poll interval (1000) }
   */
  queue?: { maxWaitMs?: number; pollIntervalMs?: number };
}

/** A running engine: its two transports and its services. */
export interface Engine {
  /**
   * Answers one request of the protocol, given as a plain {@link EngineRequest} (the Node server's
   * transport builds it from `IncomingMessage`). Never rejects: failures are JSON error results.
   */
  handle(req: EngineRequest): Promise<EngineResult>;
  /** Answers one Web `Request` (through {@link Engine.handle}). Never rejects. */
  fetch(req: Request): Promise<Response>;
  /** The storage the engine runs on. */
  storage: Storage;
  /**
   * Expires every entry whose `expiresAt <= nowMs`, in batches of `sweepBatchSize`, each as an `expire`
   * write (revision bump, tombstone in history, change-log row for watchers).
   *
   * @param nowMs - "now", epoch ms @default the engine clock
   * @returns how many entries were expired
   */
  sweepExpired(nowMs?: number): Promise<number>;
  /**
   * Runs {@link Engine.sweepExpired} every `intervalMs` (one run at a time). The timer is `unref`'d where
   * the runtime supports it, so it never keeps a Node process alive. Calling it again restarts the timer.
   *
   * @param intervalMs - period in ms @default 1000
   */
  startSweeper(intervalMs?: number): void;
  /** Stops the sweeper, ends open watch streams and queue long-polls, waits for a running sweep, then closes the storage. */
  close(): Promise<void>;
}

/** Default of {@link EngineOptions.maxJsonBodyBytes}: 64 MiB. */
export const DEFAULT_MAX_JSON_BODY_BYTES: number = 64 * 1024 * 1024;

/** Default of {@link EngineOptions.publicUrl}. */
export const DEFAULT_PUBLIC_URL = 'http://localhost';

/**
 * Normalizes a public base URL: absolute `http`/`https`, no query or fragment, no trailing `/`.
 *
 * @throws {TypeError} otherwise
 */
function normalizePublicUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`publicUrl must be an absolute http(s) URL, got "${text}"`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new TypeError(`publicUrl must be an http(s) URL without query or fragment, got "${text}"`);
  }
  return url.href.replace(/\/+$/, '');
}

/** {@link EngineOptions.publicUrl} as a getter of the normalized base (a string is checked at once). */
function publicUrlOf(option: string | (() => string)): () => string {
  if (typeof option === 'function') return () => normalizePublicUrl(option());
  const base = normalizePublicUrl(option);
  return () => base;
}

/**
 * Creates the engine.
 *
 * @example
 * const engine = createEngine({ storage: new MemoryStorage() });
 * const res = await engine.fetch(new Request('http://kv.test/v1/stores', { method: 'POST',
 *   headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'orders' }) }));
 */
export function createEngine(options: EngineOptions): Engine {
  // Every commit and sweep through the engine wakes the watchers of the store it touched: ctx.commit
  // and sweepExpired below are the engine's only writes (the storage is never wrapped).
  const storage = options.storage;
  const watchHub = new WatchHub(storage, options.watch?.pollIntervalMs);
  const commit: EngineContext['commit'] = async (store, request) => {
    const result = await commitTo(storage, store, request);
    if (result.ok) watchHub.notify(store);
    return result;
  };
  const clock = options.clock ?? Date.now;
  const maxValueBytes = options.maxValueBytes ?? LIMITS.defaultMaxValueBytes;
  const onError = options.onError ?? (() => {});
  const generateId = options.generateId ?? (() => crypto.randomUUID());
  const queue = new QueueService({
    storage,
    clock,
    generateId,
    // A dead letter writes entries through the commit rules: their watchers wake as for any commit.
    onEntriesWritten: (store) => watchHub.notify(store),
    maxWaitMs: options.queue?.maxWaitMs,
    pollIntervalMs: options.queue?.pollIntervalMs ?? options.watch?.pollIntervalMs,
  });
  const ctx: EngineContext = {
    storage,
    commit,
    clock,
    maxValueBytes,
    maxBodyBytes: options.maxBodyBytes ?? maxValueBytes + 1024 * 1024,
    maxJsonBodyBytes: options.maxJsonBodyBytes ?? DEFAULT_MAX_JSON_BODY_BYTES,
    generateId,
    authorize: options.authorize,
    tokens: options.auth?.tokens,
    requestCounter: new WindowCounter(),
    idempotency: new IdempotencyGuard(storage, clock),
    watchHub,
    watchOptions: options.watch ?? {},
    queue,
    cursors: new CursorSealer(),
    publicUrl: publicUrlOf(options.publicUrl ?? DEFAULT_PUBLIC_URL),
  };
  const sweepBatchSize = options.sweepBatchSize ?? 1000;

  const handle = createPipeline(ctx, handlerTable(ctx), onError);

  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<unknown> | undefined;

  const sweepExpired = async (nowMs?: number): Promise<number> => {
    const now = nowMs ?? clock();
    let total = 0;
    // Bounded: each round removes what it reports, so this ends; the cap guards a faulty storage.
    for (let round = 0; round < 100_000; round++) {
      const { expired, stores } = await sweepRound(storage, now, sweepBatchSize);
      for (const store of stores) watchHub.notify(store);
      total += expired;
      if (expired < sweepBatchSize) break;
    }
    return total;
  };

  return {
    storage,
    handle,
    fetch: async (req) => {
      try {
        return responseFromResult(await handle(requestFromFetch(req)));
      } catch (error) {
        // Only a Request whose parts cannot be read gets here.
        onError(error, undefined);
        const result = errorResult(error);
        result.headers['kv-request-id'] = pickRequestId(req.headers.get('kv-request-id'));
        return responseFromResult(result);
      }
    },
    sweepExpired,
    startSweeper(intervalMs = 1000) {
      if (timer !== undefined) clearInterval(timer);
      timer = setInterval(() => {
        if (running !== undefined) return;
        running = sweepExpired()
          .catch((error: unknown) => onError(error, undefined))
          .finally(() => {
            running = undefined;
          });
      }, intervalMs);
      const t = timer as unknown as { unref?: unknown };
      if (typeof t === 'object' && t !== null && typeof t.unref === 'function') (t.unref as () => void)();
    },
    async close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      watchHub.close();
      queue.close();
      await running;
      await storage.close();
    },
  };
}
